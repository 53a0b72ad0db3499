/**
 * Scaling through the SDK (issue 4 items 1 and 2): one environment per concurrent invocation, reuse, keep-alive,
 * reserved concurrency as cap and guarantee, and a burst beyond the node's capacity. Sandboxed functions report
 * their own environment id and start/end times; every client has as many sockets as concurrent requests.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { test, type TestContext } from 'node:test';
import { InvokeCommand, LambdaClient, PutFunctionConcurrencyCommand } from '@aws-sdk/client-lambda';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { TestServer } from '../support/test-server.js';
import { startWorld } from './fixtures.js';
import { deploy, parseReport } from './invoke-support.js';

/** Holds for `holdMs`, or until the wall-clock time `until` (so that invocations started apart still overlap). */
const SLOW = `
const id = Math.random().toString(36).slice(2);
export const handler = async (event) => {
  const start = Date.now();
  const wait = Math.max(event.holdMs ?? 0, (event.until ?? 0) - start);
  await new Promise((resolve) => setTimeout(resolve, wait));
  return { id, start, end: Date.now() };
};
`;

interface Ran {
  id: string;
  start: number;
  end: number;
  /** Init Duration of the REPORT line, when this invocation was a cold start. */
  initMs?: number;
}

type Outcome = { ok: Ran } | { throttled: string };

function clientFor(t: TestContext, server: TestServer, sockets: number): LambdaClient {
  const agent = new http.Agent({ keepAlive: true, maxSockets: sockets });
  const client = new LambdaClient({
    endpoint: server.url,
    region: 'us-east-1',
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({ httpAgent: agent, requestTimeout: 60_000 }),
  });
  t.after(() => {
    client.destroy();
    agent.destroy();
  });
  return client;
}

async function run(client: LambdaClient, name: string, event: Record<string, number>): Promise<Outcome> {
  try {
    const out = await client.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from(JSON.stringify(event)), LogType: 'Tail' }));
    assert.equal(out.FunctionError, undefined, Buffer.from(out.Payload ?? []).toString());
    const ran = JSON.parse(Buffer.from(out.Payload ?? []).toString()) as Ran;
    const report = parseReport(Buffer.from(out.LogResult ?? '', 'base64').toString(), out.$metadata.requestId!);
    return { ok: report.initMs === undefined ? ran : { ...ran, initMs: report.initMs } };
  } catch (error) {
    const e = error as { name?: string; Reason?: string; $metadata?: { httpStatusCode?: number }; message?: string };
    assert.equal(e.name, 'TooManyRequestsException', `unexpected failure: ${e.name}: ${e.message}`);
    assert.equal(e.$metadata?.httpStatusCode, 429);
    assert.equal(e.message, 'Rate Exceeded.');
    return { throttled: e.Reason ?? '(no Reason)' };
  }
}

function concurrently(n: number, call: () => Promise<Outcome>): Promise<Outcome[]> {
  return Promise.all(Array.from({ length: n }, call));
}

const succeeded = (outcomes: Outcome[]) => outcomes.flatMap((o) => ('ok' in o ? [o.ok] : []));
const throttled = (outcomes: Outcome[]) => outcomes.flatMap((o) => ('throttled' in o ? [o.throttled] : []));

