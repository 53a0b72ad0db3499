/**
 * A test runtime: plain node:http requests against a RuntimeApi, over its Unix socket or TCP, with a keep-alive
 * agent of one socket (as aws-lambda-ric configures it), plus a world builder.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import {
  createRuntimeApi,
  type InvocationOutcome,
  type InvocationRequest,
  type RuntimeApi,
  type RuntimeApiOptions,
} from '../../../src/runtime-api/server.js';

export type Transport = 'unix' | 'tcp';
export const TRANSPORTS: readonly Transport[] = ['unix', 'tcp'];

export interface RuntimeReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** Whether the request went over a connection an earlier request had used. */
  reusedSocket: boolean;
  socket: net.Socket;
}

/** A RuntimeApi on a fresh socket (in its own temp dir) or on 127.0.0.1:0, closed after the test. */
export async function makeRuntimeApi(
  t: TestContext,
  transport: Transport = 'unix',
  options: Partial<RuntimeApiOptions> = {},
): Promise<{ api: RuntimeApi; dir: string; socketPath?: string }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'kd-rapi-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const socketPath = transport === 'unix' ? path.join(dir, 'rapi.sock') : undefined;
  const api = await createRuntimeApi({ ...options, listen: socketPath ? { socketPath } : { port: 0 } });
  t.after(() => api.close());
  return socketPath ? { api, dir, socketPath } : { api, dir };
}

export function event(requestId: string, overrides: Partial<InvocationRequest> = {}): InvocationRequest {
  return {
    requestId,
    deadlineMs: 1_900_000_000_000,
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:f',
    payload: Buffer.from(`{"n":"${requestId}"}`),
    ...overrides,
  };
}

export class RuntimeClient {
  readonly #agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  readonly #target: http.RequestOptions;

  constructor(t: TestContext, api: RuntimeApi) {
    this.#target = connectOptions(api.address);
    t.after(() => this.#agent.destroy());
  }

  next(): Promise<RuntimeReply> {
    return this.request('GET', '/2018-06-01/runtime/invocation/next');
  }

  respond(requestId: string, body: string | Buffer, headers: http.OutgoingHttpHeaders = {}): Promise<RuntimeReply> {
    const id = encodeURIComponent(requestId);
    return this.request('POST', `/2018-06-01/runtime/invocation/${id}/response`, body, { 'content-type': 'application/json', ...headers });
  }

  error(requestId: string, body: string | Buffer, headers: http.OutgoingHttpHeaders = {}): Promise<RuntimeReply> {
    return this.request('POST', `/2018-06-01/runtime/invocation/${encodeURIComponent(requestId)}/error`, body, headers);
  }

  initError(body: string | Buffer, headers: http.OutgoingHttpHeaders = {}): Promise<RuntimeReply> {
    return this.request('POST', '/2018-06-01/runtime/init/error', body, headers);
  }

  /** Sends a whole request (Content-Length) and collects the whole reply. */
  request(method: string, urlPath: string, body?: string | Buffer, headers: http.OutgoingHttpHeaders = {}): Promise<RuntimeReply> {
    const req = this.open(method, urlPath, headers);
    const reply = collect(req);
    req.end(body);
    return reply;
  }

  /** Starts a request and leaves its body to the caller (chunked unless a content-length header is given). */
  open(method: string, urlPath: string, headers: http.OutgoingHttpHeaders = {}): http.ClientRequest {
    return http.request({ ...this.#target, agent: this.#agent, method, path: urlPath, headers });
  }
}

export function collect(req: http.ClientRequest): Promise<RuntimeReply> {
  return new Promise((resolve, reject) => {
    req.once('error', reject);
    req.once('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.once('error', reject);
      res.once('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, reusedSocket: req.reusedSocket, socket: req.socket as net.Socket });
      });
    });
  });
}

/** http.request options for the API's address: a socket path, or 'host:port'. */
export function connectOptions(address: string): http.RequestOptions {
  if (address.startsWith('/')) return { socketPath: address };
  const colon = address.lastIndexOf(':');
  return { host: address.slice(0, colon), port: Number(address.slice(colon + 1)) };
}

/** The payload of a 'response' outcome (fails the test for any other kind). */
export function payloadOf(outcome: InvocationOutcome): Buffer {
  assert.equal(outcome.kind, 'response', `expected a response, got ${JSON.stringify(outcome)}`);
  return (outcome as { payload: Buffer }).payload;
}

export function json(reply: RuntimeReply): unknown {
  return JSON.parse(reply.body.toString('utf8'));
}

/** A raw HTTP/1.1 connection, for byte-exact requests as libcurl (aws-lambda-cpp) sends them. */
export class RawConnection {
  readonly #socket: net.Socket;
  #buffer = Buffer.alloc(0);
  #wake: (() => void) | undefined;
  #ended = false;

  constructor(t: TestContext, address: string) {
    const colon = address.lastIndexOf(':');
    this.#socket = address.startsWith('/')
      ? net.connect({ path: address })
      : net.connect({ host: address.slice(0, colon), port: Number(address.slice(colon + 1)) });
    this.#socket.on('data', (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      this.#wake?.();
    });
    this.#socket.on('close', () => {
      this.#ended = true;
      this.#wake?.();
    });
    this.#socket.on('error', () => undefined);
    t.after(() => this.#socket.destroy());
  }

  write(bytes: string | Buffer): void {
    this.#socket.write(bytes);
  }

  /** Writes with backpressure: resolves once the socket can take more. */
  async writeAll(bytes: string | Buffer): Promise<void> {
    if (!this.#socket.write(bytes)) await new Promise((resolve) => this.#socket.once('drain', resolve));
  }

  /** Reads one response with a Content-Length body. */
  async readReply(): Promise<{ status: number; head: string; body: Buffer }> {
    for (;;) {
      const end = this.#buffer.indexOf('\r\n\r\n');
      if (end !== -1) {
        const head = this.#buffer.subarray(0, end).toString('latin1');
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (this.#buffer.length >= end + 4 + length) {
          const body = this.#buffer.subarray(end + 4, end + 4 + length);
          this.#buffer = this.#buffer.subarray(end + 4 + length);
          return { status: Number(head.slice(9, 12)), head, body };
        }
      }
      if (this.#ended) throw new Error('connection closed before a whole reply arrived');
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }
}

/** Waits (by polling each turn of the event loop, bounded) for a condition with no event of its own. */
export async function until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}
