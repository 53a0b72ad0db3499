/**
 * Where function log events go. BatchingLogSink keeps the store off the invoke path: write() only queues, and the
 * queue is written in batches (one store transaction each) on a short timer or as soon as a batch is full.
 * better-sqlite3 is synchronous on the server's only thread, so one insert of many rows costs far less of that
 * thread than many inserts of one (ARCHITECTURE.md, "Data").
 */
import type { Logger } from '../shared/logger.js';
import type { LogEventRecord, LogStore } from '../store/store.js';

/**
 * Called once the event has left the sink: stored, or dropped because the store failed or the sink is closed.
 * Lets a writer bound what it has in flight (EnvironmentLog's buffer cap).
 */
export type LogEventSettled = (event: LogEventRecord) => void;

export interface LogSink {
  /** Queues one event. Never blocks and never throws. */
  write(event: LogEventRecord, settled?: LogEventSettled): void;
  /** Resolves once every event written before the call has been stored (or dropped on a store failure). */
  flush(): Promise<void>;
  /** Flushes, then drops later writes. Idempotent. */
  close(): Promise<void>;
}

/** Long enough to gather a burst into one transaction, short enough that `kindling logs` feels live. */
export const DEFAULT_LOG_FLUSH_INTERVAL_MS = 25;
export const DEFAULT_LOG_BATCH_EVENTS = 500;

export interface BatchingLogSinkDeps {
  store: LogStore;
  /** Per-function cap on stored log bytes (LogStore.storedBytes); the oldest events are deleted first. */
  maxBytesPerFunction: number;
  log: Logger;
  flushIntervalMs?: number;
  maxBatchEvents?: number;
}

interface Queued {
  event: LogEventRecord;
  settled: LogEventSettled | undefined;
}

export class BatchingLogSink implements LogSink {
  readonly #deps: BatchingLogSinkDeps;
  readonly #flushIntervalMs: number;
  readonly #maxBatchEvents: number;
  readonly #queue: Queued[] = [];
  /** Events ever queued, and events ever settled: flush() waits for the second to reach the first. */
  #queuedCount = 0;
  #settledCount = 0;
  /** The highest #queuedCount a flush() waits for. */
  #flushTarget = 0;
  #timer: NodeJS.Timeout | undefined;
  #immediate: NodeJS.Immediate | undefined;
  #draining: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  constructor(deps: BatchingLogSinkDeps) {
    this.#deps = deps;
    this.#flushIntervalMs = deps.flushIntervalMs ?? DEFAULT_LOG_FLUSH_INTERVAL_MS;
    this.#maxBatchEvents = deps.maxBatchEvents ?? DEFAULT_LOG_BATCH_EVENTS;
  }

  write(event: LogEventRecord, settled?: LogEventSettled): void {
    if (this.#closing) {
      settled?.(event);
      return;
    }
    this.#queue.push({ event, settled });
    this.#queuedCount += 1;
    if (this.#draining) return; // the running drain takes full batches and arms the timer for the rest
    if (this.#queue.length >= this.#maxBatchEvents) {
      // A full batch goes at once, but on the next turn: write() itself must stay O(1) for its caller.
      this.#immediate ??= setImmediate(() => {
        this.#immediate = undefined;
        void this.#drain();
      });
    } else {
      this.#armTimer();
    }
  }

  async flush(): Promise<void> {
    const target = this.#queuedCount;
    this.#flushTarget = Math.max(this.#flushTarget, target);
    while (this.#settledCount < target) await this.#drain();
  }

  close(): Promise<void> {
    this.#closing ??= this.flush();
    return this.#closing;
  }

  #armTimer(): void {
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      void this.#drain();
    }, this.#flushIntervalMs).unref();
  }

  /**
   * Writes what is queued: the first batch, then further batches while they are full or a flush wants them. A
   * partial batch that arrived meanwhile waits for the timer, so steady logging still goes in batches rather
   * than one transaction per store round trip. One drain at a time; callers share it.
   */
  #drain(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#immediate) clearImmediate(this.#immediate);
    this.#immediate = undefined;
    this.#draining ??= (async () => {
      try {
        while (this.#queue.length > 0) {
          await this.#writeBatch(this.#queue.splice(0, this.#maxBatchEvents));
          const wanted = this.#queue.length >= this.#maxBatchEvents || this.#settledCount < this.#flushTarget;
          if (!wanted) break;
          // Give the thread back between batches: a backlog must not hold up invocations.
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      } finally {
        this.#draining = undefined;
        if (this.#queue.length > 0) this.#armTimer();
      }
    })();
    return this.#draining;
  }

  async #writeBatch(batch: Queued[]): Promise<void> {
    const events = batch.map((q) => q.event);
    try {
      await this.#deps.store.appendEvents(events);
    } catch (error) {
      // Function logs are best effort: a full disk must not stop invocations, nor grow this queue without end.
      this.#deps.log.warn({ err: error, events: events.length }, 'function log events dropped: the store refused them');
    }
    this.#settledCount += batch.length;
    for (const q of batch) {
      try {
        q.settled?.(q.event);
      } catch (error) {
        this.#deps.log.error({ err: error }, 'a log writer failed on a settled event');
      }
    }
    await this.#enforceCaps(events);
  }

  /**
   * Once per function of the batch. Over the cap, deletes down to 90% of it, so a function that logs at its cap
   * costs one delete per tenth of the cap rather than one per batch.
   */
  async #enforceCaps(events: readonly LogEventRecord[]): Promise<void> {
    const { store, maxBytesPerFunction: max } = this.#deps;
    const seen = new Set<string>();
    for (const e of events) {
      const key = `${e.accountId}\u0000${e.functionName}`;
      if (seen.has(key)) continue;
      seen.add(key);
      try {
        if ((await store.storedBytes(e.accountId, e.functionName)) > max) {
          await store.enforceCap(e.accountId, e.functionName, max - Math.floor(max / 10));
        }
      } catch (error) {
        this.#deps.log.warn({ err: error, functionName: e.functionName }, 'function log cap not enforced');
      }
    }
  }
}
