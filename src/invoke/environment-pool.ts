/**
 * The node's execution environments. One invocation per environment: a request takes an idle environment of its
 * key (version + code digest + configuration revision, so after an update old environments drain), or starts a
 * new one within the node's capacity, or waits for capacity (FIFO, bounded), or is throttled. Every decision is
 * the pure `place()` (placement.ts) over a snapshot; this class keeps the state and does the I/O.
 *
 * A request waiting for its own cold start takes an environment of its key released meanwhile, if that comes
 * first; the new environment then serves the next request or goes idle. Bursts of short invocations mostly reuse.
 */
import type { FunctionVersion } from '../model/function.js';
import type { Clock } from '../shared/clock.js';
import type { Logger } from '../shared/logger.js';
import type { EnvironmentTarget, ExecutionEnvironment } from '../environments/execution-environment.js';
import type { FunctionReservation } from '../store/store.js';
import { InvokeError, ThrottledError } from './errors.js';
import { place, roomForSpare, type Placement, type PoolSnapshot, type Reservation } from './placement.js';
import { environmentKey, functionId, versionKey, viewsOf, type Entry, type Starting } from './pool-entries.js';
import { StartGate } from './start-gate.js';
import { WaitingRequests, type Pending } from './waiting-requests.js';

/** What the pool needs of the pre-started generic sandboxes (environments/spare-pool.ts implements it). */
export interface SpareSandboxes {
  /** Memory of every spare, ready or starting. */
  memoryMb(): number;
  /** Memory of the ready spares (those release() can free now). */
  readyMemoryMb(): number;
  /** How many spares exist, ready or starting (each holds a uid). */
  count(): number;
  /** A spare for this version is ready: starting it converts the spare's memory instead of adding memory. */
  readyFor(version: FunctionVersion): boolean;
  /** Frees `mb` of spares; with `keepFor`, the spare that version's start is about to take stays. */
  release(mb: number, keepFor?: FunctionVersion): Promise<number>;
  /** Memory or a slot came free: spares may refill (they ask hasRoomForSpare first). */
  refill(): void;
}

export interface EnvironmentPoolDeps {
  /** Cold start (PREWARM makes this use spares). */
  start(target: EnvironmentTarget): Promise<ExecutionEnvironment>;
  clock: Clock;
  log: Logger;
  keepAliveMs: number;
  maxMemoryMb: number;
  placementWaitMs: number;
  accountConcurrencyLimit: number;
  /** How many environments may exist at once (the size of the sandbox uid range); unbounded if absent. */
  maxEnvironments?: number;
  /** How many environments may be starting at once (start-gate.ts); unbounded if absent. */
  maxConcurrentStarts?: number;
  /** Pre-started generic sandboxes (PREWARM): their memory counts as used; released first when capacity is short. */
  spares?: SpareSandboxes;
  /** A provisioned environment died (crash, timeout, OOM) and was destroyed: PC starts a replacement. */
  onProvisionedLost?(env: ExecutionEnvironment): void;
}

export interface Demand {
  /** The function's reserved concurrency (undefined = unreserved). */
  reservedConcurrency?: number;
  /** Wait at most this long for capacity (also bounded by KINDLING_PLACEMENT_WAIT_MS and the function's timeout). */
  waitMs?: number;
}

const shuttingDown = () => new InvokeError('ERR_INVOKE_SHUTTING_DOWN', 'the server is shutting down');

export class EnvironmentPool {
  readonly #deps: EnvironmentPoolDeps;
  readonly #entries = new Map<string, Entry>();
  readonly #starting = new Map<string, Starting>();
  readonly #startups = new Set<Promise<void>>();
  readonly #waiting = new WaitingRequests();
  readonly #inFlight = new Map<string, number>();
  readonly #reservations = new Map<string, Reservation>();
  /** The newest environment key seen per function version: older keys drain. */
  readonly #current = new Map<string, string>();
  readonly #gate: StartGate | undefined;
  #seq = 0;
  #closed = false;

  constructor(deps: EnvironmentPoolDeps) {
    this.#deps = deps;
    this.#gate = deps.maxConcurrentStarts === undefined ? undefined : new StartGate(deps.maxConcurrentStarts);
  }

