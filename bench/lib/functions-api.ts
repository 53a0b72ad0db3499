/** Deploying the hello-world functions through Kindling's control plane with the raw client (KINDLING_AUTH=none). */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import yazl from 'yazl';
import { REPO_ROOT } from './children.js';
import type { RawClient } from './raw-client.js';

const ROLE = 'arn:aws:iam::000000000000:role/kindling-bench';

export type BenchRuntime = 'nodejs20.x' | 'python3.11';

const SOURCES: Record<BenchRuntime, { file: string; zipName: string; handler: string }> = {
  'nodejs20.x': { file: 'hello.mjs', zipName: 'index.mjs', handler: 'index.handler' },
  'python3.11': { file: 'lambda_function.py', zipName: 'lambda_function.py', handler: 'lambda_function.handler' },
};

export async function helloZip(runtime: BenchRuntime): Promise<Buffer> {
  const source = SOURCES[runtime];
  const data = await readFile(join(REPO_ROOT, 'bench', 'fixtures', source.file));
  const zip = new yazl.ZipFile();
  zip.addBuffer(data, source.zipName, { mode: 0o100644, mtime: new Date(0) });
  zip.end();
  const chunks: Buffer[] = [];
  for await (const chunk of zip.outputStream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** CreateFunction, then GetFunction until Active (Kindling settles right after the create answer). */
export async function deployHello(client: RawClient, name: string, runtime: BenchRuntime, memoryMb: number, zip: Buffer): Promise<void> {
  const body = JSON.stringify({
    FunctionName: name,
    Runtime: runtime,
    Handler: SOURCES[runtime].handler,
    Role: ROLE,
    MemorySize: memoryMb,
    Timeout: 30,
    Code: { ZipFile: zip.toString('base64') },
  });
  const created = await client.request('POST', '/2015-03-31/functions', body);
  if (created.status !== 201) throw new Error(`CreateFunction ${name}: HTTP ${created.status} ${created.body.toString('utf8')}`);
  for (let i = 0; i < 500; i++) {
    const got = await client.request('GET', `/2015-03-31/functions/${name}`);
    const config = (JSON.parse(got.body.toString('utf8')) as { Configuration?: { State?: string; LastUpdateStatus?: string } }).Configuration;
    if (config?.State === 'Active' && config.LastUpdateStatus !== 'InProgress') return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`${name} did not become Active`);
}

/** DeleteFunction: Kindling stops the function's environments before it answers. */
export async function deleteFunction(client: RawClient, name: string): Promise<void> {
  const res = await client.request('DELETE', `/2015-03-31/functions/${name}`);
  if (res.status !== 204) throw new Error(`DeleteFunction ${name}: HTTP ${res.status} ${res.body.toString('utf8')}`);
}

export interface ReportLine {
  durationMs: number;
  initMs?: number;
  maxMemoryMb: number;
}

/** The REPORT line in a base64 X-Amz-Log-Result. */
export function parseReport(logResult: string | string[] | undefined): ReportLine | undefined {
  if (typeof logResult !== 'string') return undefined;
  const text = Buffer.from(logResult, 'base64').toString('utf8');
  const m = /REPORT RequestId: \S+\tDuration: ([\d.]+) ms\t.*?Max Memory Used: (\d+) MB\t(?:Init Duration: ([\d.]+) ms)?/.exec(text);
  if (!m) return undefined;
  return { durationMs: Number(m[1]), maxMemoryMb: Number(m[2]), ...(m[3] === undefined ? {} : { initMs: Number(m[3]) }) };
}
