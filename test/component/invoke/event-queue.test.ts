/**
 * EventQueue on a real SQLite store with a scripted InvokeService and a ManualClock: turn-taking across functions,
 * reserved concurrency as a cap, throttles that are not attempts, reserved concurrency 0, deleted functions, ages.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { ThrottledError } from '../../../src/invoke/errors.js';
import { EventQueue, type AsyncTarget } from '../../../src/invoke/async/event-queue.js';
import { LAMBDA_RETRY_DELAYS } from '../../../src/invoke/async/retry-policy.js';
import type { EventInvokeConfig } from '../../../src/model/async-event.js';
import type { FunctionVersion } from '../../../src/model/function.js';
import type { InvocationResult } from '../../../src/model/invocation.js';
import { createSilentLogger } from '../../../src/shared/logger.js';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store.js';
import type { SyncInvocation } from '../../../src/invoke/invoke-service.js';
import { ManualClock } from '../../support/manual-clock.js';
import type { Timer } from '../../../src/shared/clock.js';

const ACCOUNT = '000000000000';
const PARTITION = { region: 'us-east-1', accountId: ACCOUNT };
const DEST_ARN = `arn:aws:lambda:us-east-1:${ACCOUNT}:function:dest`;

function versionOf(functionName: string): FunctionVersion {
  // Only the fields the queue reads; the invoke side is scripted.
  return { accountId: ACCOUNT, functionName, version: '$LATEST', state: 'Active', settings: {} } as unknown as FunctionVersion;
}

interface Call {
  functionName: string;
  payload: unknown;
  settle(result: 'success' | 'error' | Error): void;
}

interface Harness {
  queue: EventQueue;
  store: SqliteStore;
  clock: ManualClock;
  /** Open calls (when not decided automatically). */
  calls: Call[];
  /** Every call's function and payload, in order. */
  seen: Array<{ functionName: string; payload: unknown }>;
  /** The destination records the function `dest` received. */
  destRecords(): Array<{ requestContext: unknown; responseContext?: unknown }>;
  /** The most attempts of each function seen running at once. */
  peak: Map<string, number>;
  accept(functionName: string, payload?: unknown): Promise<string>;
  /** Lets every microtask and promise continuation run (the store is synchronous; nothing here waits on I/O). */
  settle(): Promise<void>;
}

async function harness(
  t: TestContext,
  options: {
    maxParallel?: number;
    reserved?: Record<string, number>;
    configs?: Record<string, Partial<EventInvokeConfig>>;
    gone?: string[];
    /** findConfig fails this many times first (a store failure around an attempt). */
    configFailures?: number;
    /** Decides each call at once instead of leaving it open. */
    auto?: (call: Omit<Call, 'settle'>, n: number) => 'success' | 'error' | Error;
    clock?: ManualClock;
  } = {},
): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'kindling-event-queue-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const store = SqliteStore.open({ path: join(dir, 'kindling.db') });
  const clock = options.clock ?? new ManualClock(1_700_000_000_000);
  const calls: Call[] = [];
  const seen: Harness['seen'] = [];
  const running = new Map<string, number>();
  const peak = new Map<string, number>();
  let seq = 0;
  let configFailed = 0;
  const invoke = (request: SyncInvocation): Promise<InvocationResult> => {
    const functionName = request.version.functionName;
    running.set(functionName, (running.get(functionName) ?? 0) + 1);
    peak.set(functionName, Math.max(peak.get(functionName) ?? 0, running.get(functionName)!));
    return new Promise<InvocationResult>((resolve, reject) => {
      const settle = (result: 'success' | 'error' | Error) => {
        running.set(functionName, running.get(functionName)! - 1);
        if (result instanceof Error) reject(result);
        else resolve({ kind: result, ...(result === 'error' ? { errorType: 'Error' } : {}), payload: Buffer.from(result === 'error' ? '{"errorType":"Error"}' : '"done"'), executedVersion: '$LATEST' } as InvocationResult);
      };
      const call = { functionName, payload: JSON.parse(request.payload.toString('utf8')) as unknown };
      seen.push(call);
      if (options.auto) settle(options.auto(call, seq++));
      else calls.push({ ...call, settle });
    });
  };
  const queue = new EventQueue({
    events: store.asyncEvents,
    findConfig: async (_a, functionName) => {
      if ((options.configFailures ?? 0) > configFailed) {
        configFailed++;
        throw new Error('the store failed');
      }
      const config = options.configs?.[functionName];
      return config && { accountId: ACCOUNT, functionName, qualifier: '$LATEST', lastModifiedMs: 0, ...config };
    },
    reservedConcurrencyOf: async (_a, functionName) => options.reserved?.[functionName],
    resolve: async (_a, functionName): Promise<AsyncTarget | undefined> => {
      if (options.gone?.includes(functionName)) return undefined;
      const reserved = options.reserved?.[functionName];
      return reserved === undefined ? { version: versionOf(functionName) } : { version: versionOf(functionName), reservedConcurrency: reserved };
    },
    invoke,
    partition: PARTITION,
    clock,
    log: createSilentLogger(),
    maxParallel: options.maxParallel ?? 8,
    maxQueuedBytes: 1024 * 1024,
    delays: LAMBDA_RETRY_DELAYS,
  });
  t.after(async () => {
    queue.stop();
    for (const call of calls) call.settle('success');
    await queue.drain();
    await store.close();
  });
  let n = 0;
  return {
    queue,
    store,
    clock,
    calls,
    seen,
    destRecords: () => seen.filter((c) => c.functionName === 'dest').map((c) => c.payload as { requestContext: unknown; responseContext?: unknown }),
    peak,
    accept: async (functionName, payload = {}) => {
      const requestId = `req-${n++}`;
      await queue.accept({ accountId: ACCOUNT, functionName, requestId, payload: Buffer.from(JSON.stringify(payload)) });
      return requestId;
    },
    settle: () => clock.tick(0),
  };
}

