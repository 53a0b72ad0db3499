/**
 * Pre-warmed sandboxes ("spares", issue 4 item 6): per spare key (runtime, MemorySize, EphemeralStorage), a few
 * sandboxes whose runtime already started and waits for a function at GET /kindling/binding (binding-gate.ts). A cold
 * start of an eligible function takes one (ExecutionEnvironment.start with the spare), binds its code and settings
 * and loads the handler; a spare bound to a function never comes back here.
 *
 * Which keys are kept: a key is wanted when a function of that key starts (and, at server start, for existing
 * functions, up to maxKeys); at most maxKeys keys (the least recently wanted goes first); a key not wanted for
 * keepAliveMs is dropped with its spares. Refilling is polite: one spare starting at a time in all, and none while a
 * real environment start is under way (starting() brackets those), so spares never compete with a user's cold start.
 * A key whose spares keep failing to start is left alone until it is wanted again.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { FunctionVersion } from '../model/function.js';
import type { Clock } from '../shared/clock.js';
import type { Logger } from '../shared/logger.js';
import { createRuntimeApi, type RuntimeApi } from '../runtime-api/server.js';
import { buildSpareEnvironment, nodeHeapFlags } from './env-vars.js';
import { runtimeApiSocketInside, type Sandbox, type SandboxProcess } from './sandbox.js';
import { spareKeyOf, type SpareKey } from './spare-key.js';

/** Lambda's runtime response limit (execution-environment.ts has the same; kept apart to avoid an import cycle). */
const MAX_RESPONSE_BYTES = 6 * 1024 * 1024 + 100;
/** Consecutive failed starts after which a key is no longer refilled (until it is wanted again). */
const MAX_FAILURES = 3;

export interface SparePoolDeps {
  sandbox: Sandbox;
  /** Host directory of our bootstraps (<root>/nodejs, <root>/python). */
  bootstrapRoot: string;
  clock: Clock;
  log: Logger;
  /** Spares kept ready per key (KINDLING_PREWARM); 0 keeps none. */
  perKey: number;
  /** At most this many keys (KINDLING_PREWARM_KEYS). */
  maxKeys: number;
  /** A key not wanted for this long is dropped. */
  keepAliveMs: number;
  /** How long a spare's runtime may take to reach its binding request. */
  startTimeoutMs: number;
}

/** A ready spare, handed over by take(): from then on its owner (the environment) destroys all of it. */
export interface Spare {
  readonly id: string;
  readonly key: SpareKey;
  readonly process: SandboxProcess;
  readonly api: RuntimeApi;
  /** The Runtime API socket's directory (removed on destroy). */
  readonly socketDir: string;
}

interface KeyState {
  key: SpareKey;
  ready: Spare[];
  starting: number;
  lastWantedMs: number;
  failures: number;
  /** Spares were released for capacity: not refilled until the key is wanted again. */
  held: boolean;
}

export interface SpareStats {
  perKey: number;
  ready: number;
  starting: number;
  memoryMb: number;
  keys: { key: string; ready: number; starting: number }[];
}

export class SparePool {
  readonly #deps: SparePoolDeps;
  readonly #keys = new Map<string, KeyState>();
  /** Environment starts under way (starting()); refills wait for 0. */
  #starts = 0;
  #filling = false;
  /** The node's room check; until the pool sets one, every spare fits. */
  #hasRoom: (memoryMb: number) => boolean = () => true;
  /** The spare start under way, awaited by close() so that nothing starts behind the sandbox's back. */
  #inFlight: Promise<void> | undefined;
  #closed = false;
  readonly #sweeper: NodeJS.Timeout;

  constructor(deps: SparePoolDeps) {
    this.#deps = deps;
    this.#sweeper = setInterval(() => this.#sweep(), Math.max(1000, Math.min(60_000, deps.keepAliveMs))).unref();
  }

  get enabled(): boolean {
    return this.#deps.perKey > 0 && this.#deps.sandbox.lateBinding;
  }

  /** Marks the function's key as wanted (refilled in the background), without taking a spare. */
  want(version: FunctionVersion): void {
    const key = spareKeyOf(version);
    if (!this.enabled || 'ineligible' in key) return;
    this.#want(key);
    this.#pump();
  }

