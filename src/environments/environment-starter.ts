/**
 * The cold-start path the pool calls (EnvironmentPoolDeps.start): a pre-warmed sandbox when one of the function's
 * spare key is ready, else a sandbox of its own. Counts every invocation's start kind (warm, pre-warmed, cold) and
 * logs each environment start.
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from '../shared/logger.js';
import { ExecutionEnvironment, type EnvironmentTarget, type ExecutionEnvironmentDeps, type StartKind } from './execution-environment.js';
import type { SparePool, SpareStats } from './spare-pool.js';

export interface StartStats {
  starts: Record<StartKind, number>;
  spares: SpareStats;
}

export class EnvironmentStarter {
  readonly #deps: ExecutionEnvironmentDeps;
  readonly #spares: SparePool | undefined;
  readonly #log: Logger;
  readonly #starts: Record<StartKind, number> = { warm: 0, 'pre-warmed': 0, cold: 0 };

  constructor(deps: Omit<ExecutionEnvironmentDeps, 'onInvocationStart'>, spares: SparePool | undefined, log: Logger) {
    this.#deps = { ...deps, onInvocationStart: (kind) => (this.#starts[kind] += 1) };
    this.#spares = spares?.enabled ? spares : undefined;
    this.#log = log;
  }

  /** Starts an environment for the target, pre-warmed when possible. */
  async start(target: EnvironmentTarget): Promise<ExecutionEnvironment> {
    const began = performance.now();
    const spares = this.#spares;
    if (!spares) return this.#logged(await ExecutionEnvironment.start(this.#deps, target), began);
    return spares.starting(async () => {
      const spare = spares.take(target.version);
      if (spare) {
        try {
          return this.#logged(await ExecutionEnvironment.start(this.#deps, target, spare), began);
        } catch (error) {
          // The binding itself failed (a mount refused): the function still gets an environment of its own.
          this.#log.warn({ err: error, function: target.version.functionName }, 'binding a pre-warmed sandbox failed; starting cold');
        }
      }
      return this.#logged(await ExecutionEnvironment.start(this.#deps, target), began);
    });
  }

  stats(): StartStats {
    const none = { perKey: 0, ready: 0, starting: 0, memoryMb: 0, keys: [] };
    return { starts: { ...this.#starts }, spares: this.#spares?.stats() ?? none };
  }

  #logged(env: ExecutionEnvironment, began: number): ExecutionEnvironment {
    const v = env.target.version;
    this.#log.info(
      { function: v.functionName, version: v.version, environment: env.id, start: env.startKind, ms: Math.round((performance.now() - began) * 10) / 10 },
      `environment started (${env.startKind})`,
    );
    return env;
  }
}