/** Settles the open calls one at a time, oldest first, returning the order functions were served in. */
async function serveInOrder(h: Harness, count: number): Promise<string[]> {
  const order: string[] = [];
  for (let i = 0; i < count; i++) {
    await h.settle();
    const call = h.calls.shift();
    assert.ok(call, `call ${i + 1} of ${count} never came`);
    order.push(`${call.functionName}:${(call.payload as { id: string }).id}`);
    call.settle('success');
  }
  await h.settle();
  return order;
}

test('functions with due events take turns for the attempt slots', async (t) => {
  const h = await harness(t, { maxParallel: 1 });
  for (const id of ['1', '2', '3']) await h.accept('a', { id });
  await h.accept('b', { id: '1' });
  await h.accept('c', { id: '1' });
  await h.queue.start();
  assert.deepEqual(await serveInOrder(h, 5), ['a:1', 'b:1', 'c:1', 'a:2', 'a:3']);
  assert.equal(await h.store.asyncEvents.queuedBytes(), 0);
});

test("a function's reserved concurrency caps its parallel attempts while others use the rest", async (t) => {
  const h = await harness(t, { maxParallel: 4, reserved: { capped: 2 } });
  for (let i = 0; i < 5; i++) await h.accept('capped', { id: String(i) });
  for (let i = 0; i < 3; i++) await h.accept('free', { id: String(i) });
  await h.queue.start();
  await h.settle();
  assert.deepEqual(h.calls.map((c) => c.functionName).sort(), ['capped', 'capped', 'free', 'free']);
  await serveInOrder(h, 8);
  assert.equal(h.peak.get('capped'), 2);
  assert.equal(await h.store.asyncEvents.queuedBytes(), 0);
});

