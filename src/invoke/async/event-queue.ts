/**
 * Asynchronous invocation (LAMBDA_REFERENCE §7.1): accepted events are stored durably, then run through the same
 * path as synchronous invokes (InvokeService), with Lambda's retries, maximum event age and destinations.
 *
 * Scheduling: attempts run in parallel up to maxParallel in all and, per function, up to its reserved concurrency
 * (the pool throttles the rest, which come back with backoff). Functions with due events take turns (round-robin),
 * so one function's backlog does not starve another's. Delays run on the injected clock: one timer, set for the
 * earliest due event.
 *
 * At-least-once: an attempt is counted in the store before it starts, and an event stays stored (running) until its
 * outcome is recorded. After a crash every running event is due again (the store gives the interrupted attempt back
 * once), so an event runs at least once and at most MaximumRetryAttempts + 2 times.
 */
import { randomUUID } from 'node:crypto';
import {
  DEFAULT_MAXIMUM_EVENT_AGE_SECONDS,
  DEFAULT_MAXIMUM_RETRY_ATTEMPTS,
  type AsyncEvent,
  type AttemptOutcome,
  type DestinationCondition,
  type EventInvokeConfig,
} from '../../model/async-event.js';
import { formatFunctionArn, type Partition } from '../../model/arn.js';
import { destinationFunctionOf, destinationKindOf } from '../../model/destination-arn.js';
import { LATEST, type FunctionVersion } from '../../model/function.js';
import type { InvocationResult } from '../../model/invocation.js';
import type { Clock, Timer } from '../../shared/clock.js';
import type { Logger } from '../../shared/logger.js';
import type { AsyncEventStore, DueFunction } from '../../store/store.js';
import { ThrottledError } from '../errors.js';
import type { SyncInvocation } from '../invoke-service.js';
import { toDestinationRecord } from './destination-record.js';
import { AsyncInvokeError } from './errors.js';
import { decideAfterAttempt, decideBeforeAttempt, throttleBackoffMs, type AttemptResult, type EventLimits, type RetryDelays } from './retry-policy.js';

/** What an attempt runs against, resolved when it starts (an alias may point elsewhere by then). */
export interface AsyncTarget {
  version: FunctionVersion;
  /** The function's reserved concurrency; undefined when unreserved. */
  reservedConcurrency?: number;
}

export interface EventQueueDeps {
  events: AsyncEventStore;
  /** The EventInvokeConfig an event invoked with this qualifier follows (undefined: Lambda's defaults). */
  findConfig(accountId: string, functionName: string, qualifier: string | undefined): Promise<EventInvokeConfig | undefined>;
  /** The function's reserved concurrency (undefined: unreserved, or the function is gone), before its first attempt. */
  reservedConcurrencyOf(accountId: string, functionName: string): Promise<number | undefined>;
  /** The version to run now; undefined when the function or qualifier no longer exists (the event is dropped). */
  resolve(accountId: string, functionName: string, qualifier: string | undefined): Promise<AsyncTarget | undefined>;
  invoke(request: SyncInvocation): Promise<InvocationResult>;
  partition: Partition;
  clock: Clock;
  log: Logger;
  /** Attempts in flight at most, over all functions. */
  maxParallel: number;
  /** Stored payload bytes at most; beyond, new events are refused (ERR_ASYNC_QUEUE_FULL). */
  maxQueuedBytes: number;
  delays: RetryDelays;
}

export interface AcceptedEvent {
  accountId: string;
  functionName: string;
  qualifier?: string;
  requestId: string;
  payload: Buffer;
}

export class EventQueue {
  readonly #deps: EventQueueDeps;
  readonly #log: Logger;
  readonly #running = new Map<string, number>();
  /** Each function's cap on parallel attempts (its reserved concurrency, Infinity when unreserved), kept fresh by resolves. */
  readonly #caps = new Map<string, number>();
  readonly #attempts = new Set<Promise<void>>();
  #inFlight = 0;
  #timer: Timer | undefined;
  #timerDueMs = Infinity;
  #pumping = false;
  #pumpAgain = false;
  #lastServed = '';
  #started = false;
  #stopped = false;

