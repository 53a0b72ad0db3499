/**
 * Provisioned concurrency: the configurations (Put/Get/Delete/List, stored) and the environments they keep. Each
 * configuration keeps `requested` environments of its version (an alias's: of the version it points to), started
 * ahead of any invocation through the pool, which never reclaims or evicts them and hands them out first. Status is
 * IN_PROGRESS until all are up, READY then, FAILED (with a reason) when one could not be started; a lost environment
 * (crash, timeout) is replaced. Nothing about environments is stored: at server start every stored configuration is
 * allocated again.
 */
import type { EnvironmentTarget, ExecutionEnvironment } from '../environments/execution-environment.js';
import { formatFunctionArn, type Partition } from '../model/arn.js';
import { LATEST, type Alias, type FunctionRecord, type FunctionVersion } from '../model/function.js';
import type { ProvisionedConcurrencyConfig, ProvisionedConcurrencyStatus } from '../model/provisioned-concurrency.js';
import type { Clock } from '../shared/clock.js';
import type { Logger } from '../shared/logger.js';
import { StoreError, type Page, type PageRequest, type Store } from '../store/store.js';
import { ThrottledError } from './errors.js';
import type { CodeLocator } from './invoke-service.js';
import {
  allocationStatus,
  checkProvisionedPut,
  INIT_FAILURE_REASON,
  NOT_ALIAS_OR_VERSION,
  ProvisionedConcurrencyError,
  UNPUBLISHED,
} from './provisioned-concurrency-rules.js';

/** The two pool operations provisioned concurrency needs (EnvironmentPool implements them). */
export interface ProvisionedEnvironments {
  startProvisioned(target: EnvironmentTarget): Promise<ExecutionEnvironment>;
  retireProvisioned(env: ExecutionEnvironment): Promise<void>;
}

export interface ProvisionedConcurrencyDeps {
  store: Store;
  pool: ProvisionedEnvironments;
  code: CodeLocator;
  clock: Clock;
  log: Logger;
  partition: Partition;
  accountLimit: number;
  minUnreserved: number;
}

/** A configuration as Get/Put/List answer it. */
export interface ProvisionedConcurrencyView {
  config: ProvisionedConcurrencyConfig;
  status: ProvisionedConcurrencyStatus;
  statusReason?: string;
  allocated: number;
  available: number;
}

/** Environments started at once per configuration: a large request does not start them all in the same instant. */
const PARALLEL_STARTS = 4;

/** The running side of one configuration. */
interface Allocation {
  config: ProvisionedConcurrencyConfig;
  /** The version whose environments serve it. */
  version: FunctionVersion;
  ready: Set<ExecutionEnvironment>;
  starting: number;
  /** StatusReason once an environment could not be started; no more are started until the next Put. */
  failure?: string;
  /** Deleted or replaced: environments that come up now are retired. */
  closed: boolean;
}

function keyOf(accountId: string, functionName: string, qualifier: string): string {
  return `${accountId}/${functionName}/${qualifier}`;
}