test('throttled attempts are not counted and come back after 1 s, then 2 s; the record counts one attempt', async (t) => {
  const h = await harness(t, {
    configs: { fn: { onSuccess: DEST_ARN } },
    auto: (call, n) => (call.functionName === 'dest' || n >= 2 ? 'success' : new ThrottledError('ConcurrentInvocationLimitExceeded')),
  });
  const requestId = await h.accept('fn', { id: 'x' });
  await h.queue.start();
  await h.settle();
  const [waiting] = await h.store.asyncEvents.listDueFunctions(h.clock.now() + 1000);
  assert.deepEqual(waiting, { accountId: ACCOUNT, functionName: 'fn' });
  assert.deepEqual(await h.store.asyncEvents.listDueFunctions(h.clock.now() + 999), []);
  await h.clock.tick(999);
  assert.equal(h.clock.nextDueMs(), h.clock.now() + 1);
  await h.clock.tick(1);
  assert.equal(h.clock.nextDueMs(), h.clock.now() + 2000);
  await h.clock.tick(2000);
  // The third call succeeded and the destination ran: its record counts the one real attempt.
  assert.equal(await h.store.asyncEvents.queuedBytes(), 0);
  const record = h.destRecords()[0];
  assert.deepEqual(record?.requestContext, { requestId, functionArn: `arn:aws:lambda:us-east-1:${ACCOUNT}:function:fn:$LATEST`, condition: 'Success', approximateInvokeCount: 1 });
});

test('a function reserved at 0 sends a new event straight to on-failure, without an attempt', async (t) => {
  const h = await harness(t, { reserved: { off: 0 }, configs: { off: { onFailure: DEST_ARN } }, auto: () => 'success' });
  const requestId = await h.accept('off', { id: 'z' });
  await h.queue.start();
  await h.settle();
  assert.deepEqual(h.seen.map((c) => c.functionName), ['dest']);
  assert.deepEqual(h.destRecords()[0], {
    version: '1.0',
    timestamp: new Date(h.clock.now()).toISOString(),
    requestContext: { requestId, functionArn: `arn:aws:lambda:us-east-1:${ACCOUNT}:function:off:$LATEST`, condition: 'RetriesExhausted', approximateInvokeCount: 0 },
    requestPayload: { id: 'z' },
    responseContext: { statusCode: 429 },
  });
});

test('an event whose function is gone is dropped without an attempt', async (t) => {
  const h = await harness(t, { gone: ['deleted'], auto: () => 'success' });
  await h.accept('deleted');
  await h.queue.start();
  await h.settle();
  assert.deepEqual(h.seen, []);
  assert.equal(await h.store.asyncEvents.queuedBytes(), 0);
});

test('an event throttled until its maximum age ends as EventAgeExceeded with no attempt counted', async (t) => {
  const h = await harness(t, {
    configs: { busy: { maximumEventAgeSeconds: 60, onFailure: DEST_ARN } },
    auto: (call) => (call.functionName === 'dest' ? 'success' : new ThrottledError('ConcurrentInvocationLimitExceeded')),
  });
  const requestId = await h.accept('busy');
  const start = h.clock.now();
  await h.queue.start();
  await h.settle();
  // Backoff 1, 2, 4, 8, 16, 32 s: the last is cut to the expiry, 60 s after acceptance.
  for (let due = h.clock.nextDueMs(); due !== undefined && h.destRecords().length === 0; due = h.clock.nextDueMs()) {
    await h.clock.tick(due - h.clock.now());
  }
  assert.equal(h.clock.now(), start + 60_000);
  assert.equal(h.seen.filter((c) => c.functionName === 'busy').length, 6);
  assert.deepEqual(h.destRecords()[0]?.requestContext, {
    requestId, functionArn: `arn:aws:lambda:us-east-1:${ACCOUNT}:function:busy:$LATEST`, condition: 'EventAgeExceeded', approximateInvokeCount: 0,
  });
  assert.deepEqual(h.destRecords()[0]?.responseContext, { statusCode: 429 });
});

test('events accepted before start wait for it, and stop() starts nothing more', async (t) => {
  const h = await harness(t, { maxParallel: 1 });
  await h.accept('a', { id: '1' });
  await h.accept('a', { id: '2' });
  await h.settle();
  assert.equal(h.calls.length, 0);
  await h.queue.start();
  await h.settle();
  assert.equal(h.calls.length, 1);
  h.queue.stop();
  h.calls.shift()?.settle('success');
  await h.settle();
  assert.equal(h.calls.length, 0);
  assert.equal(h.clock.pendingTimers, 0);
});

test('a store failure around an attempt does not leave the event held: it comes again after a backoff', async (t) => {
  const h = await harness(t, { configFailures: 1, auto: () => 'success' });
  await h.accept('fn', { id: 'y' });
  await h.queue.start();
  await h.settle();
  assert.equal(h.seen.length, 0);
  assert.equal(h.clock.nextDueMs(), h.clock.now() + 1000);
  await h.clock.tick(1000);
  assert.deepEqual(h.seen.map((c) => c.functionName), ['fn']);
  assert.equal(await h.store.asyncEvents.queuedBytes(), 0);
});

