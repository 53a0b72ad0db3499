/**
 * The log of one execution environment: the runtime's stdout and stderr cut into lines, platform lines in between,
 * all into one log stream through a LogSink, plus the per-invocation tail that Invoke returns as X-Amz-Log-Result.
 *
 * Bounded (ARCHITECTURE.md, "Data"): lines handed to the sink and not yet stored are at most maxBufferedBytes;
 * beyond that, output is dropped — never the runtime slowed down — and one `[kindling] N bytes dropped` line
 * marks the gap once the sink has caught up.
 */
import type { Readable } from 'node:stream';
import type { Clock } from '../shared/clock.js';
import type { LogEventRecord } from '../store/store.js';
import type { LogSink } from './log-sink.js';

export interface LogLine {
  timestampMs: number;
  message: string;
}

export interface EnvironmentLogDeps {
  sink: LogSink;
  group: string;
  stream: string;
  accountId: string;
  functionName: string;
  clock: Clock;
  /** Bytes handed to the sink and not yet stored, at most; default DEFAULT_MAX_BUFFERED_LOG_BYTES. */
  maxBufferedBytes?: number;
}

/** The lines of one invocation, for X-Amz-Log-Result. */
export interface InvocationLog {
  /** The last maxBytes bytes (UTF-8) of the invocation's lines, each ending in \n, cut at a character boundary. */
  tail(maxBytes: number): string;
  /** Stops collecting. */
  end(): void;
}

export const DEFAULT_MAX_BUFFERED_LOG_BYTES = 1024 * 1024;
/** CloudWatch Logs' largest event; a longer line is cut into several. */
export const MAX_LOG_LINE_BYTES = 256 * 1024;
/** What an invocation keeps for its tail: tail(maxBytes) is exact up to this (Lambda's tail is 4 KiB). */
export const TAIL_RETAINED_BYTES = 64 * 1024;
/** Once dropping, lines are accepted again only when the backlog is down to this fraction (one notice per gap). */
const RESUME_FRACTION = 0.5;
/** settle() waits for a turn of the event loop without output, but no longer than this many turns. */
const MAX_SETTLE_TURNS = 64;

const NEWLINE = 0x0a;

