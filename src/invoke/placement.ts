/**
 * Where an invocation runs, decided without I/O over a snapshot of the pool (the pool applies the decision).
 *
 * Concurrency (checked once, when a request arrives):
 * - a function with reserved concurrency R never has more than R invocations admitted (running, starting or
 *   waiting); beyond that, and always when R = 0, it is throttled at once with
 *   ReservedFunctionConcurrentInvocationLimitExceeded (as Lambda: reserved functions never wait);
 * - unreserved functions share accountLimit − Σ reserved; beyond it: ConcurrentInvocationLimitExceeded at once.
 *
 * Capacity (memory, and the number of environments the uid range allows):
 * - an idle environment of the request's key is reused (a provisioned one first, then the most recently used, so
 *   the least recently used ones age out);
 * - otherwise a new environment needs its MemorySize free. Free = capacity − memory of every environment
 *   (idle, busy, starting, provisioned) − spare sandboxes − memory held back for other functions' reservations;
 * - held back = min(capacity, Σ over OTHER reserved functions f of max(0, R_f − environments_f) × MemorySize_f):
 *   a reserved function can always start up to R environments however hard others push, and its own share is
 *   not held back from itself;
 * - a start that takes a ready spare of its runtime and memory size converts the spare's memory rather than adding
 *   to it (and that spare is never the one released to make room);
 * - when short, spare sandboxes are released first, then idle on-demand environments are evicted, least recently
 *   used first across all functions (never busy, starting or provisioned ones, and never an environment that a
 *   reserved function's guarantee would claim straight back: evicting it would free nothing);
 * - when even that is not enough the request waits; waiters are served in arrival order (a request may not start
 *   an environment while an earlier one waits for capacity), except that a reserved function within its
 *   guarantee never queues behind others' demand;
 * - a request larger than the whole capacity can never run: throttled at once.
 */
import type { ThrottleReason } from './errors.js';

export type EnvironmentStatus = 'idle' | 'busy' | 'starting';

export interface EnvironmentView {
  id: string;
  /** Version + code + configuration revision: only environments of the same key can serve a request. */
  key: string;
  /** account/function: the unit of concurrency and reservation. */
  functionId: string;
  memoryMb: number;
  status: EnvironmentStatus;
  provisioned: boolean;
  lastUsedMs: number;
}

export interface Reservation {
  reserved: number;
  /** The MemorySize its environments take (the largest among its versions). */
  memoryMb: number;
}

export interface PoolSnapshot {
  capacityMb: number;
  /** How many environments may exist at once (one host uid each). */
  maxEnvironments: number;
  /** Memory held by pre-started generic sandboxes (ready or starting). */
  spareMb: number;
  /** The part of spareMb that can be released now (ready spares; one still starting cannot). Default spareMb. */
  releasableSpareMb?: number;
  /** How many spares exist (each holds a host uid, like an environment). Default 0. */
  spareCount?: number;
  accountLimit: number;
  environments: readonly EnvironmentView[];
  /** Functions with reserved concurrency, by function id. */
  reservations: ReadonlyMap<string, Reservation>;
  /** Admitted invocations per function id (running, starting or waiting), not counting the request placed. */
  inFlight: ReadonlyMap<string, number>;
}

export interface PlacementRequest {
  functionId: string;
  key: string;
  memoryMb: number;
  /** The function's reserved concurrency (authoritative for the requester; undefined = unreserved). */
  reservedConcurrency?: number;
  /** Concurrency was checked already (a waiter placed again, or a provisioned environment). */
  admitted: boolean;
  /** A provisioned environment: always a new one, never an idle one. */
  provisioned?: boolean;
  /** Requests still waiting for capacity that arrived before this one. */
  queuedAhead: number;
  /**
   * A pre-started spare of this request's runtime and memory size is ready: a start takes it, so its memory (counted
   * in spareMb) becomes the environment's instead of being added, and it is not among the spares to release.
   */
  spareReady?: boolean;
}

export type Placement =
  | { kind: 'use'; environmentId: string }
  /** Start a new environment, after releasing `releaseSpareMb` of spares and evicting `evict` (LRU first). */
  | { kind: 'start'; evict: string[]; releaseSpareMb: number }
  | { kind: 'wait' }
  | { kind: 'throttle'; reason: ThrottleReason };

