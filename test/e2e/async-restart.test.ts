/**
 * At-least-once across `kill -9` (issue 4): a real `kindling server` is SIGKILLed while accepted events are waiting,
 * mid-attempt and in backoff; after a restart on the same data directory each of them runs at least once more, and
 * none runs more than MaximumRetryAttempts + 2 times in all.
 */
import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { InvokeCommand, LambdaClient, PutFunctionEventInvokeConfigCommand } from '@aws-sdk/client-lambda';
import { deploy } from '../compat/invoke-support.js';
import { openServerDb, waitFor, type ServerDb } from '../support/server-db.js';
import { startTestServer } from '../support/test-server.js';
import { KINDLING_SERVER, spawnServer } from './server-process.js';

/** A backstop: every wait inside is bounded already. */
const TEST_TIMEOUT_MS = 240_000;
/** Long enough that the failed event is still in backoff when the server is killed; short enough to wait out after. */
const RETRY_DELAYS_MS = '12000,12000';
const WAITING_EVENTS = 4;

/** Logs `RUN {fn, id, requestId}` as it starts, sleeps `sleepMs`, fails if asked. */
const HANDLER = `
exports.handler = async (event, context) => {
  console.log('RUN ' + JSON.stringify({ id: event.id, requestId: context.awsRequestId }));
  if (event.sleepMs) await new Promise((r) => setTimeout(r, event.sleepMs));
  if (event.fail) throw new Error('failing on purpose');
  return 'ok';
};
`;

interface Run {
  id: string;
  requestId: string;
}

function runCounts(db: ServerDb, functions: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const fn of functions) for (const run of db.marked<Run>(fn, 'RUN')) counts.set(run.id, (counts.get(run.id) ?? 0) + 1);
  return counts;
}

test('events waiting, mid-attempt and in backoff at a kill -9 each run after the restart, within MaximumRetryAttempts + 2', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'kindling-e2e-async-'));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  // Two attempts at a time: the two slow events hold both slots, so the later events wait in the queue.
  const server = spawnServer(t, KINDLING_SERVER[0], KINDLING_SERVER[1], {
    KINDLING_PORT: '0',
    KINDLING_DATA_DIR: dataDir,
    KINDLING_LOG_LEVEL: 'warn',
    KINDLING_ASYNC_MAX_PARALLEL: '2',
    KINDLING_ASYNC_RETRY_DELAYS_MS: RETRY_DELAYS_MS,
  });
  const printed = await server.ready;
  const client = new LambdaClient({
    endpoint: printed.url,
    region: printed.region,
    credentials: { accessKeyId: printed.accessKeyId, secretAccessKey: printed.secretAccessKey },
    maxAttempts: 1,
    requestHandler: { httpAgent: new Agent({ keepAlive: true, maxSockets: 16 }), requestTimeout: 60_000 },
  });
  t.after(() => client.destroy());
  const db = openServerDb(dataDir);
  t.after(() => db.close());

  const functions = ['backoff', 'slow-ok', 'slow-fail', 'later'] as const;
  for (const fn of functions) await deploy(client, fn, { 'index.js': HANDLER }, { Timeout: 30 });
  // slow-fail may be tried once (+1 after a crash): it bounds the count most tightly.
  await client.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'slow-fail', MaximumRetryAttempts: 0 }));
  const limits: Record<string, number> = { backoff: 2, 'slow-ok': 2, 'slow-fail': 0, later: 2 };
  const send = async (fn: string, event: Record<string, unknown>) => {
    const out = await client.send(new InvokeCommand({ FunctionName: fn, InvocationType: 'Event', Payload: Buffer.from(JSON.stringify(event)) }));
    assert.equal(out.StatusCode, 202);
    return out.$metadata.requestId!;
  };

  // In backoff: failed once, its retry 12 s away.
  const backoffId = await send('backoff', { id: 'backoff', fail: true });
  await waitFor('the first attempt of the failing event to end', () => db.events().find((e) => e.requestId === backoffId && !e.running && e.attempts === 1));
  // Mid-attempt: both started and sleeping.
  await send('slow-ok', { id: 'slow-ok', sleepMs: 8000 });
  await send('slow-fail', { id: 'slow-fail', sleepMs: 8000, fail: true });
  await waitFor('both slow events to start', () => (runCounts(db, ['slow-ok', 'slow-fail']).size === 2 ? true : undefined));
  // Waiting: no slot is free.
  for (let i = 0; i < WAITING_EVENTS; i++) await send('later', { id: `later-${i}` });

  const before = runCounts(db, functions);
  const stored = db.events();
  const state = (id: string) => stored.find((e) => e.requestId === id);
  assert.ok((state(backoffId)?.dueMs ?? 0) > Date.now(), 'the failing event is no longer in backoff: the machine was too slow for this scenario');
  assert.equal(stored.filter((e) => e.running).length, 2, 'exactly the two slow events are mid-attempt');
  assert.equal(stored.filter((e) => e.functionName === 'later' && !e.running && e.attempts === 0).length, WAITING_EVENTS);
  assert.deepEqual([...before.keys()].sort(), ['backoff', 'slow-fail', 'slow-ok']);
  server.child.kill('SIGKILL');
  assert.deepEqual(await server.exited, { code: null, signal: 'SIGKILL' });

  const restarted = await startTestServer({ dataDir, captureLogs: 'info', env: { KINDLING_ASYNC_MAX_PARALLEL: '8', KINDLING_ASYNC_RETRY_DELAYS_MS: RETRY_DELAYS_MS } });
  t.after(() => restarted.close());
  await waitFor('every event to be done', () => (db.events().length === 0 ? true : undefined), 120_000).catch((error: unknown) => {
    // What was left, and what ran, say which event stalled and where.
    const left = db.events().map((e) => ({ ...e, dueInMs: e.dueMs - Date.now() }));
    const runs = JSON.stringify([...runCounts(db, functions)]);
    throw new Error(`${(error as Error).message}\nleft: ${JSON.stringify(left)}\nruns: ${runs}\nserver log:\n${restarted.logs().join('\n')}`);
  });
  // Closing flushes the function log lines still in the server's batch.
  await restarted.close();
  const after = runCounts(db, functions);
  for (const fn of functions) {
    const ids = fn === 'later' ? Array.from({ length: WAITING_EVENTS }, (_, i) => `later-${i}`) : [fn];
    for (const id of ids) {
      const total = after.get(id) ?? 0;
      const since = total - (before.get(id) ?? 0);
      assert.ok(since >= 1, `${id} did not run after the restart`);
      assert.ok(total <= limits[fn]! + 2, `${id} ran ${total} times, more than MaximumRetryAttempts + 2 = ${limits[fn]! + 2}`);
    }
  }
  // The failing event used up its attempts: 3 runs; the interrupted slow-fail ran again once and stopped.
  assert.equal(after.get('backoff'), 3);
  assert.equal(after.get('slow-fail'), 2);
});
