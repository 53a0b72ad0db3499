/**
 * Put (replace) / Update (merge) / Get / Delete / List of EventInvokeConfigs (LAMBDA_REFERENCE rows 94–98, §7.1).
 * The API has checked the function and qualifier exist and the numbers' ranges; this checks destinations.
 */
import { LATEST } from '../../model/function.js';
import { destinationFunctionOf, destinationKindOf } from '../../model/destination-arn.js';
import type { EventInvokeConfig } from '../../model/async-event.js';
import type { Partition } from '../../model/arn.js';
import type { Clock } from '../../shared/clock.js';
import type { EventInvokeConfigStore, Page, PageRequest } from '../../store/store.js';
import { AsyncInvokeError } from './errors.js';

/** What a Put or Update carries. A destination of '' (or an OnSuccess/OnFailure without one) removes it. */
export interface EventInvokeConfigInput {
  maximumRetryAttempts?: number;
  maximumEventAgeSeconds?: number;
  onSuccess?: string;
  onFailure?: string;
}

export interface EventInvokeConfigsDeps {
  store: EventInvokeConfigStore;
  clock: Clock;
  partition: Partition;
  /** The qualified ARN of a function (for messages). */
  arn(functionName: string, qualifier: string): string;
}

export class EventInvokeConfigs {
  readonly #deps: EventInvokeConfigsDeps;

  constructor(deps: EventInvokeConfigsDeps) {
    this.#deps = deps;
  }

  async put(accountId: string, functionName: string, qualifier: string | undefined, input: EventInvokeConfigInput): Promise<EventInvokeConfig> {
    return this.#save({ accountId, functionName, qualifier: qualifier ?? LATEST, lastModifiedMs: 0 }, input);
  }

  async update(accountId: string, functionName: string, qualifier: string | undefined, input: EventInvokeConfigInput): Promise<EventInvokeConfig> {
    if (Object.values(input).every((v) => v === undefined)) {
      throw new AsyncInvokeError('ERR_ASYNC_INVALID_CONFIG', 'You must specify at least one of error handling or destination setting.');
    }
    const current = await this.get(accountId, functionName, qualifier);
    return this.#save(current, input);
  }

  async get(accountId: string, functionName: string, qualifier: string | undefined): Promise<EventInvokeConfig> {
    const key = qualifier ?? LATEST;
    const config = await this.#deps.store.findConfig(accountId, functionName, key);
    if (!config) throw this.#notFound(functionName, key);
    return config;
  }

  /** The config an event invoked with this qualifier follows (undefined: Lambda's defaults). */
  find(accountId: string, functionName: string, qualifier: string | undefined): Promise<EventInvokeConfig | undefined> {
    return this.#deps.store.findConfig(accountId, functionName, qualifier ?? LATEST);
  }

  async delete(accountId: string, functionName: string, qualifier: string | undefined): Promise<void> {
    const key = qualifier ?? LATEST;
    if (!(await this.#deps.store.deleteConfig(accountId, functionName, key))) throw this.#notFound(functionName, key);
  }

  list(accountId: string, functionName: string, page: PageRequest): Promise<Page<EventInvokeConfig>> {
    return this.#deps.store.listConfigs(accountId, functionName, page);
  }

  /** Replaces the settings input names (an Update passes the current config as base, a Put an empty one). */
  async #save(base: EventInvokeConfig, input: EventInvokeConfigInput): Promise<EventInvokeConfig> {
    const next: EventInvokeConfig = { ...base, lastModifiedMs: this.#deps.clock.now() };
    if (input.maximumRetryAttempts !== undefined) next.maximumRetryAttempts = input.maximumRetryAttempts;
    if (input.maximumEventAgeSeconds !== undefined) next.maximumEventAgeSeconds = input.maximumEventAgeSeconds;
    if (input.onSuccess !== undefined) setDestination(next, 'onSuccess', input.onSuccess);
    if (input.onFailure !== undefined) setDestination(next, 'onFailure', input.onFailure);
    this.#checkDestinations(next);
    await this.#deps.store.saveConfig(next);
    return next;
  }

  #checkDestinations(config: EventInvokeConfig): void {
    const { onSuccess, onFailure } = config;
    const valid = (arn: string | undefined, allowS3: boolean) => {
      if (arn === undefined) return true;
      const kind = destinationKindOf(arn);
      return kind !== undefined && (kind !== 's3' || allowS3);
    };
    if (!valid(onSuccess, false) || !valid(onFailure, true)) {
      const part = (name: string, arn: string | undefined) => (arn === undefined ? 'null' : `${name}(destination=${arn})`);
      throw new AsyncInvokeError(
        'ERR_ASYNC_INVALID_CONFIG',
        `The provided destination config DestinationConfig(onSuccess=${part('OnSuccess', onSuccess)}, onFailure=${part('OnFailure', onFailure)}) is invalid.`,
      );
    }
    for (const arn of [onSuccess, onFailure]) {
      const target = arn === undefined ? undefined : destinationFunctionOf(arn);
      const { partition } = this.#deps;
      if (target && target.functionName === config.functionName && target.accountId === config.accountId && target.region === partition.region) {
        throw new AsyncInvokeError('ERR_ASYNC_INVALID_CONFIG', "You can't specify the function as a destination for itself.");
      }
    }
  }

  #notFound(functionName: string, qualifier: string): AsyncInvokeError {
    return new AsyncInvokeError('ERR_ASYNC_CONFIG_NOT_FOUND', `The function ${this.#deps.arn(functionName, qualifier)} doesn't have an EventInvokeConfig`);
  }
}

function setDestination(config: EventInvokeConfig, key: 'onSuccess' | 'onFailure', arn: string): void {
  if (arn === '') delete config[key];
  else config[key] = arn;
}