  /** A ready spare for this function, or undefined (not eligible, or none ready): the key is wanted either way. */
  take(version: FunctionVersion): Spare | undefined {
    const key = spareKeyOf(version);
    if (!this.enabled || this.#closed || 'ineligible' in key) return undefined;
    const state = this.#want(key);
    const spare = state.ready.shift();
    this.#pump();
    return spare;
  }

  /** The node's room check (EnvironmentPool.hasRoomForSpare): a spare starts only when it fits. */
  setRoomCheck(hasRoom: (memoryMb: number) => boolean): void {
    this.#hasRoom = hasRoom;
  }

  /** Room may have come free (an environment went away): start a spare if one is missing and fits. */
  refill(): void {
    this.#pump();
  }

  /** Memory of the ready spares: what release() can free now. */
  readyMemoryMb(): number {
    let mb = 0;
    for (const state of this.#keys.values()) mb += state.ready.length * state.key.memoryMb;
    return mb;
  }

  /** Spares ready or starting (each holds a host uid). */
  count(): number {
    let n = 0;
    for (const state of this.#keys.values()) n += state.ready.length + state.starting;
    return n;
  }

  /** Whether take(version) would hand out a spare now (nothing is wanted or started by asking). */
  readyFor(version: FunctionVersion): boolean {
    const key = spareKeyOf(version);
    if (!this.enabled || this.#closed || 'ineligible' in key) return false;
    return (this.#keys.get(key.id)?.ready.length ?? 0) > 0;
  }

  /** Brackets a real environment start: no spare starts while one is under way. */
  async starting<T>(start: () => Promise<T>): Promise<T> {
    this.#starts += 1;
    try {
      return await start();
    } finally {
      this.#starts -= 1;
      this.#pump();
    }
  }

  /** Memory the spares hold (ready and starting), for the node's capacity. */
  memoryMb(): number {
    let mb = 0;
    for (const state of this.#keys.values()) mb += (state.ready.length + state.starting) * state.key.memoryMb;
    return mb;
  }

  /**
   * Destroys ready spares, least recently wanted keys first, until `mb` is freed or none is left. Returns the MB freed.
   * With `keepFor`, one ready spare of that version's key stays: the start that asked for room is about to take it.
   */
  async release(mb: number, keepFor?: FunctionVersion): Promise<number> {
    let freed = 0;
    const victims: Spare[] = [];
    const kept = keepFor === undefined ? undefined : spareKeyOf(keepFor);
    const keptId = kept === undefined || 'ineligible' in kept ? undefined : kept.id;
    for (const state of [...this.#keys.values()].sort((a, b) => a.lastWantedMs - b.lastWantedMs)) {
      const keep = state.key.id === keptId ? 1 : 0;
      while (freed < mb && state.ready.length > keep) {
        victims.push(state.ready.pop()!);
        freed += state.key.memoryMb;
        state.held = true;
      }
    }
    await Promise.allSettled(victims.map((spare) => destroySpare(spare)));
    return freed;
  }

  stats(): SpareStats {
    const keys = [...this.#keys.values()].map((s) => ({ key: s.key.id, ready: s.ready.length, starting: s.starting }));
    return {
      perKey: this.enabled ? this.#deps.perKey : 0,
      ready: keys.reduce((n, k) => n + k.ready, 0),
      starting: keys.reduce((n, k) => n + k.starting, 0),
      memoryMb: this.memoryMb(),
      keys,
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweeper);
    await this.#inFlight;
    const spares = [...this.#keys.values()].flatMap((state) => state.ready.splice(0));
    this.#keys.clear();
    await Promise.allSettled(spares.map((spare) => destroySpare(spare)));
  }

  #want(key: SpareKey): KeyState {
    let state = this.#keys.get(key.id);
    if (!state) {
      if (this.#keys.size >= this.#deps.maxKeys) this.#dropLeastWanted();
      state = { key, ready: [], starting: 0, lastWantedMs: 0, failures: 0, held: false };
      this.#keys.set(key.id, state);
    }
    state.lastWantedMs = this.#deps.clock.now();
    state.held = false;
    if (state.failures >= MAX_FAILURES) state.failures = 0; // wanted again: one more round of attempts
    return state;
  }

  #dropLeastWanted(): void {
    const oldest = [...this.#keys.values()].sort((a, b) => a.lastWantedMs - b.lastWantedMs)[0];
    if (oldest) this.#drop(oldest);
  }

  #drop(state: KeyState): void {
    this.#keys.delete(state.key.id);
    for (const spare of state.ready.splice(0)) void destroySpare(spare);
  }

  #sweep(): void {
    const cutoff = this.#deps.clock.now() - this.#deps.keepAliveMs;
    for (const state of [...this.#keys.values()]) if (state.lastWantedMs < cutoff) this.#drop(state);
  }

  /** Starts one spare for the most recently wanted key that lacks one, if nothing else is starting. */
  #pump(): void {
    if (this.#closed || this.#filling || this.#starts > 0 || !this.enabled) return;
    const state = [...this.#keys.values()]
      .filter((s) => !s.held && s.failures < MAX_FAILURES && s.ready.length + s.starting < this.#deps.perKey)
      .sort((a, b) => b.lastWantedMs - a.lastWantedMs)[0];
    if (!state || !this.#hasRoom(state.key.memoryMb)) return;
    this.#filling = true;
    state.starting += 1;
    // Deferred: the start that made this key wanted goes first.
    let done!: () => void;
    this.#inFlight = new Promise<void>((resolve) => (done = resolve));
    setImmediate(() => {
      if (this.#closed) {
        state.starting -= 1;
        this.#filling = false;
        return done();
      }
      void this.#startSpare(state.key)
        .then((spare) => {
          state.failures = 0;
          if (this.#closed || this.#keys.get(state.key.id) !== state) return destroySpare(spare);
          state.ready.push(spare);
          void spare.process.exited.then(() => this.#lost(state, spare));
        })
        .catch((error: unknown) => {
          state.failures += 1;
          this.#deps.log.warn({ err: error, key: state.key.id, failures: state.failures }, 'a pre-warmed sandbox failed to start');
        })
        .finally(() => {
          state.starting -= 1;
          this.#filling = false;
          done();
          this.#pump();
        });
    });
  }

  /** A ready spare whose runtime exited before it was taken. */
  #lost(state: KeyState, spare: Spare): void {
    const index = state.ready.indexOf(spare);
    if (index < 0) return; // taken (its environment reports the exit) or released
    state.ready.splice(index, 1);
    state.failures += 1;
    this.#deps.log.warn({ key: state.key.id, id: spare.id }, 'a pre-warmed sandbox exited while waiting');
    void destroySpare(spare).finally(() => this.#pump());
  }

  async #startSpare(key: SpareKey): Promise<Spare> {
    const { sandbox, startTimeoutMs } = this.#deps;
    const id = `s${randomBytes(8).toString('hex')}`;
    const socketDir = join(sandbox.socketRoot, id);
    await mkdir(socketDir, { mode: 0o700 });
    let api: RuntimeApi | undefined;
    let process: SandboxProcess | undefined;
    try {
      api = await createRuntimeApi({ listen: { socketPath: join(socketDir, 'rapi.sock') }, maxResponseBytes: MAX_RESPONSE_BYTES, binding: true });
      const runtime = key.runtime;
      const env = buildSpareEnvironment(runtime, { runtimeApi: sandbox.runtimeApiAddress(api.address), runtimeApiSocketInside: runtimeApiSocketInside(api.address) });
      const command = runtime.command!;
      const argv = runtime.heapFlags ? [command[0]!, ...nodeHeapFlags(key.memoryMb, undefined), ...command.slice(1)] : [...command];
      process = await sandbox.start({
        id,
        runtimeDir: join(this.#deps.bootstrapRoot, runtime.bootstrapDir!),
        command: argv,
        env,
        runtimeApiSocket: api.address,
        runtimeApiBridge: 'background',
        limits: { memoryMb: key.memoryMb, cpuQuota: key.memoryMb / 1769, pidsMax: 1024, tmpMb: key.tmpMb },
      });
      let timer: NodeJS.Timeout | undefined;
      const outcome = await Promise.race([
        api.awaitingBinding.then(() => 'ready' as const),
        process.exited.then((exit) => `exited (${exit.code ?? exit.signal})`),
        new Promise<string>((resolve) => {
          timer = setTimeout(() => resolve(`not ready within ${startTimeoutMs} ms`), startTimeoutMs);
        }),
      ]);
      clearTimeout(timer);
      if (outcome !== 'ready') throw new Error(`the runtime ${outcome}`);
      return { id, key, process, api, socketDir };
    } catch (error) {
      await Promise.allSettled([process?.destroy(), api?.close()]);
      await rm(socketDir, { recursive: true, force: true });
      throw error;
    }
  }
}

async function destroySpare(spare: Spare): Promise<void> {
  await Promise.allSettled([spare.process.destroy(), spare.api.close()]);
  await rm(spare.socketDir, { recursive: true, force: true }).catch(() => {});
}
