import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import type { AsyncEvent, EventInvokeConfig } from '../../src/model/async-event.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { StoreError, type Store } from '../../src/store/store.js';

/** One implementation of AsyncEventStore and EventInvokeConfigStore; `open` on the same dir reaches the same data. */
interface StoreFactory {
  name: string;
  open(dir: string): Promise<Store>;
}

const makeSqlite: StoreFactory = {
  name: 'SQLite',
  open: async (dir) => SqliteStore.open({ path: join(dir, 'kindling.sqlite') }),
};

const ACCOUNT = '111111111111';
const T0 = 1_700_000_000_000;

function anEvent(requestId: string, fields: Partial<AsyncEvent> = {}): AsyncEvent {
  return {
    accountId: ACCOUNT,
    requestId,
    functionName: 'fn',
    payload: Buffer.from(`{"id":"${requestId}"}`),
    enqueuedMs: T0,
    dueMs: T0,
    attempts: 0,
    throttles: 0,
    running: false,
    redone: false,
    ...fields,
  };
}

function aConfig(qualifier: string, fields: Partial<EventInvokeConfig> = {}): EventInvokeConfig {
  return { accountId: ACCOUNT, functionName: 'fn', qualifier, lastModifiedMs: T0, ...fields };
}

for (const make of [makeSqlite]) {
  describe(`AsyncEventStore contract: ${make.name}`, () => {
    async function world(t: TestContext): Promise<{ store: Store; dir: string }> {
      const dir = await mkdtemp(join(tmpdir(), 'kindling-async-store-'));
      t.after(() => rm(dir, { recursive: true, force: true }));
      const store = await make.open(dir);
      t.after(() => store.close());
      return { store, dir };
    }

    test('an enqueued event comes back whole when claimed, marked running, and is not claimed twice', async (t) => {
      const { store } = await world(t);
      const event = anEvent('r1', { qualifier: 'live', lastOutcome: { statusCode: 200, executedVersion: '3', functionError: 'Unhandled', payload: '{}' } });
      await store.asyncEvents.enqueue(event);
      const claimed = await store.asyncEvents.claimNext(ACCOUNT, 'fn', T0);
      assert.deepEqual(claimed, { ...event, running: true });
      assert.equal(await store.asyncEvents.claimNext(ACCOUNT, 'fn', T0), undefined);
    });

    test('a request id is stored once', async (t) => {
      const { store } = await world(t);
      await store.asyncEvents.enqueue(anEvent('r1'));
      await assert.rejects(store.asyncEvents.enqueue(anEvent('r1')), (e: unknown) => e instanceof StoreError && e.code === 'ERR_STORE_CONFLICT');
    });

    test('only events due by now are claimed, oldest due first, then in arrival order', async (t) => {
      const { store } = await world(t);
      await store.asyncEvents.enqueue(anEvent('later', { dueMs: T0 + 5000 }));
      await store.asyncEvents.enqueue(anEvent('b', { dueMs: T0 + 10 }));
      await store.asyncEvents.enqueue(anEvent('a', { dueMs: T0 + 10 }));
      await store.asyncEvents.enqueue(anEvent('first', { dueMs: T0 }));
      const order: string[] = [];
      for (let e = await store.asyncEvents.claimNext(ACCOUNT, 'fn', T0 + 10); e; e = await store.asyncEvents.claimNext(ACCOUNT, 'fn', T0 + 10)) {
        order.push(e.requestId);
      }
      assert.deepEqual(order, ['first', 'b', 'a']);
      assert.equal(await store.asyncEvents.nextDueMs(T0 + 10), T0 + 5000);
      // Only what is due after the given time: an event due already (held back by its function's cap) hides nothing.
      await store.asyncEvents.enqueue(anEvent('held', { dueMs: T0 }));
      assert.equal(await store.asyncEvents.nextDueMs(T0 + 10), T0 + 5000);
      assert.equal(await store.asyncEvents.nextDueMs(T0 - 1), T0);
      assert.equal(await store.asyncEvents.nextDueMs(T0 + 5000), undefined);
    });

    test('due functions are listed once each, by account and name, without running or future events', async (t) => {
      const { store } = await world(t);
      await store.asyncEvents.enqueue(anEvent('1', { functionName: 'b' }));
      await store.asyncEvents.enqueue(anEvent('2', { functionName: 'b' }));
      await store.asyncEvents.enqueue(anEvent('3', { functionName: 'a' }));
      await store.asyncEvents.enqueue(anEvent('4', { functionName: 'c', dueMs: T0 + 1 }));
      await store.asyncEvents.enqueue(anEvent('5', { functionName: 'd' }));
      await store.asyncEvents.claimNext(ACCOUNT, 'd', T0);
      assert.deepEqual(await store.asyncEvents.listDueFunctions(T0), [
        { accountId: ACCOUNT, functionName: 'a' },
        { accountId: ACCOUNT, functionName: 'b' },
      ]);
    });

    test('an attempt is counted when it starts, and a reschedule sets due time, counters and last outcome', async (t) => {
      const { store } = await world(t);
      await store.asyncEvents.enqueue(anEvent('r1'));
      await store.asyncEvents.claimNext(ACCOUNT, 'fn', T0);
      await store.asyncEvents.recordAttemptStart(ACCOUNT, 'r1');
      const outcome = { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled', payload: '{"errorType":"Error"}' };
      assert.equal(await store.asyncEvents.reschedule(ACCOUNT, 'r1', { dueMs: T0 + 60_000, attempts: 1, throttles: 0, lastOutcome: outcome }), true);
      assert.equal(await store.asyncEvents.claimNext(ACCOUNT, 'fn', T0 + 59_999), undefined);
      const again = await store.asyncEvents.claimNext(ACCOUNT, 'fn', T0 + 60_000);
      assert.deepEqual(again && { attempts: again.attempts, dueMs: again.dueMs, lastOutcome: again.lastOutcome }, { attempts: 1, dueMs: T0 + 60_000, lastOutcome: outcome });
      // A reschedule without an outcome keeps the last one.
      await store.asyncEvents.reschedule(ACCOUNT, 'r1', { dueMs: T0, attempts: 1, throttles: 3 });
      const third = await store.asyncEvents.claimNext(ACCOUNT, 'fn', T0 + 60_000);
      assert.deepEqual(third && { throttles: third.throttles, lastOutcome: third.lastOutcome }, { throttles: 3, lastOutcome: outcome });
    });

    test('finish deletes the event and stores the follow-up event in the same step; queued bytes follow', async (t) => {
      const { store } = await world(t);
      const first = anEvent('r1');
      await store.asyncEvents.enqueue(first);
      assert.equal(await store.asyncEvents.queuedBytes(), first.payload.length);
      const followUp = anEvent('r2', { functionName: 'destination', payload: Buffer.from('{"version":"1.0"}') });
      await store.asyncEvents.finish(ACCOUNT, 'r1', followUp);
      assert.equal(await store.asyncEvents.queuedBytes(), followUp.payload.length);
      assert.equal(await store.asyncEvents.claimNext(ACCOUNT, 'fn', T0), undefined);
      assert.equal((await store.asyncEvents.claimNext(ACCOUNT, 'destination', T0))?.requestId, 'r2');
      await store.asyncEvents.finish(ACCOUNT, 'r2');
      await store.asyncEvents.finish(ACCOUNT, 'r2');
      assert.equal(await store.asyncEvents.queuedBytes(), 0);
    });

    test('after a reopen, running events are due again: the first interruption gives its attempt back, the second does not', async (t) => {
      const { store, dir } = await world(t);
      await store.asyncEvents.enqueue(anEvent('r1', { dueMs: T0 }));
      await store.asyncEvents.enqueue(anEvent('waiting', { dueMs: T0 + 120_000, attempts: 1 }));
      await store.asyncEvents.claimNext(ACCOUNT, 'fn', T0);
      await store.asyncEvents.recordAttemptStart(ACCOUNT, 'r1');
      await store.close();
      const reopened = await make.open(dir);
      t.after(() => reopened.close());
      assert.equal(await reopened.asyncEvents.recoverRunning(T0 + 5), 1);
      const redo = await reopened.asyncEvents.claimNext(ACCOUNT, 'fn', T0 + 5);
      assert.deepEqual(redo && { id: redo.requestId, attempts: redo.attempts, redone: redo.redone }, { id: 'r1', attempts: 0, redone: true });
      await reopened.asyncEvents.recordAttemptStart(ACCOUNT, 'r1');
      assert.equal(await reopened.asyncEvents.recoverRunning(T0 + 6), 1);
      const second = await reopened.asyncEvents.claimNext(ACCOUNT, 'fn', T0 + 6);
      assert.deepEqual(second && { id: second.requestId, attempts: second.attempts }, { id: 'r1', attempts: 1 });
      assert.equal(await reopened.asyncEvents.nextDueMs(T0), T0 + 120_000);
    });

    test("deleting a function's events drops exactly them and their bytes; a reschedule then finds nothing", async (t) => {
      const { store } = await world(t);
      await store.asyncEvents.enqueue(anEvent('r1'));
      await store.asyncEvents.enqueue(anEvent('r2'));
      const other = anEvent('r3', { functionName: 'other' });
      await store.asyncEvents.enqueue(other);
      await store.asyncEvents.claimNext(ACCOUNT, 'fn', T0);
      assert.equal(await store.asyncEvents.deleteFunctionEvents(ACCOUNT, 'fn'), 2);
      assert.equal(await store.asyncEvents.queuedBytes(), other.payload.length);
      assert.equal(await store.asyncEvents.reschedule(ACCOUNT, 'r1', { dueMs: T0, attempts: 1, throttles: 0 }), false);
      assert.deepEqual(await store.asyncEvents.listDueFunctions(T0), [{ accountId: ACCOUNT, functionName: 'other' }]);
    });
  });

  describe(`EventInvokeConfigStore contract: ${make.name}`, () => {
    async function open(t: TestContext): Promise<Store> {
      const dir = await mkdtemp(join(tmpdir(), 'kindling-eic-store-'));
      t.after(() => rm(dir, { recursive: true, force: true }));
      const store = await make.open(dir);
      t.after(() => store.close());
      return store;
    }

    test('a saved config reads back whole, and absent settings stay absent', async (t) => {
      const store = await open(t);
      const full = aConfig('$LATEST', { maximumRetryAttempts: 0, maximumEventAgeSeconds: 60, onSuccess: 'arn:a', onFailure: 'arn:b' });
      await store.eventInvokeConfigs.saveConfig(full);
      await store.eventInvokeConfigs.saveConfig(aConfig('live'));
      assert.deepEqual(await store.eventInvokeConfigs.findConfig(ACCOUNT, 'fn', '$LATEST'), full);
      assert.deepEqual(await store.eventInvokeConfigs.findConfig(ACCOUNT, 'fn', 'live'), aConfig('live'));
      assert.equal(await store.eventInvokeConfigs.findConfig(ACCOUNT, 'fn', '1'), undefined);
    });

    test('saving again replaces every field', async (t) => {
      const store = await open(t);
      await store.eventInvokeConfigs.saveConfig(aConfig('1', { maximumRetryAttempts: 1, onFailure: 'arn:b' }));
      const next = aConfig('1', { maximumEventAgeSeconds: 100, lastModifiedMs: T0 + 1 });
      await store.eventInvokeConfigs.saveConfig(next);
      assert.deepEqual(await store.eventInvokeConfigs.findConfig(ACCOUNT, 'fn', '1'), next);
    });

    test('configs list by qualifier in pages and are deleted one by one', async (t) => {
      const store = await open(t);
      for (const q of ['live', '$LATEST', '2', '10']) await store.eventInvokeConfigs.saveConfig(aConfig(q));
      await store.eventInvokeConfigs.saveConfig({ ...aConfig('$LATEST'), functionName: 'other' });
      const first = await store.eventInvokeConfigs.listConfigs(ACCOUNT, 'fn', { limit: 3 });
      assert.deepEqual(first.items.map((c) => c.qualifier), ['$LATEST', '10', '2']);
      assert.ok(first.nextMarker);
      const second = await store.eventInvokeConfigs.listConfigs(ACCOUNT, 'fn', { limit: 3, marker: first.nextMarker });
      assert.deepEqual(second, { items: [aConfig('live')] });
      assert.equal(await store.eventInvokeConfigs.deleteConfig(ACCOUNT, 'fn', 'live'), true);
      assert.equal(await store.eventInvokeConfigs.deleteConfig(ACCOUNT, 'fn', 'live'), false);
      assert.deepEqual((await store.eventInvokeConfigs.listConfigs(ACCOUNT, 'fn', { limit: 10 })).items.map((c) => c.qualifier), ['$LATEST', '10', '2']);
      assert.ok(await store.eventInvokeConfigs.findConfig(ACCOUNT, 'other', '$LATEST'));
    });
  });
}