/** The largest n ≤ max such that bytes[n] starts a character (never splits a UTF-8 sequence when it can help it). */
function utf8Cut(bytes: Buffer, max: number): number {
  if (bytes.length <= max) return bytes.length;
  let n = max;
  while (n > 0 && ((bytes[n] ?? 0) & 0xc0) === 0x80) n -= 1;
  return n === 0 ? max : n;
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

class InvocationLines implements InvocationLog {
  #lines: string[] = [];
  #bytes: number[] = [];
  #total = 0;
  #open = true;

  constructor(private readonly owner: Set<InvocationLines>) {}

  add(message: string): void {
    if (!this.#open) return;
    const bytes = Buffer.byteLength(message, 'utf8') + 1;
    this.#lines.push(message);
    this.#bytes.push(bytes);
    this.#total += bytes;
    // Trim in bulk, keeping at least TAIL_RETAINED_BYTES, so a chatty invocation costs O(1) per line.
    if (this.#total > 2 * TAIL_RETAINED_BYTES) {
      let drop = 0;
      while (drop < this.#bytes.length - 1 && this.#total - (this.#bytes[drop] ?? 0) >= TAIL_RETAINED_BYTES) {
        this.#total -= this.#bytes[drop] ?? 0;
        drop += 1;
      }
      this.#lines.splice(0, drop);
      this.#bytes.splice(0, drop);
    }
  }

  tail(maxBytes: number): string {
    const all = Buffer.from(this.#lines.map((line) => `${line}\n`).join(''), 'utf8');
    if (all.length <= maxBytes) return all.toString('utf8');
    let start = all.length - maxBytes;
    while (start < all.length && ((all[start] ?? 0) & 0xc0) === 0x80) start += 1;
    return all.subarray(start).toString('utf8');
  }

  end(): void {
    this.#open = false;
    this.owner.delete(this);
  }
}

interface Attached {
  stream: NodeJS.ReadableStream;
  /** The bytes of the line not yet ended by \n. */
  partial: Buffer[];
  partialBytes: number;
  ended: boolean;
  detach(): void;
}

export class EnvironmentLog {
  readonly #deps: EnvironmentLogDeps;
  readonly #maxBufferedBytes: number;
  readonly #attached: Attached[] = [];
  readonly #invocations = new Set<InvocationLines>();
  #inFlightBytes = 0;
  #dropping = false;
  #droppedBytes = 0;
  /** Counts chunks read, so settle() can tell a quiet turn. */
  #chunks = 0;
  #closing: Promise<void> | undefined;
  /** Set once close() has taken the last output: later lines are ignored. */
  #stopped = false;

  constructor(deps: EnvironmentLogDeps) {
    this.#deps = deps;
    this.#maxBufferedBytes = deps.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_LOG_BYTES;
  }

  /** Bytes handed to the sink and not yet stored: at most maxBufferedBytes (or one line, when that is larger). */
  get bufferedBytes(): number {
    return this.#inFlightBytes;
  }

  /** Reads the stream (the runtime's stdout or stderr) to its end, line by line. */
  attach(stream: NodeJS.ReadableStream): void {
    const attached: Attached = { stream, partial: [], partialBytes: 0, ended: false, detach: () => {} };
    const onData = (chunk: Buffer | string) => this.#onData(attached, chunk);
    const onEnd = () => {
      attached.ended = true;
      this.#flushPartial(attached);
    };
    // The read end of a pipe fails only when the process is gone; its exit is reported elsewhere.
    const onError = () => onEnd();
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
    attached.detach = () => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
    };
    this.#attached.push(attached);
  }

  /** A platform line (START, END, REPORT, INIT_START…): never dropped, and in the current invocation's tail. */
  platform(message: string): void {
    if (this.#stopped) return;
    // A gap is reported inside the invocation that caused it, before its END/REPORT.
    if (this.#dropping) this.#endGap();
    for (const invocation of this.#invocations) invocation.add(message);
    this.#send(message, this.#deps.clock.now());
  }

  /** Starts collecting the lines (output and platform) of one invocation; end() the handle when it is over. */
  beginInvocation(): InvocationLog {
    const invocation = new InvocationLines(this.#invocations);
    this.#invocations.add(invocation);
    return invocation;
  }

  /**
   * Resolves once the output that was in the attached pipes when settle() was called has been read, cut into
   * lines and handed to the sink, the unterminated last line of each stream included (as a line of its own).
   *
   * How: a runtime writes its output before it answers the Runtime API, so by the time the answer is seen the
   * output sits in the kernel's pipe. libuv reads a readable pipe until it is empty (up to 2 MiB per wakeup;
   * a pipe holds 64 KiB by default) and a net stream emits 'data' within that callback, its next ticks included.
   * setImmediate runs in the check phase, right after a poll phase; the second one therefore runs after a poll
   * phase that started after this call, which saw every pipe that was readable then. settle() keeps waiting,
   * turn by turn, while the previous turn still read output or a stream still has unread buffered data (a paused
   * stream), up to MAX_SETTLE_TURNS turns, so a runtime that prints without pause cannot hold it up for long.
   * No timers: it costs a few microseconds when the pipes are quiet.
   */
  async settle(): Promise<void> {
    await nextTurn();
    for (let turn = 0; turn < MAX_SETTLE_TURNS; turn += 1) {
      const before = this.#chunks;
      await nextTurn();
      const buffered = this.#attached.some(
        (a) => !a.ended && ((a.stream as Partial<Readable>).readableLength ?? 0) > 0,
      );
      if (this.#chunks === before && !buffered) break;
    }
    for (const attached of this.#attached) this.#flushPartial(attached);
  }

  /** Takes what the streams still hold (settle), stops reading them and ends open invocations. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.settle();
      if (this.#dropping) this.#endGap();
      this.#stopped = true;
      for (const attached of this.#attached) attached.detach();
      for (const invocation of [...this.#invocations]) invocation.end();
    })();
    return this.#closing;
  }

  #onData(attached: Attached, chunk: Buffer | string): void {
    this.#chunks += 1;
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    const now = this.#deps.clock.now();
    let start = 0;
    for (let nl = bytes.indexOf(NEWLINE, start); nl !== -1; nl = bytes.indexOf(NEWLINE, start)) {
      const piece = bytes.subarray(start, nl);
      const line = attached.partialBytes === 0 ? piece : Buffer.concat([...attached.partial, piece]);
      attached.partial = [];
      attached.partialBytes = 0;
      this.#takeLine(line, now);
      start = nl + 1;
    }
    if (start === bytes.length) return;
    attached.partial.push(bytes.subarray(start));
    attached.partialBytes += bytes.length - start;
    if (attached.partialBytes <= MAX_LOG_LINE_BYTES) return;
    // A line that never ends is cut into events of the largest size, as it arrives.
    let rest = Buffer.concat(attached.partial);
    while (rest.length > MAX_LOG_LINE_BYTES) {
      const cut = utf8Cut(rest, MAX_LOG_LINE_BYTES);
      this.#output(rest.subarray(0, cut).toString('utf8'), now);
      rest = rest.subarray(cut);
    }
    attached.partial = [rest];
    attached.partialBytes = rest.length;
  }

  #flushPartial(attached: Attached): void {
    if (attached.partialBytes === 0) return;
    const line = Buffer.concat(attached.partial);
    attached.partial = [];
    attached.partialBytes = 0;
    this.#takeLine(line, this.#deps.clock.now());
  }

  #takeLine(line: Buffer, timestampMs: number): void {
    let rest = line;
    while (rest.length > MAX_LOG_LINE_BYTES) {
      const cut = utf8Cut(rest, MAX_LOG_LINE_BYTES);
      this.#output(rest.subarray(0, cut).toString('utf8'), timestampMs);
      rest = rest.subarray(cut);
    }
    this.#output(rest.toString('utf8'), timestampMs);
  }

  /** One line of the runtime's output: into the tails always, to the sink if the backlog allows. */
  #output(message: string, timestampMs: number): void {
    if (this.#stopped) return;
    for (const invocation of this.#invocations) invocation.add(message);
    if (this.#dropping) this.#tryEndGap();
    const bytes = Buffer.byteLength(message, 'utf8');
    // An empty backlog takes any line, so a cap smaller than a line cannot silence the function for good.
    if (!this.#dropping && (this.#inFlightBytes + bytes <= this.#maxBufferedBytes || this.#inFlightBytes === 0)) {
      this.#send(message, timestampMs);
      return;
    }
    this.#dropping = true;
    this.#droppedBytes += bytes;
  }

  #send(message: string, timestampMs: number): void {
    this.#inFlightBytes += Buffer.byteLength(message, 'utf8');
    const { accountId, functionName, group, stream } = this.#deps;
    this.#deps.sink.write({ accountId, functionName, group, stream, timestampMs, message }, this.#onSettled);
  }

  readonly #onSettled = (event: LogEventRecord): void => {
    this.#inFlightBytes -= Buffer.byteLength(event.message, 'utf8');
    if (this.#dropping) this.#tryEndGap();
  };

  #tryEndGap(): void {
    if (this.#inFlightBytes <= this.#maxBufferedBytes * RESUME_FRACTION) this.#endGap();
  }

  #endGap(): void {
    const dropped = this.#droppedBytes;
    this.#dropping = false;
    this.#droppedBytes = 0;
    if (dropped > 0) this.#send(`[kindling] ${dropped} bytes dropped`, this.#deps.clock.now());
  }
}
