/**
 * The Lambda Runtime API 2018-06-01, one listener per execution environment (clients split AWS_LAMBDA_RUNTIME_API on
 * ':' and take no path prefix, so environments cannot share one). Plain node:http: four routes and a long poll.
 */
import { chmod, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { BindingGate } from './binding-gate.js';
import { RuntimeApiError } from './errors.js';
import { createRequestListener } from './routes.js';
import { RuntimeSession } from './runtime-session.js';
import type { RuntimeState } from './runtime-state.js';

/** 6 MiB + 100 bytes: Lambda's limit on a buffered response (RIE `MaxPayloadSize`, LAMBDA_REFERENCE §1.5). */
export const DEFAULT_MAX_RESPONSE_BYTES = 6 * 1024 * 1024 + 100;
/** sun_path holds 108 bytes including the terminating NUL. */
const MAX_SOCKET_PATH_BYTES = 107;
/** How long close() lets the "shutting down" replies to waiting /next requests leave before cutting connections. */
const CLOSE_REPLY_GRACE_MS = 1000;

export interface RuntimeApiOptions {
  /** Unix socket (bubblewrap: bridged inside the sandbox) or TCP on 127.0.0.1 (process backend). */
  listen: { socketPath: string } | { port: number }; // port 0 = any free port on 127.0.0.1
  maxResponseBytes?: number; // default 6_291_556 (6 MiB + 100)
  /** Unix socket file mode; default 0o600 (the caller chowns it to the environment's uid). */
  socketMode?: number;
  /**
   * A pre-warmed environment's listener: the runtime first waits at GET /kindling/binding for its function's settings
   * (binding-gate.ts); the runtime endpoints answer 403 until bind().
   */
  binding?: boolean;
  /** Errors of the listener itself after it started (e.g. EMFILE on accept); without it they are ignored. */
  onError?: (error: Error) => void;
}

export interface InvocationRequest {
  requestId: string;
  deadlineMs: number;
  invokedFunctionArn: string;
  payload: Buffer;
  traceId?: string;
  clientContext?: string /* raw JSON */;
  cognitoIdentity?: string /* JSON */;
  tenantId?: string;
}

export type InvocationOutcome =
  | { kind: 'response'; payload: Buffer; contentType?: string }
  | { kind: 'error'; errorType: string; payload: Buffer } // body as the runtime posted it (synthesised from the header when empty)
  | { kind: 'too-large' }; // the runtime posted more than maxResponseBytes and got 413

export type InitOutcome = { kind: 'ready' } | { kind: 'init-error'; errorType: string; payload: Buffer };

export interface RuntimeApi {
  /** 'host:port' for TCP, the socket path for Unix. */
  readonly address: string;
  /** Settles at the runtime's first GET /next ('ready') or its POST /runtime/init/error. Rejects if closed first. */
  readonly initialized: Promise<InitOutcome>;
  /** Hands one invocation to the runtime (immediately if a /next is waiting, else at the next /next) and resolves with
   *  its answer. At most one invocation at a time (a second call while one is open throws). Rejects with
   *  ERR_RUNTIME_API_ABANDONED after abandon(), ERR_RUNTIME_API_CLOSED after close(). */
  invoke(request: InvocationRequest): Promise<InvocationOutcome>;
  /** Whether a GET /next is currently waiting (the runtime is idle). */
  readonly idle: boolean;
  /** The runtime's state (runtime-state.ts), for diagnostics and tests. */
  readonly state: RuntimeState;
  /** Resolves the next time the runtime is idle (waiting in /next); at once if it is. Rejects with
   *  ERR_RUNTIME_API_INIT_FAILED once the runtime reported an init error, ERR_RUNTIME_API_CLOSED after close(). */
  whenIdle(): Promise<void>;
  /** Ends the open invocation without an answer (timeout, runtime died): later answers for its id get 403/400. */
  abandon(): void;
  close(): Promise<void>; // stops listening, ends waiting /next requests, removes the socket file
  /** With options.binding: resolves when the runtime waits for its binding; rejects if closed first. */
  readonly awaitingBinding: Promise<void>;
  /** With options.binding: answers the runtime's binding request with the settings (JSON). Once only. */
  bind(settings: Buffer): void;
}

export async function createRuntimeApi(options: RuntimeApiOptions): Promise<RuntimeApi> {
  const maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const session = new RuntimeSession();
  const gate = options.binding === true ? new BindingGate() : undefined;
  const server = http.createServer(
    {
      // The long poll must outlive a frozen runtime, and a keep-alive connection idles for as long as a handler runs:
      // no timeouts at all. The environment's own timeout governs.
      requestTimeout: 0,
      headersTimeout: 0,
      keepAliveTimeout: 0,
      // Hand-written runtimes (a shell bootstrap over /dev/tcp) may omit Host; Lambda does not insist on it.
      requireHostHeader: false,
      noDelay: true,
    },
    createRequestListener(session, maxResponseBytes, gate),
  );
  const socketPath = 'socketPath' in options.listen ? options.listen.socketPath : undefined;
  if (socketPath !== undefined && Buffer.byteLength(socketPath) > MAX_SOCKET_PATH_BYTES) {
    throw new RuntimeApiError('ERR_RUNTIME_API_LISTEN', `socket path is longer than ${MAX_SOCKET_PATH_BYTES} bytes: ${socketPath}`);
  }
  await listen(server, options.listen);
  server.on('error', (error) => options.onError?.(error));
  let address: string;
  if (socketPath !== undefined) {
    address = socketPath;
    try {
      await chmod(socketPath, options.socketMode ?? 0o600);
    } catch (error) {
      await new Promise((resolve) => server.close(resolve));
      throw new RuntimeApiError('ERR_RUNTIME_API_LISTEN', `cannot set the mode of ${socketPath}`, { cause: error });
    }
  } else {
    address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  }
  return new RuntimeApiServer(server, session, address, socketPath, gate);
}

function listen(server: http.Server, where: RuntimeApiOptions['listen']): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => {
      const place = 'socketPath' in where ? where.socketPath : `127.0.0.1:${where.port}`;
      reject(new RuntimeApiError('ERR_RUNTIME_API_LISTEN', `cannot listen on ${place}: ${error.message}`, { cause: error }));
    };
    server.once('error', onError);
    const listening = (): void => {
      server.off('error', onError);
      resolve();
    };
    if ('socketPath' in where) server.listen(where.socketPath, listening);
    else server.listen(where.port, '127.0.0.1', listening);
  });
}