test("an event held back by its function's cap does not hide other functions' later retries", async (t) => {
  const h = await harness(t, { reserved: { capped: 1 } });
  await h.accept('capped', { id: 'long' });
  await h.accept('capped', { id: 'held' });
  await h.accept('b', { id: 'b' });
  await h.accept('c', { id: 'c' });
  await h.queue.start();
  await h.settle();
  const open = (fn: string) => h.calls.find((c) => c.functionName === fn);
  assert.deepEqual(h.calls.map((c) => c.functionName).sort(), ['b', 'c', 'capped'], "capped's second event waits for its first");
  const take = (fn: string) => {
    const call = open(fn);
    assert.ok(call, `no open call of ${fn}`);
    h.calls.splice(h.calls.indexOf(call), 1);
    return call;
  };
  take('b').settle('error'); // retry due in 60 s
  await h.settle();
  await h.clock.tick(30_000);
  take('c').settle('error'); // retry due in 60 s: at 90 s
  await h.settle();
  await h.clock.tick(30_000);
  take('b').settle('success');
  await h.settle();
  await h.clock.tick(30_000);
  assert.ok(open('c'), "c's retry ran at 90 s although capped's held event was due since the start");
  take('c').settle('success');
  take('capped').settle('success');
  await h.settle();
  take('capped').settle('success');
  await h.settle();
  assert.equal(await h.store.asyncEvents.queuedBytes(), 0);
});

test('a store failure after the function ran keeps that attempt counted: no run beyond MaximumRetryAttempts + 1', async (t) => {
  const h = await harness(t, { configs: { fn: { maximumRetryAttempts: 1 } }, auto: () => 'error' });
  const events = h.store.asyncEvents;
  const reschedule = events.reschedule.bind(events);
  let failures = 1;
  events.reschedule = async (...args: Parameters<typeof reschedule>) => {
    if (failures-- > 0) throw new Error('the store failed after the attempt');
    return reschedule(...args);
  };
  await h.accept('fn', { id: 'w' });
  await h.queue.start();
  await h.settle();
  assert.equal(h.seen.length, 1, 'the first attempt ran, then its bookkeeping failed');
  for (let due = h.clock.nextDueMs(); due !== undefined; due = h.clock.nextDueMs()) await h.clock.tick(due - h.clock.now());
  assert.equal(h.seen.filter((c) => c.functionName === 'fn').length, 2, 'one retry, as MaximumRetryAttempts 1 allows');
  assert.equal(await events.queuedBytes(), 0);
});

/** Fires every timer a millisecond early, as Node's timers may against Date.now() (their loop time can lag). */
class EarlyTimers extends ManualClock {
  override setTimer(delayMs: number, fn: () => void): Timer {
    return super.setTimer(delayMs - 1, fn);
  }
}

test('a retry whose timer fires a millisecond early, while time moves on during the pump, still runs', async (t) => {
  const clock = new EarlyTimers(1_700_000_000_000);
  const h = await harness(t, { clock, configs: { fn: { maximumRetryAttempts: 1 } }, auto: (_call, n) => (n === 0 ? 'error' : 'success') });
  const events = h.store.asyncEvents;
  const list = events.listDueFunctions.bind(events);
  // Each read of the due functions takes a millisecond: the pump's later readings of the clock are later.
  events.listDueFunctions = async (nowMs: number) => {
    const due = await list(nowMs);
    clock.advance(1);
    return due;
  };
  await h.accept('fn', { id: 'early' });
  await h.queue.start();
  await h.settle();
  assert.equal(h.seen.length, 1, 'the first attempt failed');
  for (let step = 0; step < 10 && h.seen.length < 2; step++) {
    const due = clock.nextDueMs();
    assert.ok(due !== undefined, 'no timer armed while the retry waits: it would never run');
    await clock.tick(due - clock.now());
  }
  assert.equal(h.seen.length, 2, 'the retry ran');
  assert.equal(await events.queuedBytes(), 0);
});
