/**
 * A real LambdaClient whose transport keeps a copy of every raw HTTP response, so compatibility tests can assert on
 * the wire (status, headers, exact body) as well as on what the SDK made of it.
 */
import assert from 'node:assert/strict';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { Readable } from 'node:stream';
import { LambdaClient } from '@aws-sdk/client-lambda';
import type { HttpHandler, HttpHandlerOptions, HttpRequest, HttpResponse } from '@smithy/protocol-http';
import { NodeHttpHandler, type NodeHttpHandlerOptions } from '@smithy/node-http-handler';
import { assertOutputBody } from './service-model.js';

export interface RawResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

export interface RecordingClient {
  client: LambdaClient;
  last(): RawResponse | undefined;
  all(): RawResponse[];
}

async function readAll(body: unknown): Promise<Buffer> {
  if (body === undefined || body === null) return Buffer.alloc(0);
  if (typeof body === 'string' || body instanceof Uint8Array) return Buffer.from(body);
  const chunks: Buffer[] = [];
  for await (const chunk of body as AsyncIterable<Uint8Array | string>) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/** Buffers each response body, records it, and gives the SDK a fresh stream over the same bytes. */
class RecordingHandler implements HttpHandler<NodeHttpHandlerOptions> {
  readonly metadata: { handlerProtocol: string };
  readonly recorded: RawResponse[] = [];

  constructor(
    private readonly inner: NodeHttpHandler,
    private readonly agents: readonly { destroy(): void }[],
  ) {
    this.metadata = inner.metadata;
  }

  async handle(request: HttpRequest, options?: HttpHandlerOptions): Promise<{ response: HttpResponse }> {
    const { response } = await this.inner.handle(request, options);
    const bytes = await readAll(response.body);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(response.headers)) headers[name.toLowerCase()] = value;
    this.recorded.push({ statusCode: response.statusCode, headers, body: bytes.toString('utf8') });
    response.body = Readable.from([bytes]);
    return { response };
  }

  updateHttpClientConfig(key: keyof NodeHttpHandlerOptions, value: NodeHttpHandlerOptions[typeof key]): void {
    this.inner.updateHttpClientConfig(key, value);
  }

  httpHandlerConfigs(): NodeHttpHandlerOptions {
    return this.inner.httpHandlerConfigs();
  }

  destroy(): void {
    this.inner.destroy();
    // The inner handler only destroys agents once it has sent a request; ours must not outlive the client either way.
    for (const agent of this.agents) agent.destroy();
  }
}

export function createRecordingClient(options: {
  endpoint: string;
  region?: string;
  accessKeyId: string;
  secretAccessKey: string;
}): RecordingClient {
  // Concurrency tests fire dozens of parallel invokes; the default agent would queue them behind a few sockets.
  const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 64 });
  const httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 64 });
  const handler = new RecordingHandler(new NodeHttpHandler({ httpAgent, httpsAgent }), [httpAgent, httpsAgent]);
  const client = new LambdaClient({
    endpoint: options.endpoint,
    region: options.region ?? 'us-east-1',
    credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey },
    maxAttempts: 1,
    requestHandler: handler,
  });
  return {
    client,
    last: () => handler.recorded.at(-1),
    all: () => [...handler.recorded],
  };
}

/** Checks the last recorded response body against `operation`'s output shape (an empty body counts as `{}`). */
export function assertLastOutput(rec: RecordingClient, operation: string): void {
  const last = rec.last();
  if (!last) assert.fail('assertLastOutput: no response has been recorded yet');
  let body: unknown = {};
  try {
    if (last.body !== '') body = JSON.parse(last.body);
  } catch {
    assert.fail(`${operation} answered a body that is not JSON: ${last.body.slice(0, 200)}`);
  }
  assertOutputBody(operation, body);
}
