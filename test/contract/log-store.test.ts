import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { logEventBytes, type LogEventRecord, type LogStore, type Store } from '../../src/store/store.js';

/** One LogStore implementation under the contract; `open` on the same dir must reach the same data. */
interface LogStoreFactory {
  name: string;
  open(dir: string): Promise<Store>;
}

const makeSqlite: LogStoreFactory = {
  name: 'SqliteLogStore',
  open: async (dir) => SqliteStore.open({ path: join(dir, 'kindling.sqlite') }),
};

const ACCOUNT = '111111111111';
const OTHER_ACCOUNT = '222222222222';
const GROUP = '/aws/lambda/fn';
const STREAM_A = '2024/01/02/[$LATEST]aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
const STREAM_B = '2024/01/02/[$LATEST]bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';

function anEvent(fields: Partial<LogEventRecord> = {}): LogEventRecord {
  return {
    accountId: ACCOUNT,
    functionName: 'fn',
    group: GROUP,
    stream: STREAM_A,
    timestampMs: 1_700_000_000_000,
    message: 'hello',
    ...fields,
  };
}

/** n events of the function, messages `${prefix}0` … in order, one millisecond apart. */
function events(n: number, fields: Partial<LogEventRecord> = {}, prefix = 'line '): LogEventRecord[] {
  return Array.from({ length: n }, (_, i) =>
    anEvent({ timestampMs: 1_700_000_000_000 + i, message: `${prefix}${i}`, ...fields }),
  );
}

function messages(list: readonly LogEventRecord[]): string[] {
  return list.map((e) => e.message);
}

