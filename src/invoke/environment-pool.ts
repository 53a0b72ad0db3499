/**
 * Execution environments per function version. An environment is keyed by version + code digest + configuration
 * revision, so after UpdateFunctionCode/Configuration the next invocation gets a fresh one and old ones drain.
 * One invocation per environment; concurrent invocations start more, up to a fixed cap per version (the scaling
 * issue replaces the cap with node capacity and concurrency limits); beyond it, requests wait in FIFO order.
 */
import type { FunctionVersion } from '../model/function.js';
import type { Clock } from '../shared/clock.js';
import type { Logger } from '../shared/logger.js';
import type { EnvironmentTarget, ExecutionEnvironment } from '../environments/execution-environment.js';
import { InvokeError } from './errors.js';

export interface EnvironmentPoolDeps {
  start(target: EnvironmentTarget): Promise<ExecutionEnvironment>;
  clock: Clock;
  log: Logger;
  maxPerVersion: number;
  keepAliveMs: number;
}

interface Slot {
  idle: ExecutionEnvironment[];
  /** Environments starting or busy. */
  active: number;
  waiters: ((env: ExecutionEnvironment | undefined) => void)[];
}

export function environmentKey(v: FunctionVersion): string {
  return `${v.accountId}/${v.functionName}/${v.version}/${v.code.sha256Hex}/${v.revisionId}`;
}

function versionKey(v: FunctionVersion): string {
  return `${v.accountId}/${v.functionName}/${v.version}`;
}

export class EnvironmentPool {
  readonly #deps: EnvironmentPoolDeps;
  readonly #slots = new Map<string, Slot>();
  /** The newest environment key seen per function version: older keys drain. */
  readonly #current = new Map<string, string>();
  readonly #keys = new WeakMap<ExecutionEnvironment, string>();
  readonly #reapers = new WeakMap<ExecutionEnvironment, NodeJS.Timeout>();
  readonly #all = new Set<ExecutionEnvironment>();
  #closed = false;

  constructor(deps: EnvironmentPoolDeps) {
    this.#deps = deps;
  }

  /** A warm idle environment, or a new one (cold), or the next one released when the version is at its cap. */
  async acquire(target: EnvironmentTarget): Promise<ExecutionEnvironment> {
    const closed = () => new InvokeError('ERR_INVOKE_SHUTTING_DOWN', 'the server is shutting down');
    if (this.#closed) throw closed();
    const key = environmentKey(target.version);
    this.#retireStale(target.version, key);
    const slot = this.#slot(key);
    for (let env = slot.idle.pop(); env; env = slot.idle.pop()) {
      this.#cancelReaper(env);
      if (env.isReusable) {
        slot.active += 1;
        return env;
      }
      void this.#discard(env);
    }
    if (slot.active >= this.#deps.maxPerVersion) {
      const env = await new Promise<ExecutionEnvironment | undefined>((resolve) => slot.waiters.push(resolve));
      if (env) return env;
      if (this.#closed) throw closed();
    }
    slot.active += 1;
    try {
      const env = await this.#deps.start(target);
      this.#keys.set(env, key);
      this.#all.add(env);
      return env;
    } catch (error) {
      slot.active -= 1;
      this.#wakeOne(slot);
      throw error;
    }
  }

  /** Back to the pool after an invocation: handed to a waiter, kept warm, or destroyed if unusable or stale. */
  release(env: ExecutionEnvironment): void {
    const key = this.#keys.get(env);
    const slot = key === undefined ? undefined : this.#slots.get(key);
    if (!slot || key === undefined) {
      void this.#discard(env);
      return;
    }
    const stale = this.#current.get(versionKey(env.target.version)) !== key;
    if (!env.isReusable || stale || this.#closed) {
      slot.active -= 1;
      void this.#discard(env);
      this.#wakeOne(slot);
      return;
    }
    const waiter = slot.waiters.shift();
    if (waiter) {
      waiter(env);
      return;
    }
    slot.active -= 1;
    slot.idle.push(env);
    const reaper = setTimeout(() => {
      const i = slot.idle.indexOf(env);
      if (i >= 0) slot.idle.splice(i, 1);
      void this.#discard(env);
    }, this.#deps.keepAliveMs);
    reaper.unref();
    this.#reapers.set(env, reaper);
  }

  /**
   * A function (or one of its versions) was deleted: its idle environments stop now, busy ones when they finish.
   */
  async retire(accountId: string, functionName: string, version?: string): Promise<void> {
    // Slot keys are account/function/version/code/revision; version keys are account/function/version.
    const scope = version === undefined ? `${accountId}/${functionName}/` : `${accountId}/${functionName}/${version}/`;
    for (const vkey of [...this.#current.keys()]) if (`${vkey}/`.startsWith(scope)) this.#current.delete(vkey);
    const stopping: Promise<void>[] = [];
    for (const [key, slot] of this.#slots) {
      if (!key.startsWith(scope)) continue;
      for (const env of slot.idle.splice(0)) stopping.push(this.#discard(env));
      if (slot.active === 0 && slot.waiters.length === 0) this.#slots.delete(key);
    }
    await Promise.allSettled(stopping);
  }

  /** How many environments exist (starting, busy or idle). */
  get size(): number {
    return this.#all.size;
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const slot of this.#slots.values()) {
      for (const waiter of slot.waiters.splice(0)) waiter(undefined);
    }
    await Promise.allSettled([...this.#all].map((env) => this.#discard(env)));
  }

  #slot(key: string): Slot {
    let slot = this.#slots.get(key);
    if (!slot) {
      slot = { idle: [], active: 0, waiters: [] };
      this.#slots.set(key, slot);
    }
    return slot;
  }

  #retireStale(version: FunctionVersion, key: string): void {
    const vkey = versionKey(version);
    const previous = this.#current.get(vkey);
    this.#current.set(vkey, key);
    if (previous === undefined || previous === key) return;
    const old = this.#slots.get(previous);
    if (!old) return;
    for (const env of old.idle.splice(0)) {
      this.#cancelReaper(env);
      void this.#discard(env);
    }
    if (old.active === 0 && old.waiters.length === 0) this.#slots.delete(previous);
  }

  #wakeOne(slot: Slot): void {
    const waiter = slot.waiters.shift();
    if (waiter) waiter(undefined);
  }

  #cancelReaper(env: ExecutionEnvironment): void {
    const reaper = this.#reapers.get(env);
    if (reaper) clearTimeout(reaper);
  }

  async #discard(env: ExecutionEnvironment): Promise<void> {
    this.#cancelReaper(env);
    this.#all.delete(env);
    await env.destroy().catch((error: unknown) => this.#deps.log.warn({ err: error, environmentId: env.id }, 'environment did not stop cleanly'));
  }
}