  constructor(deps: EventQueueDeps) {
    this.#deps = deps;
    this.#log = deps.log.child({ component: 'event-queue' });
  }

  /** Makes events that were mid-attempt at a crash due again, and starts running what is due. */
  async start(): Promise<void> {
    const recovered = await this.#deps.events.recoverRunning(this.#deps.clock.now());
    if (recovered > 0) this.#log.info({ recovered }, 'async events interrupted by an unclean stop are due again');
    this.#started = true;
    this.#wake();
  }

  /** Stores the event (committed before this resolves: the caller then answers 202) and schedules it. */
  async accept(input: AcceptedEvent): Promise<void> {
    const { events, clock, maxQueuedBytes } = this.#deps;
    if ((await events.queuedBytes()) + input.payload.length > maxQueuedBytes) {
      throw new AsyncInvokeError('ERR_ASYNC_QUEUE_FULL', 'Rate Exceeded.');
    }
    const now = clock.now();
    await events.enqueue({ ...input, enqueuedMs: now, dueMs: now, attempts: 0, throttles: 0, running: false, redone: false });
    this.#wake();
  }

  /** Drops a deleted function's events (attempts in flight finish and find nothing to update). */
  async deleteFunctionEvents(accountId: string, functionName: string): Promise<void> {
    this.#caps.delete(keyOf({ accountId, functionName }));
    const dropped = await this.#deps.events.deleteFunctionEvents(accountId, functionName);
    if (dropped > 0) this.#log.info({ functionName, dropped }, 'dropped the async events of a deleted function');
  }

