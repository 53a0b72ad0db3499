import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { pino } from 'pino';
import { BatchingLogSink } from '../../../src/logs/log-sink.js';
import { createSilentLogger, type Logger } from '../../../src/shared/logger.js';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store.js';
import {
  StoreError,
  logEventBytes,
  type LogEventRecord,
  type LogStore,
} from '../../../src/store/store.js';

const ACCOUNT = '111111111111';

function anEvent(i: number, functionName = 'fn'): LogEventRecord {
  return {
    accountId: ACCOUNT,
    functionName,
    group: `/aws/lambda/${functionName}`,
    stream: '2024/01/02/[$LATEST]0123456789abcdef0123456789abcdef',
    timestampMs: 1_700_000_000_000 + i,
    message: `line ${String(i).padStart(4, '0')}`,
  };
}

/** A LogStore that records its calls; appends can be held at a gate or made to fail. */
class RecordingLogStore implements LogStore {
  readonly batches: LogEventRecord[][] = [];
  readonly capCalls: Array<{ functionName: string; maxBytes: number }> = [];
  readonly sizeCalls: string[] = [];
  readonly bytes = new Map<string, number>();
  failures = 0;
  gate: Promise<void> | undefined;
  #appended: Array<() => void> = [];
  #sized: Array<() => void> = [];