  /**
   * An environment for one invocation: an idle one of the key (a provisioned one first), else a new one. Throws
   * ThrottledError beyond the function's or the account's concurrency (at once) or when no capacity frees up within
   * min(placementWaitMs, the function's timeout, demand.waitMs).
   */
  async acquire(target: EnvironmentTarget, demand: Demand = {}): Promise<ExecutionEnvironment> {
    if (this.#closed) throw shuttingDown();
    const version = target.version;
    const key = environmentKey(version);
    this.#retireStale(version, key);
    this.#sweep();
    const fn = functionId(version.accountId, version.functionName);
    const memoryMb = version.settings.memorySizeMb;
    const decision = place(this.#snapshot(), {
      functionId: fn,
      key,
      memoryMb,
      ...(demand.reservedConcurrency === undefined ? {} : { reservedConcurrency: demand.reservedConcurrency }),
      admitted: false,
      queuedAhead: this.#waiting.queuedCount,
      spareReady: this.#spareReady(version),
    });
    if (decision.kind === 'throttle') {
      this.#deps.log.debug({ functionName: version.functionName, reason: decision.reason }, 'invocation throttled');
      throw new ThrottledError(decision.reason);
    }
    this.#inFlight.set(fn, (this.#inFlight.get(fn) ?? 0) + 1);
    return new Promise<ExecutionEnvironment>((resolve, reject) => {
      const pending: Pending = {
        seq: ++this.#seq,
        target,
        key,
        functionId: fn,
        memoryMb,
        reservedConcurrency: demand.reservedConcurrency,
        resolve,
        reject: (error) => {
          this.#leave(fn);
          reject(error);
        },
      };
      if (decision.kind === 'wait') {
        const waitMs = Math.min(this.#deps.placementWaitMs, version.settings.timeoutSeconds * 1000, demand.waitMs ?? Infinity);
        this.#waiting.enqueue(pending, waitMs, () => {
          pending.reject(new ThrottledError('ConcurrentInvocationLimitExceeded'));
          this.#pump();
        });
      } else {
        this.#apply(pending, decision);
      }
    });
  }

  /** Back after an invocation: to the earliest request of its key, else idle; destroyed if unusable or stale. */
  release(env: ExecutionEnvironment): void {
    const entry = this.#entries.get(env.id);
    if (!entry) {
      void this.#destroy(env);
      return;
    }
    if (entry.status !== 'busy') return; // released twice: the first release counted
    this.#leave(entry.functionId);
    this.#recycle(entry);
    this.#pump();
  }

  /** A function (or one of its versions) was deleted: its idle environments stop now, busy ones when released. */
  async retire(accountId: string, functionName: string, version?: string): Promise<void> {
    const scope = version === undefined ? `${accountId}/${functionName}/` : `${accountId}/${functionName}/${version}/`;
    for (const vkey of [...this.#current.keys()]) if (`${vkey}/`.startsWith(scope)) this.#current.delete(vkey);
    const stopping: Promise<void>[] = [];
    for (const entry of [...this.#entries.values()]) {
      if (!entry.key.startsWith(scope)) continue;
      if (entry.status === 'idle') stopping.push(this.#remove(entry));
      else entry.retiring = true;
    }
    this.#pump();
    await Promise.allSettled(stopping);
  }

  /**
   * Provisioned concurrency: starts one environment that is never reclaimed or evicted and counts against the
   * node's capacity. Throws ThrottledError when the node cannot host it now (no waiting), or the start's error.
   */
  async startProvisioned(target: EnvironmentTarget): Promise<ExecutionEnvironment> {
    if (this.#closed) throw shuttingDown();
    const version = target.version;
    this.#sweep();
    const decision = place(this.#snapshot(), {
      functionId: functionId(version.accountId, version.functionName),
      key: environmentKey(version),
      memoryMb: version.settings.memorySizeMb,
      admitted: true,
      provisioned: true,
      queuedAhead: 0,
      spareReady: this.#spareReady(version),
    });
    if (decision.kind === 'use') throw new Error('placement handed an idle environment to a provisioned start');
    if (decision.kind !== 'start') {
      throw new ThrottledError('ConcurrentInvocationLimitExceeded', `the node has no capacity for another ${version.settings.memorySizeMb} MB environment`);
    }
    const entry = await this.#start(target, decision, true);
    if (!entry) throw new Error('assertion failed: a provisioned start is always wanted');
    this.#recycle(entry);
    this.#pump();
    return entry.env;
  }

  /** Stops a provisioned environment (config reduced or deleted); a busy one stops when it is released. */
  async retireProvisioned(env: ExecutionEnvironment): Promise<void> {
    const entry = this.#entries.get(env.id);
    if (!entry) return this.#destroy(env);
    if (entry.status === 'busy') {
      entry.retiring = true;
      return;
    }
    await this.#remove(entry);
    this.#pump();
  }

  /**
   * The reserved functions of an account (from the store, refreshed by the invoke path): other functions keep
   * their guarantee free (placement.ts) and share only the unreserved concurrency.
   */
  setReservations(accountId: string, reservations: readonly FunctionReservation[]): void {
    const prefix = `${accountId}/`;
    for (const id of [...this.#reservations.keys()]) if (id.startsWith(prefix)) this.#reservations.delete(id);
    for (const r of reservations) {
      this.#reservations.set(functionId(accountId, r.functionName), { reserved: r.reservedConcurrency, memoryMb: r.memorySizeMb });
    }
  }

  /**
   * Whether a spare of `memoryMb` fits without taking what invocations need: free memory after every environment,
   * every spare and the reservations' guarantees, a free uid slot, and no request waiting for capacity.
   */
  hasRoomForSpare(memoryMb: number): boolean {
    return !this.#closed && roomForSpare(this.#snapshot(), memoryMb, this.#waiting.queuedCount);
  }

  /** How many environments exist (starting, busy or idle). */
  get size(): number {
    return this.#entries.size + this.#starting.size;
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const pending of this.#waiting.queued()) {
      this.#waiting.take(pending);
      pending.reject(shuttingDown());
    }
    await Promise.allSettled([...this.#startups]);
    await Promise.allSettled([...this.#entries.values()].map((entry) => this.#remove(entry)));
  }

  #apply(pending: Pending, decision: Exclude<Placement, { kind: 'throttle' | 'wait' }>): void {
    if (decision.kind === 'use') {
      const entry = this.#entries.get(decision.environmentId)!;
      this.#hand(entry, pending);
      return;
    }
    this.#waiting.starting(pending);
    this.#start(pending.target, decision, false, () => this.#waiting.isStarting(pending)).then(
      (entry) => {
        if (!entry) {
          // Served by a released environment while its start waited at the gate: nothing was started.
        } else if (this.#waiting.take(pending)) {
          pending.resolve(entry.env);
        } else {
          // It took a warm environment of its key meanwhile: this one serves the next request or goes idle.
          this.#recycle(entry);
        }
        this.#pump();
      },
      (error: unknown) => {
        if (this.#waiting.take(pending)) {
          pending.reject(error instanceof Error ? error : new Error(String(error)));
        } else {
          this.#deps.log.warn({ err: error }, 'an environment started for a request served meanwhile failed to start');
        }
        this.#pump();
      },
    );
  }

  /**
   * Starts an environment after making room; its memory counts from the decision on. The entry comes back busy, or
   * undefined when `stillWanted` says at the gate that the request was served meanwhile.
   */
  async #start(
    target: EnvironmentTarget,
    decision: Extract<Placement, { kind: 'start' }>,
    provisioned: boolean,
    stillWanted: () => boolean = () => true,
  ): Promise<Entry | undefined> {
    const version = target.version;
    const starting: Starting = {
      id: `starting-${++this.#seq}`,
      key: environmentKey(version),
      functionId: functionId(version.accountId, version.functionName),
      memoryMb: version.settings.memorySizeMb,
      provisioned,
    };
    this.#starting.set(starting.id, starting);
    let done!: () => void;
    const startup = new Promise<void>((resolve) => (done = resolve));
    this.#startups.add(startup);
    try {
      const evicted = decision.evict.map((id) => this.#entries.get(id)).filter((e): e is Entry => e !== undefined);
      await Promise.allSettled(evicted.map((entry) => this.#remove(entry)));
      if (decision.releaseSpareMb > 0 && this.#deps.spares) await this.#deps.spares.release(decision.releaseSpareMb, version);
      if (this.#closed) throw shuttingDown();
      const leave = this.#gate === undefined ? () => {} : await this.#gate.enter();
      let env: ExecutionEnvironment;
      try {
        if (this.#closed) throw shuttingDown();
        if (!stillWanted()) return undefined;
        env = await this.#deps.start(target);
      } finally {
        leave();
      }
      const entry: Entry = {
        env,
        key: starting.key,
        functionId: starting.functionId,
        memoryMb: starting.memoryMb,
        provisioned,
        status: 'busy',
        lastUsedMs: this.#deps.clock.now(),
      };
      this.#entries.set(env.id, entry);
      if (this.#closed) {
        await this.#remove(entry);
        throw shuttingDown();
      }
      return entry;
    } finally {
      this.#starting.delete(starting.id);
      this.#startups.delete(startup);
      done();
    }
  }

  /** An environment that finished (an invocation, or its start for a request served meanwhile). */
  #recycle(entry: Entry): void {
    const stale = !entry.provisioned && this.#current.get(versionKey(entry.env.target.version)) !== entry.key;
    if (!entry.env.isReusable || stale || entry.retiring || this.#closed) {
      if (entry.provisioned && !entry.env.isReusable && !entry.retiring && !this.#closed) this.#lost(entry);
      void this.#remove(entry);
      return;
    }
    const next = this.#waiting.earliestFor(entry.key);
    if (next) {
      this.#hand(entry, next);
      return;
    }
    entry.status = 'idle';
    entry.lastUsedMs = this.#deps.clock.now();
    if (!entry.provisioned) {
      entry.reaper = setTimeout(() => {
        if (entry.status !== 'idle') return;
        void this.#remove(entry);
        this.#pump();
      }, this.#deps.keepAliveMs);
      entry.reaper.unref();
    }
  }

  #hand(entry: Entry, pending: Pending): void {
    clearTimeout(entry.reaper);
    entry.reaper = undefined;
    entry.status = 'busy';
    this.#waiting.take(pending);
    pending.resolve(entry.env);
  }

  /** Places waiting requests again, in arrival order (capacity or an environment may have come free). */
  #pump(): void {
    if (this.#closed) return;
    this.#sweep();
    let ahead = 0;
    for (const pending of this.#waiting.queued()) {
      const decision = place(this.#snapshot(), {
        functionId: pending.functionId,
        key: pending.key,
        memoryMb: pending.memoryMb,
        ...(pending.reservedConcurrency === undefined ? {} : { reservedConcurrency: pending.reservedConcurrency }),
        admitted: true,
        queuedAhead: ahead,
        spareReady: this.#spareReady(pending.target.version),
      });
      if (decision.kind === 'wait') {
        ahead += 1;
        continue;
      }
      this.#waiting.take(pending);
      if (decision.kind === 'throttle') pending.reject(new ThrottledError(decision.reason));
      else this.#apply(pending, decision);
    }
  }

  /** Idle environments that died meanwhile (a crash while frozen, OOM) are never handed out. */
  #sweep(): void {
    for (const entry of [...this.#entries.values()]) {
      if (entry.status !== 'idle' || entry.env.isReusable) continue;
      if (entry.provisioned) this.#lost(entry);
      void this.#remove(entry);
    }
  }

  #snapshot(): PoolSnapshot {
    const { maxMemoryMb, maxEnvironments, spares, accountConcurrencyLimit } = this.#deps;
    return {
      capacityMb: maxMemoryMb,
      maxEnvironments: maxEnvironments ?? Infinity,
      spareMb: spares?.memoryMb() ?? 0,
      releasableSpareMb: spares?.readyMemoryMb() ?? 0,
      spareCount: spares?.count() ?? 0,
      accountLimit: accountConcurrencyLimit,
      environments: viewsOf(this.#entries.values(), this.#starting.values()),
      reservations: this.#reservations,
      inFlight: this.#inFlight,
    };
  }

  #spareReady(version: FunctionVersion): boolean {
    return this.#deps.spares?.readyFor(version) ?? false;
  }

  #leave(fn: string): void {
    const n = (this.#inFlight.get(fn) ?? 0) - 1;
    if (n > 0) this.#inFlight.set(fn, n);
    else this.#inFlight.delete(fn);
  }

  #lost(entry: Entry): void {
    try {
      this.#deps.onProvisionedLost?.(entry.env);
    } catch (error) {
      this.#deps.log.warn({ err: error, environmentId: entry.env.id }, 'onProvisionedLost failed');
    }
  }

  #retireStale(version: FunctionVersion, key: string): void {
    const vkey = versionKey(version);
    const previous = this.#current.get(vkey);
    this.#current.set(vkey, key);
    if (previous === undefined || previous === key) return;
    for (const entry of [...this.#entries.values()]) {
      if (entry.key === previous && entry.status === 'idle' && !entry.provisioned) void this.#remove(entry);
    }
  }

  /** Out of the pool now (its memory counts as free), destroyed in the background of the caller. */
  #remove(entry: Entry): Promise<void> {
    clearTimeout(entry.reaper);
    this.#entries.delete(entry.env.id);
    return this.#destroy(entry.env).finally(() => this.#deps.spares?.refill());
  }

  async #destroy(env: ExecutionEnvironment): Promise<void> {
    await env.destroy().catch((error: unknown) => this.#deps.log.warn({ err: error, environmentId: env.id }, 'environment did not stop cleanly'));
  }
}
