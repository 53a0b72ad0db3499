import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { describe, test, type TestContext } from 'node:test';
import {
  EnvironmentLog,
  MAX_LOG_LINE_BYTES,
  type EnvironmentLogDeps,
} from '../../../src/logs/environment-log.js';
import { BatchingLogSink, type LogEventSettled, type LogSink } from '../../../src/logs/log-sink.js';
import { createSilentLogger } from '../../../src/shared/logger.js';
import type { Clock } from '../../../src/shared/clock.js';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store.js';
import type { LogEventRecord } from '../../../src/store/store.js';
import { clockReading } from '../../support/manual-clock.js';

const ACCOUNT = '111111111111';
const GROUP = '/aws/lambda/fn';
const STREAM = '2024/01/02/[$LATEST]0123456789abcdef0123456789abcdef';
const MiB = 1024 * 1024;

/** A sink that stores at once, or (held) keeps events unsettled until release(): a sink as slow as the test wants. */
class TestSink implements LogSink {
  readonly stored: LogEventRecord[] = [];
  readonly #held: Array<{ event: LogEventRecord; settled: LogEventSettled | undefined }> = [];

  constructor(private holding = false) {}

  write(event: LogEventRecord, settled?: LogEventSettled): void {
    if (this.holding) {
      this.#held.push({ event, settled });
      return;
    }
    this.stored.push(event);
    settled?.(event);
  }

  get held(): LogEventRecord[] {
    return this.#held.map((h) => h.event);
  }

  /** Stores every held event in order (and those written meanwhile), then stores at once from now on. */
  release(): void {
    // Still holding while draining: what is written meanwhile queues behind, as in a real sink.
    this.holding = true;
    for (let next = this.#held.shift(); next; next = this.#held.shift()) {
      this.stored.push(next.event);
      next.settled?.(next.event);
    }
    this.holding = false;
  }

  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}

interface World {
  log: EnvironmentLog;
  sink: TestSink;
  stdout: PassThrough;
  stderr: PassThrough;
  clock: Clock & { nowMs: number };
}

function newWorld(t: TestContext, options: { holding?: boolean; deps?: Partial<EnvironmentLogDeps> } = {}): World {
  const sink = new TestSink(options.holding);
  const clock: World['clock'] = Object.assign(clockReading((): number => clock.nowMs), { nowMs: 1_700_000_000_000 });
  const log = new EnvironmentLog({ sink, group: GROUP, stream: STREAM, accountId: ACCOUNT, functionName: 'fn', clock, ...options.deps });
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  log.attach(stdout);
  log.attach(stderr);
  t.after(async () => {
    sink.release();
    await log.close();
  });
  return { log, sink, stdout, stderr, clock };
}

function messages(events: readonly LogEventRecord[]): string[] {
  return events.map((e) => e.message);
}

/** Writes and waits until the log (the first 'data' listener) has taken the chunk. */
async function feed(stream: PassThrough, text: string | Buffer): Promise<void> {
  const taken = once(stream, 'data');
  stream.write(text);
  await taken;
}

