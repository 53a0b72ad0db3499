// A Runtime API 2018-06-01 stand-in for bootstrap tests: serves queued events on GET /next (each parked until an event
// is queued) and records what the runtime POSTs (/response, /error, /init/error) with their headers.
import { randomUUID } from 'node:crypto';
import http, { type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import { listenOn, type Endpoint, type Transport } from './runtime-api-transport.js';

export const FAKE_FUNCTION_ARN = 'arn:aws:lambda:us-east-1:000000000000:function:fixture-fn';

export interface Posted {
  kind: 'response' | 'error' | 'init-error';
  requestId?: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export class FakeRuntimeApi {
  nextCalls = 0;
  /** Connections the runtime opened so far. */
  connections = 0;
  readonly posted: Posted[] = [];
  readonly #server = http.createServer((req, res) => this.#route(req, res)).on('connection', () => {
    this.connections += 1;
  });
  readonly #queue: Array<{ id: string; headers: Record<string, string>; body: string }> = [];
  readonly #parked: ServerResponse[] = [];
  readonly #listeners = new Set<() => void>();

  #endpoint: Endpoint | undefined;

  /** Starts listening; resolves with the environment variables that lead a runtime here. */
  async listen(transport: Transport = 'tcp'): Promise<Record<string, string>> {
    this.#endpoint = await listenOn(this.#server, transport);
    return this.#endpoint.env;
  }

  /** Queues an event; resolves with the runtime's answer for it. */
  enqueue(body: string, headers: Record<string, string> = {}): { id: string; answer: Promise<Posted> } {
    const id = randomUUID();
    this.#queue.push({ id, body, headers: { 'lambda-runtime-deadline-ms': String(Date.now() + 30_000), ...headers } });
    this.#serve();
    return { id, answer: this.waitFor((p) => p.requestId === id) };
  }

  waitFor(match: (p: Posted) => boolean): Promise<Posted> {
    return new Promise((resolve) => {
      const check = (): void => {
        const found = this.posted.find(match);
        if (found === undefined) return;
        this.#listeners.delete(check);
        resolve(found);
      };
      this.#listeners.add(check);
      check();
    });
  }

  async close(): Promise<void> {
    if (this.#server.listening) {
      this.#server.closeAllConnections();
      await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    }
    await this.#endpoint?.cleanup();
  }

  #route(req: http.IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '';
    if (req.method === 'GET' && url === '/2018-06-01/runtime/invocation/next') {
      this.nextCalls += 1;
      this.#parked.push(res);
      this.#serve();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      const answer = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/.exec(url);
      if (req.method === 'POST' && answer) {
        this.#record({ kind: answer[2] as 'response' | 'error', requestId: decodeURIComponent(answer[1]!), headers: req.headers, body });
      } else if (req.method === 'POST' && url === '/2018-06-01/runtime/init/error') {
        this.#record({ kind: 'init-error', headers: req.headers, body });
      } else {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(202, { 'content-type': 'application/json' }).end('{"status":"OK"}');
    });
  }

  #record(p: Posted): void {
    this.posted.push(p);
    for (const listener of [...this.#listeners]) listener();
  }

  #serve(): void {
    while (this.#queue.length > 0 && this.#parked.length > 0) {
      const event = this.#queue.shift()!;
      this.#parked.shift()!.writeHead(200, {
        'content-type': 'application/json',
        'lambda-runtime-aws-request-id': event.id,
        'lambda-runtime-invoked-function-arn': FAKE_FUNCTION_ARN,
        ...event.headers,
      }).end(event.body);
    }
  }
}