/** The largest number of invocations running at the same moment (handler-reported intervals). */
function maxOverlap(runs: Ran[]): number {
  const edges = runs.flatMap((r) => [[r.start, 1] as const, [r.end, -1] as const]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let max = 0;
  for (const [, delta] of edges) max = Math.max(max, (now += delta));
  return max;
}

async function until(what: string, condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    assert.ok(Date.now() < deadline, `timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('N concurrent invocations run in N environments; a second wave reuses them; the keep-alive reclaims them', { timeout: 90_000 }, async (t) => {
  const N = 8;
  const { server, client: admin } = await startWorld(t, { env: { KINDLING_KEEP_ALIVE_MS: '3000' } });
  const client = clientFor(t, server, N);
  await deploy(admin, 'slow', { 'index.mjs': SLOW }, { Timeout: 30 });

  // Every first-wave invocation holds until a common moment, so none finishes before all have started.
  // The window is wide: N cold starts pass the start gate a few at a time on a loaded 2-core machine.
  const firstUntil = Date.now() + 10_000;
  const first = await concurrently(N, () => run(client, 'slow', { until: firstUntil }));
  const cold = succeeded(first);
  assert.equal(cold.length, N, JSON.stringify(first));
  assert.equal(new Set(cold.map((r) => r.id)).size, N, 'N distinct environments');
  assert.equal(maxOverlap(cold), N);
  assert.ok(cold.every((r) => r.initMs !== undefined), 'each was a cold start');

  const secondUntil = Date.now() + 3000;
  const second = succeeded(await concurrently(N, () => run(client, 'slow', { until: secondUntil })));
  assert.equal(second.length, N);
  assert.deepEqual(new Set(second.map((r) => r.id)), new Set(cold.map((r) => r.id)), 'the same environments again');
  assert.ok(second.every((r) => r.initMs === undefined), 'no Init Duration when warm');
  assert.equal(maxOverlap(second), N);
  assert.equal(server.standalone.environmentCount(), N);

  await until('the idle environments are reclaimed', () => server.standalone.environmentCount() === 0, 20_000);
  const after = await run(client, 'slow', {});
  assert.ok('ok' in after && after.ok.initMs !== undefined, 'a reclaimed function starts cold again');
  assert.ok('ok' in after && !cold.some((r) => r.id === after.ok.id));
});

test('reserved concurrency R caps the function: R overlap, exactly N − R are throttled; 0 throttles everything', { timeout: 60_000 }, async (t) => {
  const N = 8;
  const R = 3;
  const { server, client: admin } = await startWorld(t);
  const client = clientFor(t, server, N);
  await deploy(admin, 'capped', { 'index.mjs': SLOW }, { Timeout: 30 });
  await admin.send(new PutFunctionConcurrencyCommand({ FunctionName: 'capped', ReservedConcurrentExecutions: R }));

  const cappedUntil = Date.now() + 6000;
  const outcomes = await concurrently(N, () => run(client, 'capped', { until: cappedUntil }));
  const ran = succeeded(outcomes);
  assert.equal(ran.length, R, JSON.stringify(outcomes));
  assert.equal(maxOverlap(ran), R);
  assert.deepEqual(throttled(outcomes), Array(N - R).fill('ReservedFunctionConcurrentInvocationLimitExceeded'));

  await admin.send(new PutFunctionConcurrencyCommand({ FunctionName: 'capped', ReservedConcurrentExecutions: 0 }));
  const none = await concurrently(3, () => run(client, 'capped', {}));
  assert.deepEqual(throttled(none), Array(3).fill('ReservedFunctionConcurrentInvocationLimitExceeded'));
});

test("a reserved function's capacity stays available while another function floods the node", { timeout: 60_000 }, async (t) => {
  // 1024 MB of 128 MB environments = 8; A reserves 2, so B gets at most 6 and its other requests wait, then 429.
  const { server, client: admin } = await startWorld(t, { env: { KINDLING_MAX_MEMORY_MB: '1024', KINDLING_PLACEMENT_WAIT_MS: '1000' } });
  const client = clientFor(t, server, 16);
  await deploy(admin, 'a', { 'index.mjs': SLOW }, { Timeout: 30, MemorySize: 128 });
  await deploy(admin, 'b', { 'index.mjs': SLOW }, { Timeout: 30, MemorySize: 128 });
  await admin.send(new PutFunctionConcurrencyCommand({ FunctionName: 'a', ReservedConcurrentExecutions: 2 }));

  const bUntil = Date.now() + 8000;
  const flood = concurrently(12, () => run(client, 'b', { until: bUntil }));
  await until('B fills its share of the node', () => server.standalone.environmentCount() === 6, 10_000);
  const guaranteed = await concurrently(2, () => run(client, 'a', { holdMs: 200 }));
  const aRuns = succeeded(guaranteed);
  assert.equal(aRuns.length, 2, JSON.stringify(guaranteed));
  assert.ok(aRuns.every((r) => r.end < bUntil), "A ran while B still held every environment it could get");

  const bOutcomes = await flood;
  const bRuns = succeeded(bOutcomes);
  assert.equal(bRuns.length, 6, JSON.stringify(bOutcomes));
  assert.equal(new Set(bRuns.map((r) => r.id)).size, 6);
  assert.deepEqual(throttled(bOutcomes), Array(6).fill('ConcurrentInvocationLimitExceeded'));
});

test('a burst of 200 beyond capacity (2048 MB / 128 MB = 16 environments): all succeed, then the pool shrinks', { timeout: 90_000 }, async (t) => {
  const { server, client: admin } = await startWorld(t, { env: { KINDLING_MAX_MEMORY_MB: '2048', KINDLING_KEEP_ALIVE_MS: '2000' } });
  const client = clientFor(t, server, 200);
  await deploy(admin, 'burst', { 'index.mjs': SLOW }, { Timeout: 30, MemorySize: 128 });

  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, server.standalone.environmentCount())), 5);
  const began = Date.now();
  const outcomes = await concurrently(200, () => run(client, 'burst', { holdMs: 100 }));
  const elapsedMs = Date.now() - began;
  clearInterval(sampler);
  const ran = succeeded(outcomes);
  assert.equal(ran.length, 200, `throttled: ${throttled(outcomes).length}`);
  const environments = new Set(ran.map((r) => r.id)).size;
  assert.ok(environments <= 16 && peak <= 16, `at most 16 environments (${environments} used, peak ${peak})`);
  assert.ok(maxOverlap(ran) <= 16);
  t.diagnostic(`200 invocations in ${elapsedMs} ms over ${environments} environments`);

  await until('the pool shrinks to nothing when idle', () => server.standalone.environmentCount() === 0, 20_000);
});