class RuntimeApiServer implements RuntimeApi {
  readonly #server: http.Server;
  readonly #session: RuntimeSession;
  readonly #socketPath: string | undefined;
  readonly #gate: BindingGate | undefined;
  #closing: Promise<void> | undefined;
  readonly address: string;

  constructor(server: http.Server, session: RuntimeSession, address: string, socketPath: string | undefined, gate: BindingGate | undefined) {
    this.#gate = gate;
    this.#server = server;
    this.#session = session;
    this.address = address;
    this.#socketPath = socketPath;
  }

  get initialized(): Promise<InitOutcome> {
    return this.#session.initialized;
  }

  get idle(): boolean {
    return this.#session.idle;
  }

  get state(): RuntimeState {
    return this.#session.state;
  }

  invoke(request: InvocationRequest): Promise<InvocationOutcome> {
    return this.#session.invoke(request);
  }

  whenIdle(): Promise<void> {
    return this.#session.whenIdle();
  }

  abandon(): void {
    this.#session.abandon();
  }

  get awaitingBinding(): Promise<void> {
    if (!this.#gate) return Promise.reject(new RuntimeApiError('ERR_RUNTIME_API_INVALID_TRANSITION', 'not a pre-warmed listener'));
    return this.#gate.parked;
  }

  bind(settings: Buffer): void {
    if (!this.#gate) throw new RuntimeApiError('ERR_RUNTIME_API_INVALID_TRANSITION', 'not a pre-warmed listener');
    this.#gate.bind(settings);
  }

  close(): Promise<void> {
    return (this.#closing ??= this.#close());
  }

  async #close(): Promise<void> {
    const stopped = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#gate?.close();
    // Waiting /next requests get a 500 (the runtime should exit) before their connections are cut.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.#session.close(),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, CLOSE_REPLY_GRACE_MS);
      }),
    ]);
    clearTimeout(timer);
    this.#server.closeAllConnections();
    await stopped;
    // libuv unlinks the socket file when the server closes; this covers a listener that failed half way.
    if (this.#socketPath !== undefined) await rm(this.#socketPath, { force: true });
  }
}
