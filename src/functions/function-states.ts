/**
 * A new function answers `State: Pending` and an update `LastUpdateStatus: InProgress`, then both settle, as on AWS,
 * so the CLI's waiters (function-active-v2, function-updated-v2) see the transition. Kindling prepares code before it
 * answers, so settling is immediate after the response; a crash in between is repaired at the next start.
 */
import type { FunctionVersion } from '../model/function.js';
import type { Logger } from '../shared/logger.js';
import type { FunctionStore } from '../store/store.js';

export class FunctionStates {
  readonly #functions: FunctionStore;
  readonly #log: Logger;
  readonly #pending = new Set<Promise<void>>();

  constructor(deps: { functions: FunctionStore; log: Logger }) {
    this.#functions = deps.functions;
    this.#log = deps.log;
  }

  /** Moves the version to Active / Successful right after the current response has been sent. */
  settle(version: FunctionVersion): void {
    const task = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.#settleNow(version))
      .catch((error: unknown) => this.#log.error({ err: error, functionName: version.functionName }, 'could not settle function state'))
      .finally(() => this.#pending.delete(task));
    this.#pending.add(task);
  }

  /** At start: versions left Pending or InProgress by a crash settle now. */
  async recover(): Promise<number> {
    const unsettled = await this.#functions.listUnsettledVersions();
    for (const version of unsettled) await this.#settleNow(version);
    return unsettled.length;
  }

  /** Waits for scheduled transitions (used by close()). */
  async drain(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }

  async #settleNow(version: FunctionVersion): Promise<void> {
    const current = await this.#functions.findVersion(version.accountId, version.functionName, version.version);
    // Only settle the revision we were asked about; a later update schedules its own.
    if (!current || current.revisionId !== version.revisionId) return;
    await this.#functions.updateVersionState(version.accountId, version.functionName, version.version, {
      state: 'Active',
      lastUpdateStatus: 'Successful',
    });
  }
}