describe('EnvironmentLog', () => {
  test('cuts output into one event per line, keeping carriage returns inside lines', async (t) => {
    const { log, sink, stdout, clock } = newWorld(t);
    clock.nowMs = 1_700_000_000_123;
    stdout.write('one\ntwo\r\nthree\rstill three\n\n');
    await log.settle();
    assert.deepEqual(messages(sink.stored), ['one', 'two\r', 'three\rstill three', '']);
    assert.deepEqual(sink.stored[0], {
      accountId: ACCOUNT,
      functionName: 'fn',
      group: GROUP,
      stream: STREAM,
      timestampMs: 1_700_000_000_123,
      message: 'one',
    });
  });

  test('a line without its newline waits for the rest of it', async (t) => {
    const { sink, stdout } = newWorld(t);
    await feed(stdout, 'hal');
    assert.deepEqual(sink.stored, []);
    await feed(stdout, 'f a li');
    await feed(stdout, 'ne\nnext');
    assert.deepEqual(messages(sink.stored), ['half a line']);
  });

  test('a character split across chunks arrives whole', async (t) => {
    const { sink, stdout } = newWorld(t);
    const bytes = Buffer.from('ünï🎉\n', 'utf8');
    for (let i = 0; i < bytes.length; i += 1) await feed(stdout, bytes.subarray(i, i + 1));
    assert.deepEqual(messages(sink.stored), ['ünï🎉']);
  });

  test('settle() hands over output written just before it, the unterminated last line included', async (t) => {
    const { log, sink, stdout, stderr } = newWorld(t);
    stdout.write('out 1\nout 2\nout partial');
    stderr.write('err 1\nerr partial');
    await log.settle();
    const got = messages(sink.stored);
    assert.deepEqual(got.filter((m) => m.startsWith('out')), ['out 1', 'out 2', 'out partial']);
    assert.deepEqual(got.filter((m) => m.startsWith('err')), ['err 1', 'err partial']);
    await log.settle();
    assert.equal(sink.stored.length, 5, 'a second settle adds nothing');
  });

  test('lines of stdout and stderr keep the order in which they arrived', async (t) => {
    const { sink, stdout, stderr } = newWorld(t);
    await feed(stdout, 'first\n');
    await feed(stderr, 'second\n');
    await feed(stdout, 'third\n');
    assert.deepEqual(messages(sink.stored), ['first', 'second', 'third']);
  });

  test('settle() after a child process answers holds everything it printed before answering', async (t) => {
    // The child prints to its stdout pipe (more than a pipe holds, and an unterminated last line), then "answers"
    // on another pipe, as a runtime answers the Runtime API after logging. No sleeping: settle() must suffice.
    const script = `
      const fs = require('node:fs');
      for (let round = 0; round < 5; round += 1) {
        for (let i = 0; i < 2000; i += 1) fs.writeSync(1, 'round ' + round + ' line ' + i + ' ' + 'x'.repeat(40) + '\\n');
        fs.writeSync(1, 'round ' + round + ' tail');
        fs.writeSync(3, 'answer ' + round + '\\n');
        fs.readSync(0, Buffer.alloc(1)); // wait for the parent's go
      }`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'pipe', 'pipe'] });
    t.after(() => child.kill('SIGKILL'));
    const sink = new TestSink();
    const log = new EnvironmentLog({ sink, group: GROUP, stream: STREAM, accountId: ACCOUNT, functionName: 'fn', clock: clockReading(() => 0) });
    t.after(() => log.close());
    log.attach(child.stdout);
    log.attach(child.stderr);
    const answers = child.stdio[3] as Readable;
    for (let round = 0; round < 5; round += 1) {
      await once(answers, 'data');
      await log.settle();
      const ofRound = messages(sink.stored).filter((m) => m.startsWith(`round ${round} `));
      assert.equal(ofRound.length, 2001, `round ${round}`);
      assert.equal(ofRound.at(-1), `round ${round} tail`);
      child.stdin.write('g');
    }
    await once(child, 'exit');
  });

  test('settle() reads what sits unread in a pipe when it is called, without any other wait', async (t) => {
    // The write end is written synchronously here, so the bytes are in the kernel and libuv has not seen them:
    // only settle() waiting for a poll phase can bring them in.
    const dir = await mkdtemp(join(tmpdir(), 'kindling-environment-log-'));
    const fifo = join(dir, 'stdout');
    execFileSync('mkfifo', [fifo]);
    const reader = new Socket({ fd: openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK), readable: true, writable: false });
    const writeFd = openSync(fifo, 'w');
    const sink = new TestSink();
    const log = new EnvironmentLog({ sink, group: GROUP, stream: STREAM, accountId: ACCOUNT, functionName: 'fn', clock: clockReading(() => 0) });
    t.after(async () => {
      await log.close();
      closeSync(writeFd);
      reader.destroy();
      await rm(dir, { recursive: true, force: true });
    });
    log.attach(reader);
    for (let round = 0; round < 20; round += 1) {
      // Under the 64 KiB a pipe holds, so writeSync cannot block on this single thread.
      const text = Array.from({ length: 500 }, (_, i) => `round ${round} line ${i}\n`).join('') + `round ${round} tail`;
      writeSync(writeFd, text);
      await log.settle();
      const ofRound = messages(sink.stored).filter((m) => m.startsWith(`round ${round} `));
      assert.equal(ofRound.length, 501, `round ${round}`);
      assert.equal(ofRound.at(-1), `round ${round} tail`);
    }
  });

  test('a line longer than 256 KiB is cut into events at character boundaries', async (t) => {
    const { log, sink, stdout } = newWorld(t);
    const long = 'é'.repeat(200 * 1024); // 400 KiB of two-byte characters
    stdout.write(`${long}\nshort\n`);
    await log.settle();
    const got = messages(sink.stored);
    assert.equal(got.length, 3);
    assert.ok(got.slice(0, 2).every((m) => Buffer.byteLength(m) <= MAX_LOG_LINE_BYTES && !m.includes('\ufffd')));
    assert.equal(got[0]?.length, MAX_LOG_LINE_BYTES / 2);
    assert.equal(got.slice(0, 2).join(''), long);
    assert.equal(got[2], 'short');
  });

  test('an endless line is cut as it arrives rather than buffered whole', async (t) => {
    const { sink, stdout } = newWorld(t);
    const chunk = 'z'.repeat(64 * 1024);
    for (let i = 0; i < 5; i += 1) await feed(stdout, chunk);
    assert.deepEqual(sink.stored.map((e) => e.message.length), [MAX_LOG_LINE_BYTES]);
  });

  test('the tail is the last 4096 bytes of the invocation, START to REPORT, starting at a whole character', async (t) => {
    const { log, stdout } = newWorld(t);
    const invocation = log.beginInvocation();
    log.platform('START RequestId: r1 Version: $LATEST');
    for (let i = 0; i < 200; i += 1) stdout.write(`line ${i} — ünïcödé 🎉\n`);
    await log.settle();
    log.platform('END RequestId: r1');
    log.platform('REPORT RequestId: r1\tDuration: 1.00 ms\t');
    const full = invocation.tail(1 * MiB);
    assert.ok(full.startsWith('START RequestId: r1 Version: $LATEST\nline 0 — ünïcödé 🎉\n'));
    assert.ok(full.endsWith('line 199 — ünïcödé 🎉\nEND RequestId: r1\nREPORT RequestId: r1\tDuration: 1.00 ms\t\n'));
    const tail = invocation.tail(4096);
    const bytes = Buffer.byteLength(tail);
    assert.ok(bytes <= 4096 && bytes > 4096 - 4, `${bytes} bytes`);
    assert.ok(full.endsWith(tail));
    assert.ok(!tail.includes('\ufffd'));
    // Cut inside a four-byte character: the tail starts after it.
    const fromEmoji = Buffer.byteLength('🎉\nEND RequestId: r1\nREPORT RequestId: r1\tDuration: 1.00 ms\t\n');
    assert.equal(invocation.tail(fromEmoji - 1), '\nEND RequestId: r1\nREPORT RequestId: r1\tDuration: 1.00 ms\t\n');
  });

  test('an invocation collects only the lines written while it was open', async (t) => {
    const { log, stdout } = newWorld(t);
    const first = log.beginInvocation();
    log.platform('START 1');
    await feed(stdout, 'during first\n');
    first.end();
    await feed(stdout, 'between\n');
    const second = log.beginInvocation();
    log.platform('START 2');
    await feed(stdout, 'during second\n');
    assert.equal(first.tail(4096), 'START 1\nduring first\n');
    assert.equal(second.tail(4096), 'START 2\nduring second\n');
  });

  test('a slow sink holds at most 1 MiB of output; the rest is dropped and reported once with its size', async (t) => {
    const { log, sink, stdout } = newWorld(t, { holding: true });
    const lines = Array.from({ length: 8 * 1024 }, (_, i) => `${String(i).padStart(6, '0')} ${'y'.repeat(1000)}`);
    let maxBuffered = 0;
    for (const line of lines) {
      if (!stdout.write(`${line}\n`)) await once(stdout, 'drain');
      maxBuffered = Math.max(maxBuffered, log.bufferedBytes);
    }
    await log.settle();
    assert.ok(maxBuffered <= MiB, `${maxBuffered} bytes buffered`);
    const held = messages(sink.held);
    assert.deepEqual(held, lines.slice(0, held.length), 'what is kept is the output up to the first drop');
    assert.ok(held.length > 1000, `only ${held.length} lines kept`);

    sink.release();
    const notices = messages(sink.stored).filter((m) => m.startsWith('[kindling]'));
    const droppedBytes = lines.slice(held.length).reduce((sum, line) => sum + Buffer.byteLength(line), 0);
    assert.deepEqual(notices, [`[kindling] ${droppedBytes} bytes dropped`]);
    assert.equal(sink.stored.at(-1)?.message, notices[0]);

    await feed(stdout, 'after the gap\n');
    assert.equal(sink.stored.at(-1)?.message, 'after the gap');
    assert.equal(log.bufferedBytes, 0);
  });

  test('a platform line closes a gap first, so the drop notice stays inside its invocation', async (t) => {
    const { log, sink, stdout } = newWorld(t, { holding: true, deps: { maxBufferedBytes: 100 } });
    await feed(stdout, `${'a'.repeat(60)}\n${'b'.repeat(60)}\n`);
    log.platform('END RequestId: r1');
    assert.deepEqual(messages(sink.held).slice(1), ['[kindling] 60 bytes dropped', 'END RequestId: r1']);
  });

  test('close() takes the last unterminated output, then ignores later output and platform lines', async (t) => {
    const { log, sink, stdout } = newWorld(t);
    stdout.write('last words');
    await Promise.all([log.close(), log.close()]);
    assert.deepEqual(messages(sink.stored), ['last words']);
    stdout.write('ignored\n');
    log.platform('ignored too');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(messages(sink.stored), ['last words']);
  });

  test('lines and platform lines reach a SQLite store in order through the batching sink', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'kindling-environment-log-'));
    const store = SqliteStore.open({ path: join(dir, 'kindling.sqlite') });
    const sink = new BatchingLogSink({ store: store.logs, maxBytesPerFunction: MiB, log: createSilentLogger() });
    const clock = clockReading(() => 1_700_000_000_000);
    const log = new EnvironmentLog({ sink, group: GROUP, stream: STREAM, accountId: ACCOUNT, functionName: 'fn', clock });
    t.after(async () => {
      await log.close();
      await sink.close();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    });
    const stdout = new PassThrough();
    log.attach(stdout);
    log.platform('START RequestId: r1 Version: $LATEST');
    stdout.write('hello\nworld\n');
    await log.settle();
    log.platform('END RequestId: r1');
    await sink.flush();
    const stored = await store.logs.listEvents(ACCOUNT, GROUP, { limit: 10 });
    assert.deepEqual(messages(stored), ['START RequestId: r1 Version: $LATEST', 'hello', 'world', 'END RequestId: r1']);
    assert.deepEqual(await store.logs.listStreams(ACCOUNT, GROUP), [STREAM]);
  });
});
