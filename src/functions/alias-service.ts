/** Aliases: named pointers to a version, with optional weighted routing to one more version (LAMBDA_REFERENCE §8). */
import { LATEST, type Alias } from '../model/function.js';
import { newRevisionId } from '../shared/ids.js';
import { StoreError, type Page, type PageRequest, type Store } from '../store/store.js';
import { FunctionsError, revisionMismatch } from './errors.js';
import type { FunctionService } from './function-service.js';

export interface AliasInput {
  functionVersion?: string;
  description?: string;
  /** undefined = keep (update) / none (create); {} = remove routing. */
  additionalVersionWeights?: Record<string, number>;
  revisionId?: string;
}

export class AliasService {
  readonly #store: Store;
  readonly #functions: FunctionService;

  constructor(deps: { store: Store; functions: FunctionService }) {
    this.#store = deps.store;
    this.#functions = deps.functions;
  }

  aliasArn(functionName: string, name: string): string {
    return this.#functions.arn(functionName, name);
  }

  async create(accountId: string, functionName: string, name: string, input: AliasInput): Promise<Alias> {
    await this.#functions.findRecord(accountId, functionName);
    const functionVersion = input.functionVersion ?? LATEST;
    const weights = input.additionalVersionWeights ?? {};
    await this.#checkTarget(accountId, functionName, functionVersion, weights);
    const alias: Alias = { accountId, functionName, name, functionVersion, description: input.description ?? '', revisionId: newRevisionId() };
    if (Object.keys(weights).length > 0) alias.additionalVersionWeights = weights;
    try {
      await this.#store.aliases.createAlias(alias);
    } catch (error) {
      if (error instanceof StoreError && error.code === 'ERR_STORE_CONFLICT') {
        throw new FunctionsError('ERR_CONFLICT', `Alias already exists: ${this.aliasArn(functionName, name)}`);
      }
      throw error;
    }
    return alias;
  }

  async get(accountId: string, functionName: string, name: string): Promise<Alias> {
    await this.#functions.findRecord(accountId, functionName);
    const alias = await this.#store.aliases.findAlias(accountId, functionName, name);
    if (!alias) throw new FunctionsError('ERR_NOT_FOUND', `Alias not found: ${this.aliasArn(functionName, name)}`);
    return alias;
  }

  async update(accountId: string, functionName: string, name: string, input: AliasInput): Promise<Alias> {
    await this.#functions.findRecord(accountId, functionName);
    const current = await this.#store.aliases.findAlias(accountId, functionName, name);
    if (!current) throw new FunctionsError('ERR_NOT_FOUND', `Cannot find alias arn: ${this.aliasArn(functionName, name)}`);
    if (input.revisionId !== undefined && input.revisionId !== current.revisionId) throw revisionMismatch('GetAlias');
    const functionVersion = input.functionVersion ?? current.functionVersion;
    const weights = input.additionalVersionWeights ?? current.additionalVersionWeights ?? {};
    await this.#checkTarget(accountId, functionName, functionVersion, weights);
    const next: Alias = { ...current, functionVersion, description: input.description ?? current.description, revisionId: newRevisionId() };
    delete next.additionalVersionWeights;
    if (Object.keys(weights).length > 0) next.additionalVersionWeights = weights;
    try {
      await this.#store.aliases.saveAlias(next, current.revisionId);
    } catch (error) {
      if (error instanceof StoreError && error.code === 'ERR_STORE_REVISION_MISMATCH') throw revisionMismatch('GetAlias');
      throw error;
    }
    return next;
  }

  async delete(accountId: string, functionName: string, name: string): Promise<void> {
    await this.#functions.findRecord(accountId, functionName);
    await this.#store.aliases.deleteAlias(accountId, functionName, name);
  }

  async list(accountId: string, functionName: string, functionVersion: string | undefined, page: PageRequest): Promise<Page<Alias>> {
    await this.#functions.findRecord(accountId, functionName);
    return this.#store.aliases.listAliases(accountId, functionName, functionVersion, page);
  }

  async #checkTarget(accountId: string, functionName: string, functionVersion: string, weights: Record<string, number>): Promise<void> {
    await this.#checkVersionExists(accountId, functionName, functionVersion);
    const entries = Object.entries(weights);
    if (entries.length > 1) {
      throw new FunctionsError('ERR_INVALID_PARAMETER', 'Number of items in AdditionalVersionWeights cannot be greater than 1');
    }
    for (const [version, weight] of entries) {
      if (!(weight >= 0 && weight <= 1)) {
        throw new FunctionsError(
          'ERR_VALIDATION',
          `1 validation error detected: Value '{${version}=${weight}}' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member must have value greater than or equal to 0.0, Member must not be null]`,
        );
      }
      if (!/^\d+$/.test(version)) {
        throw new FunctionsError('ERR_INVALID_PARAMETER', `Invalid function version ${version}. Function version ${version} is not a published version.`);
      }
      if (version === functionVersion) {
        throw new FunctionsError('ERR_INVALID_PARAMETER', `Invalid function version ${version}. Function version ${version} is already included in routing configuration.`);
      }
      if (functionVersion === LATEST) {
        throw new FunctionsError('ERR_INVALID_PARAMETER', '$LATEST is not supported for an alias pointing to more than 1 version');
      }
      await this.#checkVersionExists(accountId, functionName, version);
    }
  }

  async #checkVersionExists(accountId: string, functionName: string, version: string): Promise<void> {
    if (version !== LATEST && !/^\d+$/.test(version)) {
      throw new FunctionsError(
        'ERR_VALIDATION',
        `1 validation error detected: Value '${version}' at 'functionVersion' failed to satisfy constraint: Member must satisfy regular expression pattern: (\\$LATEST|[0-9]+)`,
      );
    }
    if (!(await this.#store.functions.findVersion(accountId, functionName, version))) {
      throw new FunctionsError('ERR_NOT_FOUND', `Function not found: ${this.#functions.arn(functionName, version)}`);
    }
  }
}