export function place(snapshot: PoolSnapshot, request: PlacementRequest): Placement {
  const others = new Map(snapshot.reservations);
  others.delete(request.functionId);
  if (!request.admitted) {
    const reason = concurrencyRefusal(snapshot, others, request);
    if (reason) return { kind: 'throttle', reason };
  }
  if (!request.provisioned) {
    const idle = reusable(snapshot.environments, request.key);
    if (idle) return { kind: 'use', environmentId: idle.id };
  }
  if (request.memoryMb > snapshot.capacityMb) return { kind: 'throttle', reason: 'ConcurrentInvocationLimitExceeded' };

  const counts = environmentCounts(snapshot.environments);
  const own = counts.get(request.functionId) ?? 0;
  const guaranteed = request.reservedConcurrency !== undefined && own < request.reservedConcurrency;
  if (request.queuedAhead > 0 && !guaranteed) return { kind: 'wait' };

  const converted = request.spareReady === true ? Math.min(request.memoryMb, snapshot.spareMb) : 0;
  const free = freeMb(snapshot, others, counts);
  let memoryShort = request.memoryMb - converted - free;
  // A converted spare's uid becomes the environment's.
  const spareSlots = Math.max(0, (snapshot.spareCount ?? 0) - (request.spareReady === true ? 1 : 0));
  let slotsShort = snapshot.environments.length + spareSlots + 1 - snapshot.maxEnvironments;
  if (memoryShort <= 0 && slotsShort <= 0) return { kind: 'start', evict: [], releaseSpareMb: 0 };

  const releasable = Math.max(0, (snapshot.releasableSpareMb ?? snapshot.spareMb) - converted);
  const releaseSpareMb = Math.min(releasable, Math.max(0, memoryShort));
  memoryShort -= releaseSpareMb;
  const evict: string[] = [];
  for (const env of evictionOrder(snapshot.environments)) {
    if (memoryShort <= 0 && slotsShort <= 0) break;
    const reservation = others.get(env.functionId);
    const count = counts.get(env.functionId) ?? 0;
    if (reservation && count <= reservation.reserved) continue;
    evict.push(env.id);
    counts.set(env.functionId, count - 1);
    memoryShort -= env.memoryMb;
    slotsShort -= 1;
  }
  if (memoryShort <= 0 && slotsShort <= 0) return { kind: 'start', evict, releaseSpareMb };
  return { kind: 'wait' };
}

/**
 * Whether a new spare of `memoryMb` fits without taking what invocations need: free memory after every environment,
 * spare and guarantee (of every reserved function), a free uid slot, and no request waiting for capacity.
 */
export function roomForSpare(snapshot: PoolSnapshot, memoryMb: number, requestsWaiting: number): boolean {
  if (requestsWaiting > 0) return false;
  const free = freeMb(snapshot, snapshot.reservations, environmentCounts(snapshot.environments));
  return free >= memoryMb && snapshot.environments.length + (snapshot.spareCount ?? 0) + 1 <= snapshot.maxEnvironments;
}

/** Capacity left after every environment, every spare and the memory held back for `reservations`' guarantees. */
function freeMb(snapshot: PoolSnapshot, reservations: ReadonlyMap<string, Reservation>, counts: ReadonlyMap<string, number>): number {
  const used = snapshot.environments.reduce((sum, env) => sum + env.memoryMb, 0);
  return snapshot.capacityMb - used - snapshot.spareMb - heldBackMb(snapshot.capacityMb, reservations, counts);
}

/** Memory kept free for other functions' reserved concurrency they do not use yet (see the module comment). */
export function heldBackMb(capacityMb: number, reservations: ReadonlyMap<string, Reservation>, environments: ReadonlyMap<string, number>): number {
  let sum = 0;
  for (const [functionId, { reserved, memoryMb }] of reservations) {
    sum += Math.max(0, reserved - (environments.get(functionId) ?? 0)) * memoryMb;
  }
  return Math.min(capacityMb, sum);
}

function concurrencyRefusal(snapshot: PoolSnapshot, others: ReadonlyMap<string, Reservation>, request: PlacementRequest): ThrottleReason | undefined {
  if (request.reservedConcurrency !== undefined) {
    const mine = snapshot.inFlight.get(request.functionId) ?? 0;
    return mine >= request.reservedConcurrency ? 'ReservedFunctionConcurrentInvocationLimitExceeded' : undefined;
  }
  let reserved = 0;
  for (const { reserved: r } of others.values()) reserved += r;
  let unreservedInFlight = 0;
  for (const [functionId, n] of snapshot.inFlight) if (!others.has(functionId)) unreservedInFlight += n;
  return unreservedInFlight >= snapshot.accountLimit - reserved ? 'ConcurrentInvocationLimitExceeded' : undefined;
}

function reusable(environments: readonly EnvironmentView[], key: string): EnvironmentView | undefined {
  let best: EnvironmentView | undefined;
  for (const env of environments) {
    if (env.status !== 'idle' || env.key !== key) continue;
    if (!best || rank(env) > rank(best)) best = env;
  }
  return best;
}

/** Provisioned first (they exist to be used), then the most recently used. */
function rank(env: EnvironmentView): number {
  return (env.provisioned ? Number.MAX_SAFE_INTEGER / 2 : 0) + env.lastUsedMs;
}

function evictionOrder(environments: readonly EnvironmentView[]): EnvironmentView[] {
  return environments
    .filter((env) => env.status === 'idle' && !env.provisioned)
    .sort((a, b) => a.lastUsedMs - b.lastUsedMs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

function environmentCounts(environments: readonly EnvironmentView[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const env of environments) counts.set(env.functionId, (counts.get(env.functionId) ?? 0) + 1);
  return counts;
}