export class ProvisionedConcurrency {
  readonly #deps: ProvisionedConcurrencyDeps;
  readonly #allocations = new Map<string, Allocation>();
  readonly #owners = new WeakMap<ExecutionEnvironment, Allocation>();
  /** Control-plane changes run one at a time, so the checks of one Put see the result of the previous one. */
  #serial: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(deps: ProvisionedConcurrencyDeps) {
    this.#deps = deps;
  }

  /** Allocates every stored configuration again (server start). Returns once all are under way, not up. */
  async start(): Promise<void> {
    for (const config of await this.#deps.store.provisioned.listAllProvisionedConfigs()) {
      const version = await this.#versionOf(config);
      if (version) this.#allocate(config, version);
      else this.#deps.log.warn({ ...config }, 'provisioned concurrency config names a version that does not exist');
    }
  }

  put(accountId: string, functionName: string, qualifier: string, requested: number): Promise<ProvisionedConcurrencyView> {
    return this.#exclusive(async () => {
      const { store, clock } = this.#deps;
      const { record, alias, version } = await this.#resolve(accountId, functionName, qualifier, 'put');
      const others = (await this.#allConfigs(accountId, functionName)).filter((c) => c.qualifier !== qualifier);
      checkProvisionedPut({
        qualifier,
        requested,
        ...(alias ? { alias } : {}),
        reservedConcurrency: record.reservedConcurrency,
        otherConfigs: others,
        aliases: await this.#allAliases(accountId, functionName),
        accountLimit: this.#deps.accountLimit,
        minUnreserved: this.#deps.minUnreserved,
        accountReserved: await store.functions.sumReservedConcurrency(accountId),
        otherUnreservedProvisioned: await store.provisioned.sumUnreservedProvisioned(accountId, { functionName, qualifier }),
      });
      const config: ProvisionedConcurrencyConfig = { accountId, functionName, qualifier, requested, lastModifiedMs: clock.now() };
      try {
        await store.provisioned.saveProvisionedConfig(config);
      } catch (error) {
        // The function was deleted since it was read.
        if (error instanceof StoreError && error.code === 'ERR_STORE_NOT_FOUND') {
          throw new ProvisionedConcurrencyError('ERR_PROVISIONED_NOT_FOUND', `Function not found: ${this.#arn(functionName, qualifier)}`);
        }
        throw error;
      }
      return this.#view(this.#allocate(config, version));
    });
  }

  async get(accountId: string, functionName: string, qualifier: string): Promise<ProvisionedConcurrencyView> {
    await this.#resolve(accountId, functionName, qualifier, 'read');
    const config = await this.#deps.store.provisioned.findProvisionedConfig(accountId, functionName, qualifier);
    if (!config) {
      throw new ProvisionedConcurrencyError('ERR_PROVISIONED_CONFIG_NOT_FOUND', 'No Provisioned Concurrency Config found for this function');
    }
    return this.#viewOf(config);
  }

  /** Idempotent, as on AWS: deleting a configuration that does not exist succeeds. */
  delete(accountId: string, functionName: string, qualifier: string): Promise<void> {
    return this.#exclusive(async () => {
      await this.#resolve(accountId, functionName, qualifier, 'read');
      await this.#deps.store.provisioned.deleteProvisionedConfig(accountId, functionName, qualifier);
      this.#release(keyOf(accountId, functionName, qualifier));
    });
  }

  async list(accountId: string, functionName: string, page: PageRequest): Promise<Page<ProvisionedConcurrencyView>> {
    const { store } = this.#deps;
    if (!(await store.functions.findFunction(accountId, functionName))) {
      throw new ProvisionedConcurrencyError('ERR_PROVISIONED_NOT_FOUND', `Function not found: ${this.#arn(functionName)}`);
    }
    const configs = await store.provisioned.listProvisionedConfigs(accountId, functionName, page);
    return { ...configs, items: configs.items.map((c) => this.#viewOf(c)) };
  }

  /**
   * Brings the function's allocations in line with the store after a change elsewhere: a configuration deleted with
   * its version, alias or function stops its environments; an alias that now points to another version moves its
   * environments there.
   */
  sync(accountId: string, functionName: string): Promise<void> {
    return this.#exclusive(async () => {
      const prefix = keyOf(accountId, functionName, '');
      for (const [key, allocation] of [...this.#allocations]) {
        if (!key.startsWith(prefix)) continue;
        const { qualifier } = allocation.config;
        const config = await this.#deps.store.provisioned.findProvisionedConfig(accountId, functionName, qualifier);
        const version = config && (await this.#versionOf(config));
        if (!config || !version) this.#release(key);
        else if (version.version !== allocation.version.version) this.#allocate(config, version);
      }
    });
  }

  /** The pool destroyed a provisioned environment that died (crash, timeout, OOM): start a replacement. */
  onProvisionedLost(env: ExecutionEnvironment): void {
    const allocation = this.#owners.get(env);
    if (!allocation) return;
    this.#owners.delete(env);
    allocation.ready.delete(env);
    this.#deps.log.info({ environmentId: env.id, ...allocation.config }, 'provisioned environment lost: starting a replacement');
    this.#fill(allocation);
  }

  /** Stops starting environments; the pool destroys the running ones when it closes. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const allocation of this.#allocations.values()) allocation.closed = true;
    await this.#serial.catch(() => {});
  }

  /**
   * The function (as a record), and the version the qualifier stands for; the not-found and $LATEST errors AWS
   * answers (a Put refuses $LATEST as unpublished, Get and Delete with their own message).
   */
  async #resolve(
    accountId: string,
    functionName: string,
    qualifier: string,
    purpose: 'put' | 'read',
  ): Promise<{ record: FunctionRecord; alias?: Alias; version: FunctionVersion }> {
    const { store } = this.#deps;
    if (qualifier === LATEST) {
      throw new ProvisionedConcurrencyError('ERR_PROVISIONED_INVALID', purpose === 'put' ? UNPUBLISHED : NOT_ALIAS_OR_VERSION);
    }
    const record = await store.functions.findFunction(accountId, functionName);
    if (/^\d+$/.test(qualifier)) {
      const version = record && (await store.functions.findVersion(accountId, functionName, qualifier));
      if (!record || !version) {
        throw new ProvisionedConcurrencyError('ERR_PROVISIONED_NOT_FOUND', `Function not found: ${this.#arn(functionName, qualifier)}`);
      }
      return { record, version };
    }
    const alias = record && (await store.aliases.findAlias(accountId, functionName, qualifier));
    if (!record || !alias) {
      throw new ProvisionedConcurrencyError('ERR_PROVISIONED_NOT_FOUND', `Cannot find alias arn: ${this.#arn(functionName, qualifier)}`);
    }
    const version = await store.functions.findVersion(accountId, functionName, alias.functionVersion);
    if (!version) throw new ProvisionedConcurrencyError('ERR_PROVISIONED_NOT_FOUND', `Function not found: ${this.#arn(functionName, alias.functionVersion)}`);
    return { record, alias, version };
  }

  /** The version a stored configuration provisions now (an alias's current target), if it still exists. */
  async #versionOf(config: ProvisionedConcurrencyConfig): Promise<FunctionVersion | undefined> {
    const { store } = this.#deps;
    const { accountId, functionName, qualifier } = config;
    let versionName = qualifier;
    if (!/^\d+$/.test(qualifier)) {
      const alias = await store.aliases.findAlias(accountId, functionName, qualifier);
      if (!alias || alias.functionVersion === LATEST) return undefined;
      versionName = alias.functionVersion;
    }
    return store.functions.findVersion(accountId, functionName, versionName);
  }

  /** Takes over (or creates) the allocation of a configuration: same version → resized; another → replaced. */
  #allocate(config: ProvisionedConcurrencyConfig, version: FunctionVersion): Allocation {
    const key = keyOf(config.accountId, config.functionName, config.qualifier);
    let allocation = this.#allocations.get(key);
    if (allocation && allocation.version.version === version.version && allocation.version.revisionId === version.revisionId) {
      allocation.config = config;
      delete allocation.failure;
    } else {
      this.#release(key);
      allocation = { config, version, ready: new Set(), starting: 0, closed: this.#closed };
      this.#allocations.set(key, allocation);
    }
    this.#shrink(allocation);
    this.#fill(allocation);
    return allocation;
  }

  /** Closes an allocation and retires its environments (busy ones stop when their invocation ends). */
  #release(key: string): void {
    const allocation = this.#allocations.get(key);
    if (!allocation) return;
    this.#allocations.delete(key);
    allocation.closed = true;
    for (const env of allocation.ready) this.#retire(env);
    allocation.ready.clear();
  }

  #shrink(allocation: Allocation): void {
    const excess = [...allocation.ready].slice(allocation.config.requested);
    for (const env of excess) {
      allocation.ready.delete(env);
      this.#retire(env);
    }
  }

  #retire(env: ExecutionEnvironment): void {
    this.#owners.delete(env);
    this.#deps.pool.retireProvisioned(env).catch((error: unknown) => {
      this.#deps.log.warn({ err: error, environmentId: env.id }, 'provisioned environment did not stop cleanly');
    });
  }

  /** Starts environments until the requested number are up or starting (at most PARALLEL_STARTS at a time). */
  #fill(allocation: Allocation): void {
    while (
      !allocation.closed &&
      allocation.failure === undefined &&
      allocation.starting < PARALLEL_STARTS &&
      allocation.ready.size + allocation.starting < allocation.config.requested
    ) {
      allocation.starting += 1;
      void this.#startOne(allocation);
    }
  }

  async #startOne(allocation: Allocation): Promise<void> {
    const { pool, code, log } = this.#deps;
    let env: ExecutionEnvironment;
    try {
      const dirs = await code.locate(allocation.version);
      env = await pool.startProvisioned({ version: allocation.version, ...dirs, initializationType: 'provisioned-concurrency' });
    } catch (error) {
      allocation.starting -= 1;
      if (allocation.closed) return;
      allocation.failure = failureReason(error, allocation);
      log.warn({ err: error, ...allocation.config }, 'provisioned environment could not be started');
      return;
    }
    allocation.starting -= 1;
    if (!env.isReusable) {
      // The function's init failed: AWS reports the allocation FAILED rather than keeping a broken environment.
      void pool.retireProvisioned(env).catch(() => {});
      if (!allocation.closed) allocation.failure = INIT_FAILURE_REASON;
      return;
    }
    if (allocation.closed || allocation.ready.size >= allocation.config.requested) {
      this.#retire(env);
      return;
    }
    allocation.ready.add(env);
    this.#owners.set(env, allocation);
    this.#fill(allocation);
  }

  #viewOf(config: ProvisionedConcurrencyConfig): ProvisionedConcurrencyView {
    const allocation = this.#allocations.get(keyOf(config.accountId, config.functionName, config.qualifier));
    // No allocation yet (the server is starting, or the version vanished): nothing is up.
    return this.#view(allocation ?? { config, ready: new Set(), starting: 0 });
  }

  #view(allocation: Pick<Allocation, 'config' | 'ready' | 'starting' | 'failure'>): ProvisionedConcurrencyView {
    const { config } = allocation;
    const { status, allocated, available } = allocationStatus({
      requested: config.requested,
      ready: allocation.ready.size,
      starting: allocation.starting,
      ...(allocation.failure === undefined ? {} : { failure: allocation.failure }),
    });
    return { config, status, allocated, available, ...(status === 'FAILED' ? { statusReason: allocation.failure } : {}) };
  }

  #exclusive<T>(body: () => Promise<T>): Promise<T> {
    const run = this.#serial.then(body, body);
    this.#serial = run.catch(() => {});
    return run;
  }

  #allConfigs(accountId: string, functionName: string): Promise<ProvisionedConcurrencyConfig[]> {
    return allPages((page) => this.#deps.store.provisioned.listProvisionedConfigs(accountId, functionName, page));
  }

  #allAliases(accountId: string, functionName: string): Promise<Alias[]> {
    return allPages((page) => this.#deps.store.aliases.listAliases(accountId, functionName, undefined, page));
  }

  #arn(functionName: string, qualifier?: string): string {
    return formatFunctionArn(this.#deps.partition, functionName, qualifier);
  }
}

/** Every item of a paged store listing (a function's aliases and configurations: bounded by AWS's quotas). */
async function allPages<T>(list: (page: PageRequest) => Promise<Page<T>>): Promise<T[]> {
  const out: T[] = [];
  let marker: string | undefined;
  do {
    const page = await list(marker === undefined ? { limit: 100 } : { limit: 100, marker });
    out.push(...page.items);
    marker = page.nextMarker;
  } while (marker !== undefined);
  return out;
}

/** StatusReason for an environment that could not be started. */
function failureReason(error: unknown, allocation: Allocation): string {
  const memoryMb = allocation.version.settings.memorySizeMb;
  if (error instanceof ThrottledError) {
    return `Insufficient capacity: this node cannot host ${allocation.config.requested} provisioned environments of ${memoryMb} MB (KINDLING_MAX_MEMORY_MB, KINDLING_CONCURRENCY_LIMIT).`;
  }
  return `A provisioned environment could not be started: ${error instanceof Error ? error.message : String(error)}`;
}