  /** No new attempts; events in flight keep their state until drain() (or a restart) settles them. */
  stop(): void {
    this.#stopped = true;
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  /** Waits for the attempts in flight to settle (call after stop(), before the store closes). */
  async drain(): Promise<void> {
    while (this.#attempts.size > 0) await Promise.allSettled([...this.#attempts]);
  }

  #wake(): void {
    if (!this.#started || this.#stopped) return;
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = true;
    void this.#pump()
      .catch((error: unknown) => {
        // The store failed: try again on the next event, timer or finished attempt, at the latest in a second.
        this.#log.error({ err: error }, 'async event scheduling failed');
        this.#arm(this.#deps.clock.now() + 1000);
      })
      .finally(() => {
        this.#pumping = false;
        if (this.#pumpAgain) {
          this.#pumpAgain = false;
          this.#wake();
        }
      });
  }

  /** Starts what is due, a turn per function at a time, then sets the timer for the next due event. */
  async #pump(): Promise<void> {
    const { events, clock, maxParallel } = this.#deps;
    let now: number;
    for (;;) {
      this.#pumpAgain = false;
      now = clock.now();
      let started = 0;
      for (const fn of this.#inTurn(await events.listDueFunctions(now))) {
        if (this.#stopped || this.#inFlight >= maxParallel) return;
        const key = keyOf(fn);
        if (!this.#caps.has(key)) this.#caps.set(key, (await this.#deps.reservedConcurrencyOf(fn.accountId, fn.functionName)) ?? Infinity);
        // At least one: an event of a function reserved at 0 must still come up, to go to on-failure.
        if ((this.#running.get(key) ?? 0) >= Math.max(1, this.#caps.get(key) ?? Infinity)) continue;
        const event = await events.claimNext(fn.accountId, fn.functionName, now);
        if (!event) continue;
        this.#lastServed = key;
        started++;
        this.#launch(event);
      }
      if (started === 0) break;
    }
    // After the `now` that found nothing more to start, not after a fresh reading: an event falling due in between
    // (a timer may fire a millisecond early against Date.now()) would be neither started nor waited for.
    const next = await events.nextDueMs(now);
    if (next !== undefined) this.#arm(next);
  }

  /** The due functions in round-robin order: those after the last one served first. */
  #inTurn(due: DueFunction[]): DueFunction[] {
    const after = due.findIndex((fn) => keyOf(fn) > this.#lastServed);
    return after <= 0 ? due : [...due.slice(after), ...due.slice(0, after)];
  }

  #arm(dueMs: number): void {
    if (this.#stopped || (this.#timer && this.#timerDueMs <= dueMs)) return;
    this.#timer?.cancel();
    this.#timerDueMs = dueMs;
    this.#timer = this.#deps.clock.setTimer(dueMs - this.#deps.clock.now(), () => {
      this.#timer = undefined;
      this.#timerDueMs = Infinity;
      this.#wake();
    });
  }

  #launch(event: AsyncEvent): void {
    const key = keyOf(event);
    this.#inFlight++;
    this.#running.set(key, (this.#running.get(key) ?? 0) + 1);
    // Once the function has run, the attempt counts even if the bookkeeping after it fails (the bound on attempts).
    const progress = { attempts: event.attempts };
    const attempt = this.#attempt(event, progress)
      .catch((error: unknown) => this.#recover({ ...event, attempts: progress.attempts }, error))
      .finally(() => {
        this.#inFlight--;
        const left = (this.#running.get(key) ?? 1) - 1;
        if (left === 0) this.#running.delete(key);
        else this.#running.set(key, left);
        this.#attempts.delete(attempt);
        this.#wake();
      });
    this.#attempts.add(attempt);
  }

  /** The store failed around an attempt: the event must not stay held, so it waits a backoff and comes again. */
  async #recover(event: AsyncEvent, error: unknown): Promise<void> {
    this.#log.error({ err: error, requestId: event.requestId }, 'async attempt bookkeeping failed; the event comes again after a backoff');
    const dueMs = this.#deps.clock.now() + throttleBackoffMs(event.throttles, this.#deps.delays);
    try {
      if (await this.#deps.events.reschedule(event.accountId, event.requestId, { dueMs, attempts: event.attempts, throttles: event.throttles + 1 })) this.#arm(dueMs);
    } catch (again) {
      // Still held: the next start makes it due again.
      this.#log.error({ err: again, requestId: event.requestId }, 'async event stays held until the next start');
    }
  }

  async #attempt(event: AsyncEvent, progress: { attempts: number }): Promise<void> {
    const { events, clock } = this.#deps;
    const config = await this.#deps.findConfig(event.accountId, event.functionName, event.qualifier);
    const limits = limitsOf(config);
    let target: AsyncTarget | undefined;
    try {
      target = await this.#deps.resolve(event.accountId, event.functionName, event.qualifier);
    } catch (error) {
      this.#log.warn({ err: error, requestId: event.requestId }, 'could not resolve the function of an async event; retrying');
      return this.#afterAttempt(event, 'platform-error', limits, config, undefined);
    }
    if (!target) {
      this.#log.warn({ requestId: event.requestId, functionName: event.functionName, qualifier: event.qualifier }, 'async event dropped: its function or qualifier no longer exists');
      await events.finish(event.accountId, event.requestId);
      return;
    }
    this.#caps.set(keyOf(event), target.reservedConcurrency ?? Infinity);

    const before = decideBeforeAttempt(event, limits, clock.now());
    if (before.kind === 'finish') return this.#finish(event, before.condition, config, target, event.lastOutcome);
    if (target.reservedConcurrency === 0) {
      // Lambda sends events of a function with reserved concurrency 0 straight to on-failure, without retries.
      return this.#finish(event, 'RetriesExhausted', config, target, event.lastOutcome ?? { statusCode: 429 });
    }
    if (target.version.state !== 'Active') return this.#afterAttempt(event, 'platform-error', limits, config, target);

    await events.recordAttemptStart(event.accountId, event.requestId);
    const counted: AsyncEvent = { ...event, attempts: event.attempts + 1 };
    let result: InvocationResult;
    try {
      result = await this.#deps.invoke({
        version: target.version,
        requestId: event.requestId,
        invokedFunctionArn: formatFunctionArn(this.#deps.partition, event.functionName, event.qualifier),
        payload: event.payload,
        wantTail: false,
      });
    } catch (error) {
      const throttled = error instanceof ThrottledError;
      if (!throttled) this.#log.warn({ err: error, requestId: event.requestId }, 'async attempt failed in the platform; retrying');
      // Not an attempt: the count goes back.
      return this.#afterAttempt(event, throttled ? 'throttled' : 'platform-error', limits, config, target);
    }
    progress.attempts = counted.attempts;
    const outcome: AttemptOutcome = {
      statusCode: 200,
      executedVersion: result.executedVersion,
      ...(result.kind === 'error' ? { functionError: 'Unhandled' } : {}),
      payload: result.payload.toString('utf8'),
    };
    if (this.#stopped && result.kind === 'error') return; // likely killed by the shutdown: the restart runs it again
    return this.#afterAttempt(counted, result.kind === 'success' ? 'success' : 'function-error', limits, config, target, outcome);
  }

  /** event.attempts: counted attempts, this one included only if it was one (a function outcome). */
  async #afterAttempt(
    event: AsyncEvent,
    result: AttemptResult,
    limits: EventLimits,
    config: EventInvokeConfig | undefined,
    target: AsyncTarget | undefined,
    outcome?: AttemptOutcome,
  ): Promise<void> {
    const { events, clock, delays } = this.#deps;
    const next = decideAfterAttempt(event, result, limits, delays, clock.now());
    const kept = outcome ?? event.lastOutcome ?? (result === 'throttled' ? { statusCode: 429 } : result === 'platform-error' ? { statusCode: 500 } : undefined);
    if (next.kind === 'finish') return this.#finish(event, next.condition, config, target, kept);
    const stored = await events.reschedule(event.accountId, event.requestId, {
      dueMs: next.dueMs,
      attempts: next.attempts,
      throttles: next.throttles,
      ...(kept === undefined ? {} : { lastOutcome: kept }),
    });
    if (stored) this.#arm(next.dueMs);
  }

  /** Done: the destination's event (if a function) is stored in the same step as the event is deleted. */
  async #finish(
    event: AsyncEvent,
    condition: DestinationCondition,
    config: EventInvokeConfig | undefined,
    target: AsyncTarget | undefined,
    outcome: AttemptOutcome | undefined,
  ): Promise<void> {
    const { partition, clock } = this.#deps;
    const log = this.#log.child({ requestId: event.requestId, functionName: event.functionName });
    const destination = condition === 'Success' ? config?.onSuccess : config?.onFailure;
    let followUp: AsyncEvent | undefined;
    if (destination !== undefined) {
      const payload = toDestinationRecord({
        requestId: event.requestId,
        functionArn: formatFunctionArn(partition, event.functionName, event.qualifier ?? LATEST),
        condition,
        approximateInvokeCount: event.attempts,
        requestPayload: event.payload,
        ...(outcome === undefined ? {} : { outcome }),
        timestampMs: clock.now(),
      });
      const fn = destinationFunctionOf(destination);
      if (fn && fn.accountId === event.accountId && fn.region === partition.region) {
        const now = clock.now();
        followUp = {
          accountId: event.accountId,
          requestId: randomUUID(),
          functionName: fn.functionName,
          ...(fn.qualifier === undefined ? {} : { qualifier: fn.qualifier }),
          payload,
          enqueuedMs: now,
          dueMs: now,
          attempts: 0,
          throttles: 0,
          running: false,
          redone: false,
        };
      } else {
        log.warn({ destination, kind: destinationKindOf(destination) ?? 'unknown', condition }, 'destination not delivered: Kindling delivers to functions of this account and region only (queues, topics and buses come with queues)');
      }
    }
    const deadLetter = target?.version.settings.deadLetterTargetArn;
    if (condition !== 'Success' && deadLetter) {
      log.warn({ deadLetterTarget: deadLetter, condition }, 'dead-letter target not delivered: delivery to SQS and SNS comes with queues');
    }
    await this.#deps.events.finish(event.accountId, event.requestId, followUp);
    log.debug({ condition, attempts: event.attempts, destination: followUp?.functionName }, 'async event done');
    if (followUp) this.#wake();
  }
}

function keyOf(fn: { accountId: string; functionName: string }): string {
  return `${fn.accountId}/${fn.functionName}`;
}

function limitsOf(config: EventInvokeConfig | undefined): EventLimits {
  return {
    maximumRetryAttempts: config?.maximumRetryAttempts ?? DEFAULT_MAXIMUM_RETRY_ATTEMPTS,
    maximumEventAgeMs: (config?.maximumEventAgeSeconds ?? DEFAULT_MAXIMUM_EVENT_AGE_SECONDS) * 1000,
  };
}