for (const make of [makeSqlite]) {
  describe(`LogStore contract: ${make.name}`, () => {
    async function openWorld(t: TestContext): Promise<{ logs: LogStore; reopen: () => Promise<LogStore> }> {
      const dir = await mkdtemp(join(tmpdir(), 'kindling-log-store-'));
      const opened: Store[] = [];
      t.after(async () => {
        for (const store of opened) await store.close();
        await rm(dir, { recursive: true, force: true });
      });
      const reopen = async () => {
        const store = await make.open(dir);
        opened.push(store);
        return store.logs;
      };
      return { logs: await reopen(), reopen };
    }

    test('appended events come back exactly as written, in append order across calls', async (t) => {
      const { logs } = await openWorld(t);
      const first = anEvent({ message: 'tabs\tand\rreturns and ünïcödé 🎉', timestampMs: 1_700_000_000_005 });
      // An earlier timestamp appended later still lists after: order is append order.
      const second = anEvent({ message: '', timestampMs: 1_700_000_000_001 });
      await logs.appendEvents([first]);
      await logs.appendEvents([second]);
      await logs.appendEvents([]);
      assert.deepEqual(await logs.listEvents(ACCOUNT, GROUP, { limit: 10 }), [first, second]);
    });

    test('a group lists the events of all its streams interleaved in append order', async (t) => {
      const { logs } = await openWorld(t);
      await logs.appendEvents([
        anEvent({ stream: STREAM_A, message: 'a1' }),
        anEvent({ stream: STREAM_B, message: 'b1' }),
        anEvent({ stream: STREAM_A, message: 'a2' }),
      ]);
      assert.deepEqual(messages(await logs.listEvents(ACCOUNT, GROUP, { limit: 10 })), ['a1', 'b1', 'a2']);
      assert.deepEqual(messages(await logs.listEvents(ACCOUNT, GROUP, { stream: STREAM_A, limit: 10 })), ['a1', 'a2']);
      assert.deepEqual(messages(await logs.listEvents(ACCOUNT, GROUP, { stream: STREAM_B, limit: 10 })), ['b1']);
      assert.deepEqual(await logs.listEvents(ACCOUNT, GROUP, { stream: 'no-such-stream', limit: 10 }), []);
      assert.deepEqual(await logs.listEvents(ACCOUNT, '/aws/lambda/other', { limit: 10 }), []);
    });

    test('a listing returns the oldest events up to the limit and only those after afterMs', async (t) => {
      const { logs } = await openWorld(t);
      await logs.appendEvents(events(10));
      assert.deepEqual(messages(await logs.listEvents(ACCOUNT, GROUP, { limit: 3 })), ['line 0', 'line 1', 'line 2']);
      const after = await logs.listEvents(ACCOUNT, GROUP, { limit: 3, afterMs: 1_700_000_000_006 });
      assert.deepEqual(messages(after), ['line 7', 'line 8', 'line 9']);
      const ofStream = await logs.listEvents(ACCOUNT, GROUP, { stream: STREAM_A, limit: 100, afterMs: 1_700_000_000_008 });
      assert.deepEqual(messages(ofStream), ['line 9']);
    });

    test('a group lists its streams once each, by name', async (t) => {
      const { logs } = await openWorld(t);
      await logs.appendEvents([
        anEvent({ stream: STREAM_B }),
        anEvent({ stream: STREAM_A }),
        anEvent({ stream: STREAM_B }),
        anEvent({ group: '/aws/lambda/other', stream: 'elsewhere' }),
      ]);
      assert.deepEqual(await logs.listStreams(ACCOUNT, GROUP), [STREAM_A, STREAM_B]);
      assert.deepEqual(await logs.listStreams(ACCOUNT, '/aws/lambda/none'), []);
    });

    test('stored bytes are the sum of each event message in UTF-8 plus the per-event overhead', async (t) => {
      const { logs } = await openWorld(t);
      assert.equal(await logs.storedBytes(ACCOUNT, 'fn'), 0);
      await logs.appendEvents([anEvent({ message: 'abc' }), anEvent({ message: 'é🎉' })]);
      await logs.appendEvents([anEvent({ message: '' }), anEvent({ functionName: 'other', message: 'xyz' })]);
      assert.equal(await logs.storedBytes(ACCOUNT, 'fn'), 3 + 6 + 0 + 3 * logEventBytes(''));
      assert.equal(await logs.storedBytes(ACCOUNT, 'other'), logEventBytes('xyz'));
    });

    test('the cap deletes the oldest events of the function until it fits and reports what it deleted', async (t) => {
      const { logs } = await openWorld(t);
      const written = events(10); // 'line 0' … 'line 9': 6 bytes + overhead each
      const each = logEventBytes('line 0');
      await logs.appendEvents(written);
      await logs.appendEvents([anEvent({ functionName: 'neighbour', message: 'kept' })]);

      assert.equal(await logs.enforceCap(ACCOUNT, 'fn', 10 * each), 0);
      const deleted = await logs.enforceCap(ACCOUNT, 'fn', 7 * each + 1);
      assert.equal(deleted, 3 * each);
      assert.equal(await logs.storedBytes(ACCOUNT, 'fn'), 7 * each);
      const left = await logs.listEvents(ACCOUNT, GROUP, { limit: 100 });
      assert.deepEqual(messages(left), [...messages(written.slice(3)), 'kept']);

      assert.equal(await logs.enforceCap(ACCOUNT, 'fn', 0), 7 * each);
      assert.equal(await logs.storedBytes(ACCOUNT, 'fn'), 0);
      assert.deepEqual(messages(await logs.listEvents(ACCOUNT, GROUP, { limit: 100 })), ['kept']);
      assert.equal(await logs.storedBytes(ACCOUNT, 'neighbour'), logEventBytes('kept'));
    });

    test('the cap of a function with many events keeps exactly its newest events', async (t) => {
      const { logs } = await openWorld(t);
      const many = events(20_000);
      for (let i = 0; i < many.length; i += 1000) await logs.appendEvents(many.slice(i, i + 1000));
      const total = await logs.storedBytes(ACCOUNT, 'fn');
      assert.equal(total, many.reduce((sum, e) => sum + logEventBytes(e.message), 0));

      const deleted = await logs.enforceCap(ACCOUNT, 'fn', total - 1);
      assert.equal(deleted, logEventBytes('line 0'));
      const [oldest] = await logs.listEvents(ACCOUNT, GROUP, { limit: 1 });
      assert.equal(oldest?.message, 'line 1');
      assert.equal(await logs.storedBytes(ACCOUNT, 'fn'), total - deleted);
    });

    test('deleting a function’s logs removes its events and bytes and leaves other functions in its group', async (t) => {
      const { logs } = await openWorld(t);
      await logs.appendEvents([
        anEvent({ message: 'mine' }),
        anEvent({ functionName: 'sibling', message: 'shared group' }),
        anEvent({ stream: STREAM_B, message: 'mine too' }),
      ]);
      await logs.deleteFunctionLogs(ACCOUNT, 'fn');
      assert.deepEqual(messages(await logs.listEvents(ACCOUNT, GROUP, { limit: 10 })), ['shared group']);
      assert.equal(await logs.storedBytes(ACCOUNT, 'fn'), 0);
      assert.equal(await logs.storedBytes(ACCOUNT, 'sibling'), logEventBytes('shared group'));
      await logs.deleteFunctionLogs(ACCOUNT, 'never-logged');
      // Logging again after the delete starts from zero.
      await logs.appendEvents([anEvent({ message: 'again' })]);
      assert.equal(await logs.storedBytes(ACCOUNT, 'fn'), logEventBytes('again'));
    });

    test('accounts see only their own events, streams, bytes, caps and deletes', async (t) => {
      const { logs } = await openWorld(t);
      await logs.appendEvents([anEvent({ message: 'ours' }), anEvent({ accountId: OTHER_ACCOUNT, message: 'theirs' })]);
      assert.deepEqual(messages(await logs.listEvents(ACCOUNT, GROUP, { limit: 10 })), ['ours']);
      assert.deepEqual(messages(await logs.listEvents(OTHER_ACCOUNT, GROUP, { limit: 10 })), ['theirs']);
      assert.deepEqual(await logs.listStreams(OTHER_ACCOUNT, GROUP), [STREAM_A]);

      assert.equal(await logs.enforceCap(OTHER_ACCOUNT, 'fn', 0), logEventBytes('theirs'));
      assert.deepEqual(messages(await logs.listEvents(ACCOUNT, GROUP, { limit: 10 })), ['ours']);
      await logs.appendEvents([anEvent({ accountId: OTHER_ACCOUNT, message: 'theirs again' })]);
      await logs.deleteFunctionLogs(ACCOUNT, 'fn');
      assert.deepEqual(messages(await logs.listEvents(OTHER_ACCOUNT, GROUP, { limit: 10 })), ['theirs again']);
      assert.equal(await logs.storedBytes(OTHER_ACCOUNT, 'fn'), logEventBytes('theirs again'));
    });

    test('events, their order and byte totals survive closing and reopening the store', async (t) => {
      const { logs, reopen } = await openWorld(t);
      await logs.appendEvents(events(3));
      const bytes = await logs.storedBytes(ACCOUNT, 'fn');
      const again = await reopen();
      assert.deepEqual(messages(await again.listEvents(ACCOUNT, GROUP, { limit: 10 })), ['line 0', 'line 1', 'line 2']);
      assert.equal(await again.storedBytes(ACCOUNT, 'fn'), bytes);
      await again.appendEvents([anEvent({ message: 'after reopen' })]);
      const all = await again.listEvents(ACCOUNT, GROUP, { limit: 10 });
      assert.equal(all.at(-1)?.message, 'after reopen');
    });
  });
}
