/**
 * The load client: node:http with a keep-alive Agent, no SDK, the same for Kindling and the ceiling. Latency is
 * measured from request() to the last body byte, in milliseconds.
 */
import http from 'node:http';
import { summarize, type Summary } from './stats.js';

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  ms: number;
}

export interface LoadResult {
  requests: number;
  errors: number;
  seconds: number;
  rps: number;
  latency: Summary;
  /** The first error seen, for the report. */
  firstError?: string;
}

export const INVOKE_PAYLOAD = Buffer.from('{"n":1}');

export function invokePath(functionName: string): string {
  return `/2015-03-31/functions/${encodeURIComponent(functionName)}/invocations`;
}

export class RawClient {
  readonly #url: URL;
  readonly #agent: http.Agent;

  constructor(baseUrl: string, maxSockets = 64) {
    this.#url = new URL(baseUrl);
    this.#agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  }

  request(method: string, path: string, body?: Buffer | string, headers: http.OutgoingHttpHeaders = {}): Promise<RawResponse> {
    const data = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body);
    return new Promise((resolve, reject) => {
      const started = process.hrtime.bigint();
      const req = http.request(
        {
          host: this.#url.hostname,
          port: this.#url.port,
          method,
          path,
          agent: this.#agent,
          headers: { ...(data === undefined ? {} : { 'content-type': 'application/json', 'content-length': data.length }), ...headers },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks),
              ms: Number(process.hrtime.bigint() - started) / 1e6,
            }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(data);
    });
  }

  invoke(functionName: string, headers: http.OutgoingHttpHeaders = {}): Promise<RawResponse> {
    return this.request('POST', invokePath(functionName), INVOKE_PAYLOAD, headers);
  }

  /** `n` invocations one after another on one keep-alive connection; returns each latency (ms) and the error count. */
  async sequential(functionName: string, n: number): Promise<{ samples: number[]; errors: number; firstError?: string }> {
    const samples: number[] = [];
    let errors = 0;
    let firstError: string | undefined;
    for (let i = 0; i < n; i++) {
      const res = await this.invoke(functionName);
      const problem = checkInvoke(res);
      if (problem !== undefined) {
        errors += 1;
        firstError ??= problem;
      }
      samples.push(res.ms);
    }
    return { samples, errors, ...(firstError === undefined ? {} : { firstError }) };
  }

  /** `clients` closed-loop clients invoking back to back for `durationMs`. */
  async closedLoop(functionName: string, clients: number, durationMs: number): Promise<LoadResult> {
    const samples: number[] = [];
    let errors = 0;
    let firstError: string | undefined;
    const started = process.hrtime.bigint();
    const end = Date.now() + durationMs;
    const worker = async () => {
      while (Date.now() < end) {
        try {
          const res = await this.invoke(functionName);
          const problem = checkInvoke(res);
          if (problem !== undefined) {
            errors += 1;
            firstError ??= problem;
          } else {
            samples.push(res.ms);
          }
        } catch (error) {
          errors += 1;
          firstError ??= String(error);
        }
      }
    };
    await Promise.all(Array.from({ length: clients }, worker));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return {
      requests: samples.length + errors,
      errors,
      seconds,
      rps: samples.length / seconds,
      latency: summarize(samples),
      ...(firstError === undefined ? {} : { firstError }),
    };
  }

  close(): void {
    this.#agent.destroy();
  }
}

/** undefined when the invocation succeeded (200, no function error), else a short description. */
export function checkInvoke(res: RawResponse): string | undefined {
  if (res.status !== 200) return `HTTP ${res.status}: ${res.body.toString('utf8').slice(0, 200)}`;
  const functionError = res.headers['x-amz-function-error'];
  if (functionError !== undefined) return `function error ${String(functionError)}: ${res.body.toString('utf8').slice(0, 200)}`;
  return undefined;
}
