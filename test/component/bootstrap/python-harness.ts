/**
 * Runs Kindling's python bootstrap as a plain child process against a fake Runtime API (node:http on
 * 127.0.0.1:0, or on a Unix socket) that hands out queued events on GET /next and records every POST.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import { listenOn, type Transport } from './runtime-api-transport.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const RUNTIME_DIR = `${ROOT}src/environments/bootstrap/python`;
export const FIXTURES = `${ROOT}test/fixtures/functions/python`;
const PYTHON = '/usr/bin/python3.11';

export interface QueuedEvent {
  requestId: string;
  payload?: string;
  /** Extra or replacing Lambda-Runtime-* headers (Deadline, Trace-Id, Client-Context…). */
  headers?: Record<string, string>;
}

export interface Posted {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface FakeRuntimeApi {
  /** The variables that lead a runtime to this server (AWS_LAMBDA_RUNTIME_API, _KINDLING_RUNTIME_API_SOCKET). */
  readonly env: Record<string, string>;
  /** How many GET /next requests arrived so far. */
  readonly nextCount: number;
  /** How many connections the runtime opened so far. */
  readonly connections: number;
  enqueue(event: QueuedEvent): void;
  /** The next POST not yet taken, in arrival order. */
  nextPost(): Promise<Posted>;
  /** Ends the socket after each answered GET /next without saying so, as a keep-alive timeout would. */
  dropConnectionsAfterNext: boolean;
  /** Stops listening and ends every connection (a waiting GET /next included), as a platform going away. */
  close(): Promise<void>;
}

export const FUNCTION_ARN = 'arn:aws:lambda:us-east-1:123456789012:function:py-fn';

export async function startFakeRuntimeApi(t: TestContext, transport: Transport = 'tcp'): Promise<FakeRuntimeApi> {
  const events: QueuedEvent[] = [];
  const waiting: ServerResponse[] = [];
  const posts: Posted[] = [];
  const takers: ((p: Posted) => void)[] = [];
  let nextCount = 0;
  let connections = 0;

  const deliver = (res: ServerResponse, event: QueuedEvent): void => {
    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Lambda-Runtime-Aws-Request-Id': event.requestId,
      'Lambda-Runtime-Deadline-Ms': String(Date.now() + 60_000),
      'Lambda-Runtime-Invoked-Function-Arn': FUNCTION_ARN,
      ...event.headers,
    });
    // The server detaches the socket from the response on 'finish', so hold on to it first.
    const socket = res.socket;
    res.end(event.payload ?? '{}');
    if (api.dropConnectionsAfterNext) res.once('finish', () => socket?.destroy());
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'GET' && req.url === '/2018-06-01/runtime/invocation/next') {
        nextCount += 1;
        const event = events.shift();
        if (event) deliver(res, event);
        else waiting.push(res);
        return;
      }
      const post = { path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      res.writeHead(202, { 'Content-Type': 'application/json' }).end('{"status":"OK"}');
      const taker = takers.shift();
      if (taker) taker(post);
      else posts.push(post);
    });
  });
  server.on('connection', () => (connections += 1));
  const endpoint = await listenOn(server, transport);
  const close = async (): Promise<void> => {
    if (server.listening) {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    }
    await endpoint.cleanup();
  };
  t.after(close);

  const api: FakeRuntimeApi = {
    env: endpoint.env,
    close,
    get nextCount() {
      return nextCount;
    },
    get connections() {
      return connections;
    },
    dropConnectionsAfterNext: false,
    enqueue(event) {
      const res = waiting.shift();
      if (res) deliver(res, event);
      else events.push(event);
    },
    nextPost() {
      const post = posts.shift();
      if (post) return Promise.resolve(post);
      return new Promise((resolve) => takers.push(resolve));
    },
  };
  return api;
}

export interface RuntimeProcess {
  readonly pid: number;
  /** Resolves when the process has exited and its output is complete. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
  /** Kills the process (if still running) and returns the complete output. */
  stop(): Promise<{ stdout: string; stderr: string }>;
}

/** Starts the bootstrap with the environment Lambda gives python3.11 functions (LAMBDA_REFERENCE §4.1). */
export function startRuntime(
  t: TestContext,
  options: { api: FakeRuntimeApi; fixture: string; handler: string; env?: Record<string, string>; taskRoot?: string },
): RuntimeProcess {
  const taskRoot = options.taskRoot ?? `${FIXTURES}/${options.fixture}`;
  const child = spawn(PYTHON, ['-u', `${RUNTIME_DIR}/bootstrap.py`], {
    cwd: taskRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      _HANDLER: options.handler,
      AWS_REGION: 'us-east-1',
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_EXECUTION_ENV: 'AWS_Lambda_python3.11',
      AWS_LAMBDA_FUNCTION_NAME: 'py-fn',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '128',
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
      AWS_LAMBDA_LOG_GROUP_NAME: '/aws/lambda/py-fn',
      AWS_LAMBDA_LOG_STREAM_NAME: '2026/01/02/[$LATEST]0123456789abcdef0123456789abcdef',
      ...options.api.env,
      LAMBDA_TASK_ROOT: taskRoot,
      LAMBDA_RUNTIME_DIR: RUNTIME_DIR,
      TZ: ':UTC',
      LANG: 'en_US.UTF-8',
      PATH: '/usr/local/bin:/usr/bin:/bin',
      PYTHONPATH: RUNTIME_DIR,
      ...options.env,
    },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  // 'close' (not 'exit') comes after both pipes ended, so the captured output is complete.
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>(
    (resolve) => child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  const stop = async (): Promise<{ stdout: string; stderr: string }> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    return exited;
  };
  t.after(stop);
  return { pid: child.pid ?? -1, exited, stop };
}

/** The runtime's next POST; fails (with its stderr) instead of hanging if the runtime exits first. */
export function nextPostOf(api: FakeRuntimeApi, runtime: RuntimeProcess): Promise<Posted> {
  const died = runtime.exited.then((r): never => {
    throw new Error(`runtime exited (code ${r.code}, signal ${r.signal}) before posting:\n${r.stderr}${r.stdout}`);
  });
  return Promise.race([api.nextPost(), died]);
}

export function parseJson(text: string): Record<string, unknown> {
  return JSON.parse(text) as Record<string, unknown>;
}
