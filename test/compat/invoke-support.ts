/** Deploying real functions and invoking them through the SDK, for the Invoke suites. */
import assert from 'node:assert/strict';
import {
  CreateFunctionCommand,
  GetFunctionCommand,
  InvokeCommand,
  type CreateFunctionCommandInput,
  type InvokeCommandInput,
  type LambdaClient,
} from '@aws-sdk/client-lambda';
import { buildZip, type ZipEntrySpec } from '../support/zip-builder.js';
import { ROLE } from './fixtures.js';

export type Sources = Record<string, string | { data: string; mode: number }>;

export async function zipOf(sources: Sources): Promise<Buffer> {
  const entries: ZipEntrySpec[] = Object.entries(sources).map(([name, src]) =>
    typeof src === 'string' ? { name, data: src } : { name, data: src.data, mode: src.mode },
  );
  return buildZip(entries);
}

/** Creates a function and waits until it is Active (Kindling settles right after the create answer). */
export async function deploy(
  client: LambdaClient,
  name: string,
  sources: Sources,
  extra: Partial<CreateFunctionCommandInput> = {},
): Promise<void> {
  await client.send(
    new CreateFunctionCommand({
      FunctionName: name,
      Runtime: 'nodejs20.x',
      Handler: 'index.handler',
      Role: ROLE,
      ...extra,
      Code: { ZipFile: await zipOf(sources) },
    }),
  );
  await waitActive(client, name);
}

export async function waitActive(client: LambdaClient, name: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const out = await client.send(new GetFunctionCommand({ FunctionName: name }));
    if (out.Configuration?.State === 'Active' && out.Configuration.LastUpdateStatus !== 'InProgress') return;
    await new Promise((r) => setImmediate(r));
  }
  assert.fail(`${name} did not become Active`);
}

export interface Invoked {
  statusCode: number | undefined;
  requestId: string | undefined;
  functionError: string | undefined;
  executedVersion: string | undefined;
  /** The payload as text. */
  text: string;
  /** The payload parsed as JSON. */
  json: unknown;
  /** The decoded X-Amz-Log-Result (when LogType Tail). */
  log: string;
}

export async function invoke(client: LambdaClient, name: string, event: unknown = {}, extra: Partial<InvokeCommandInput> = {}): Promise<Invoked> {
  const out = await client.send(
    new InvokeCommand({ FunctionName: name, Payload: Buffer.from(JSON.stringify(event)), LogType: 'Tail', ...extra }),
  );
  const text = Buffer.from(out.Payload ?? new Uint8Array()).toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return {
    statusCode: out.StatusCode,
    requestId: out.$metadata.requestId,
    functionError: out.FunctionError,
    executedVersion: out.ExecutedVersion,
    text,
    json,
    log: out.LogResult === undefined ? '' : Buffer.from(out.LogResult, 'base64').toString('utf8'),
  };
}

/** The REPORT line's fields, checked for Lambda's exact format (tabs, two decimals, integer MB). */
export function parseReport(log: string, requestId: string): { durationMs: number; billedMs: number; memoryMb: number; maxMemoryMb: number; initMs?: number; status?: string; errorType?: string } {
  const line = log.split('\n').find((l) => l.startsWith(`REPORT RequestId: ${requestId}\t`));
  assert.ok(line, `no REPORT line for ${requestId} in:\n${log}`);
  const m =
    /^REPORT RequestId: [0-9a-f-]{36}\tDuration: (\d+\.\d\d) ms\tBilled Duration: (\d+) ms\tMemory Size: (\d+) MB\tMax Memory Used: (\d+) MB\t(?:Init Duration: (\d+\.\d\d) ms\t)?(?:Status: (\w+)(?:\tError Type: ([\w.]+))?)?$/.exec(line);
  assert.ok(m, `REPORT line has not Lambda's format: ${JSON.stringify(line)}`);
  return {
    durationMs: Number(m[1]),
    billedMs: Number(m[2]),
    memoryMb: Number(m[3]),
    maxMemoryMb: Number(m[4]),
    ...(m[5] === undefined ? {} : { initMs: Number(m[5]) }),
    ...(m[6] === undefined ? {} : { status: m[6] }),
    ...(m[7] === undefined ? {} : { errorType: m[7] }),
  };
}

/**
 * Billed Duration is ceil(Duration + Init Duration) of the exact durations; the REPORT line prints each with two
 * decimals, so the sum read back may be off by up to 0.02 ms either way and land across an integer.
 */
export function assertBilled(billedMs: number, printedSumMs: number): void {
  const low = Math.ceil(printedSumMs - 0.02);
  const high = Math.ceil(printedSumMs + 0.02);
  assert.ok(billedMs >= low && billedMs <= high, `Billed Duration ${billedMs} ms is not ceil(${printedSumMs.toFixed(2)} ms ± 0.02)`);
}