  /** Resolves at the next storedBytes call (the sink's cap check after a batch). */
  nextSizeCheck(): Promise<void> {
    return new Promise((resolve) => this.#sized.push(resolve));
  }

  /** Resolves at the next appendEvents call. */
  nextAppend(): Promise<void> {
    return new Promise((resolve) => this.#appended.push(resolve));
  }

  async appendEvents(events: readonly LogEventRecord[]): Promise<void> {
    for (const resolve of this.#appended.splice(0)) resolve();
    if (this.failures > 0) {
      this.failures -= 1;
      throw new StoreError('ERR_STORE_FULL', 'storage is full');
    }
    this.batches.push([...events]);
    for (const e of events) this.bytes.set(e.functionName, (this.bytes.get(e.functionName) ?? 0) + logEventBytes(e.message));
    await this.gate;
  }

  async enforceCap(_accountId: string, functionName: string, maxBytes: number): Promise<number> {
    this.capCalls.push({ functionName, maxBytes });
    return 0;
  }

  async storedBytes(_accountId: string, functionName: string): Promise<number> {
    this.sizeCalls.push(functionName);
    for (const resolve of this.#sized.splice(0)) resolve();
    return this.bytes.get(functionName) ?? 0;
  }

  async listEvents(): Promise<LogEventRecord[]> {
    return this.batches.flat();
  }

  async listStreams(): Promise<string[]> {
    return [];
  }

  async deleteFunctionLogs(): Promise<void> {}
}

function newSink(t: TestContext, store: LogStore, options: { log?: Logger; maxBytesPerFunction?: number; maxBatchEvents?: number } = {}) {
  const sink = new BatchingLogSink({
    store,
    maxBytesPerFunction: options.maxBytesPerFunction ?? 1024 * 1024,
    log: options.log ?? createSilentLogger(),
    flushIntervalMs: 25,
    maxBatchEvents: options.maxBatchEvents ?? 500,
  });
  t.after(() => sink.close());
  return sink;
}

function capturingLogger(): { log: Logger; lines: Array<{ level: number; msg: string }> } {
  const lines: Array<{ level: number; msg: string }> = [];
  const log = pino({ level: 'warn' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { log, lines };
}

describe('BatchingLogSink', () => {
  test('a burst of writes reaches the store in a few full batches, in order', async (t) => {
    const store = new RecordingLogStore();
    const sink = newSink(t, store);
    const written = Array.from({ length: 1200 }, (_, i) => anEvent(i));
    for (const e of written) sink.write(e);
    assert.equal(store.batches.length, 0, 'write() must not touch the store');
    await sink.flush();
    assert.deepEqual(store.batches.map((b) => b.length), [500, 500, 200]);
    assert.deepEqual(store.batches.flat(), written);
  });

  test('a few writes wait for the flush interval and then go in one batch', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const store = new RecordingLogStore();
    const sink = newSink(t, store);
    for (let i = 0; i < 3; i += 1) sink.write(anEvent(i));
    t.mock.timers.tick(24);
    assert.equal(store.batches.length, 0);
    t.mock.timers.tick(1);
    assert.deepEqual(store.batches, [[anEvent(0), anEvent(1), anEvent(2)]]);
  });

  test('a full batch is written on the next turn without waiting for the interval', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] }); // the interval never elapses in this test
    const store = new RecordingLogStore();
    const sink = newSink(t, store, { maxBatchEvents: 10 });
    const appended = store.nextAppend();
    for (let i = 0; i < 10; i += 1) sink.write(anEvent(i));
    await appended;
    assert.equal(store.batches[0]?.length, 10);
  });

  test('events written while a batch is being stored wait for the next interval instead of following at once', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const store = new RecordingLogStore();
    let open!: () => void;
    store.gate = new Promise((resolve) => (open = resolve));
    const sink = newSink(t, store);
    for (let i = 0; i < 3; i += 1) sink.write(anEvent(i));
    t.mock.timers.tick(25);
    assert.equal(store.batches.length, 1);
    sink.write(anEvent(3));
    sink.write(anEvent(4));
    const checked = store.nextSizeCheck();
    open();
    await checked; // the first batch is done; what is left of the drain runs in this turn's microtasks
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(store.batches.length, 1);
    t.mock.timers.tick(25);
    assert.deepEqual(store.batches[1], [anEvent(3), anEvent(4)]);
  });

  test('flush resolves only once earlier events are stored, each settled callback running once after its store', async (t) => {
    const store = new RecordingLogStore();
    let open!: () => void;
    store.gate = new Promise((resolve) => (open = resolve));
    const sink = newSink(t, store);
    const settled: string[] = [];
    for (let i = 0; i < 3; i += 1) sink.write(anEvent(i), (e) => settled.push(e.message));
    let flushed = false;
    const flushing = sink.flush().then(() => (flushed = true));
    assert.equal(store.batches.length, 1, 'flush writes at once');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(flushed, false);
    assert.deepEqual(settled, []);
    open();
    await flushing;
    assert.deepEqual(settled, ['line 0000', 'line 0001', 'line 0002']);
  });

  test('a batch the store refuses is dropped with a warning, settled, and later events are still written', async (t) => {
    const store = new RecordingLogStore();
    store.failures = 1;
    const { log, lines } = capturingLogger();
    const sink = newSink(t, store, { log });
    const settled: string[] = [];
    sink.write(anEvent(0), (e) => settled.push(e.message));
    await sink.flush();
    assert.deepEqual(settled, ['line 0000']);
    assert.equal(lines.length, 1);
    assert.match(lines[0]?.msg ?? '', /dropped/);
    sink.write(anEvent(1));
    await sink.flush();
    assert.deepEqual(store.batches, [[anEvent(1)]]);
  });

  test('the cap is checked once per function per batch, and enforced with slack only when exceeded', async (t) => {
    const store = new RecordingLogStore();
    const max = 100 * logEventBytes('line 0000');
    const sink = newSink(t, store, { maxBytesPerFunction: max, maxBatchEvents: 500 });
    for (let i = 0; i < 1000; i += 1) sink.write(anEvent(i, i % 2 === 0 ? 'even' : 'odd'));
    await sink.flush();
    assert.equal(store.batches.length, 2);
    assert.deepEqual(store.sizeCalls, ['even', 'odd', 'even', 'odd']);
    assert.deepEqual(
      store.capCalls,
      ['even', 'odd', 'even', 'odd'].map((functionName) => ({ functionName, maxBytes: max - Math.floor(max / 10) })),
    );
    sink.write(anEvent(0, 'small'));
    await sink.flush();
    assert.equal(store.capCalls.length, 4, 'a function under its cap is not pruned');
  });

  test('the cap deletes a function’s oldest events from a real store and leaves other functions alone', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'kindling-log-sink-'));
    const store = SqliteStore.open({ path: join(dir, 'kindling.sqlite') });
    t.after(async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    });
    const max = 50 * logEventBytes('line 0000');
    const sink = newSink(t, store.logs, { maxBytesPerFunction: max, maxBatchEvents: 64 });
    for (let i = 0; i < 300; i += 1) sink.write(anEvent(i));
    for (let i = 0; i < 5; i += 1) sink.write(anEvent(i, 'quiet'));
    await sink.flush();
    const stored = await store.logs.storedBytes(ACCOUNT, 'fn');
    assert.ok(stored <= max, `${stored} > ${max}`);
    const left = await store.logs.listEvents(ACCOUNT, '/aws/lambda/fn', { limit: 1000 });
    assert.ok(left.length >= 40, `only ${left.length} left`);
    assert.deepEqual(left, Array.from({ length: left.length }, (_, i) => anEvent(300 - left.length + i)));
    assert.equal((await store.logs.listEvents(ACCOUNT, '/aws/lambda/quiet', { limit: 100 })).length, 5);
  });

  test('close writes what is queued, settles later writes without storing them, and can be called twice', async (t) => {
    const store = new RecordingLogStore();
    const sink = newSink(t, store);
    sink.write(anEvent(0));
    await Promise.all([sink.close(), sink.close()]);
    assert.deepEqual(store.batches, [[anEvent(0)]]);
    const settled: string[] = [];
    sink.write(anEvent(1), (e) => settled.push(e.message));
    assert.deepEqual(settled, ['line 0001']);
    await sink.flush();
    assert.equal(store.batches.length, 1);
  });
});
