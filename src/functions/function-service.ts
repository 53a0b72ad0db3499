/**
 * The control plane for functions and their versions: create, read, update, publish, delete — the semantics of
 * LAMBDA_REFERENCE §1.4 and §8. Rows go to the store; packages to CodePackages; states settle through FunctionStates.
 */
import { formatFunctionArn, parseLayerVersionArn, type Partition } from '../model/arn.js';
import {
  LATEST,
  type Alias,
  type CodeRef,
  type FunctionRecord,
  type FunctionSettings,
  type FunctionVersion,
  type LayerReference,
} from '../model/function.js';
import { MAX_LAYERS_PER_FUNCTION, MAX_UNZIPPED_CODE_BYTES } from '../model/limits.js';
import type { Clock } from '../shared/clock.js';
import { newRevisionId } from '../shared/ids.js';
import { StoreError, type Page, type PageRequest, type Store } from '../store/store.js';
import { pickAliasVersion, type RandomSource } from './alias-routing.js';
import type { CodePackages } from './code-packages.js';
import { FunctionsError, revisionMismatch } from './errors.js';
import { collectPages, pageInMemory } from './paging.js';
import type { FunctionStates } from './function-states.js';
import { resolveSettings, type SettingsInput } from './function-settings.js';

export interface FunctionServiceDeps {
  store: Store;
  code: CodePackages;
  states: FunctionStates;
  clock: Clock;
  partition: Partition;
  /** Draws for weighted alias routing (default Math.random). */
  random?: RandomSource;
  /** Called after a function (version undefined) or one version was deleted: environments and logs go with it. */
  onDeleted?: (accountId: string, functionName: string, version: string | undefined) => Promise<void>;
}

export interface CreateFunctionInput {
  functionName: string;
  settings: SettingsInput;
  zipFile: Buffer;
  publish: boolean;
  tags: Record<string, string>;
}

/** A version reached through a qualifier, and the alias it was reached through (if any). */
export interface ResolvedVersion {
  version: FunctionVersion;
  alias?: Alias;
  /** The qualifier as the caller gave it (undefined for an unqualified reference). */
  qualifier?: string;
}

const UPDATE_IN_PROGRESS = 'The operation cannot be performed at this time. An update is in progress for resource: ';

export class FunctionService {
  readonly #deps: FunctionServiceDeps;

  constructor(deps: FunctionServiceDeps) {
    this.#deps = deps;
  }

  get partition(): Partition {
    return this.#deps.partition;
  }

  arn(functionName: string, qualifier?: string): string {
    return formatFunctionArn(this.#deps.partition, functionName, qualifier);
  }

  notFound(functionName: string, qualifier?: string): FunctionsError {
    return new FunctionsError('ERR_NOT_FOUND', `Function not found: ${this.arn(functionName, qualifier)}`);
  }

  async create(accountId: string, input: CreateFunctionInput): Promise<FunctionVersion> {
    const { store, clock } = this.#deps;
    if (await store.functions.findFunction(accountId, input.functionName)) {
      throw new FunctionsError('ERR_CONFLICT', `Function already exist: ${input.functionName}`);
    }
    const base = resolveSettings(input.functionName, input.settings, undefined);
    const layers = await this.#resolveLayers(accountId, input.settings.layerArns ?? []);
    const settings: FunctionSettings = { ...base, layers };
    const held = await this.#ingest(input.zipFile, layers);
    try {
      const now = clock.now();
      const record: FunctionRecord = {
        accountId,
        functionName: input.functionName,
        createdMs: now,
        lastVersionNumber: input.publish ? 1 : 0,
        tags: input.tags,
      };
      const latest = this.#newVersion(accountId, input.functionName, LATEST, settings, held.code, now);
      const published = input.publish
        ? {
            ...this.#newVersion(accountId, input.functionName, '1', settings, held.code, now),
            sourceRevisionId: latest.revisionId,
          }
        : undefined;
      try {
        await store.functions.createFunction(record, latest, published);
      } catch (error) {
        if (error instanceof StoreError && error.code === 'ERR_STORE_CONFLICT') {
          throw new FunctionsError('ERR_CONFLICT', `Function already exist: ${input.functionName}`);
        }
        throw error;
      }
      this.#deps.states.settle(latest);
      if (published) this.#deps.states.settle(published);
      return published ?? latest;
    } finally {
      held.release();
    }
  }

  async findRecord(accountId: string, functionName: string): Promise<FunctionRecord> {
    const record = await this.#deps.store.functions.findFunction(accountId, functionName);
    if (!record) throw this.notFound(functionName);
    return record;
  }

  /**
   * Resolves `$LATEST` (also when no qualifier is given), a version number, or an alias. With `route` (invocations),
   * an alias with AdditionalVersionWeights resolves to the version this invocation runs, drawn by weight.
   */
  async resolve(accountId: string, functionName: string, qualifier: string | undefined, options: { route?: boolean } = {}): Promise<ResolvedVersion> {
    const { store } = this.#deps;
    if (qualifier === undefined || qualifier === LATEST) {
      const version = await store.functions.findVersion(accountId, functionName, LATEST);
      if (!version) throw this.notFound(functionName, qualifier);
      return qualifier === undefined ? { version } : { version, qualifier };
    }
    if (/^\d+$/.test(qualifier)) {
      const version = await store.functions.findVersion(accountId, functionName, qualifier);
      if (!version) throw this.notFound(functionName, qualifier);
      return { version, qualifier };
    }
    const alias = await store.aliases.findAlias(accountId, functionName, qualifier);
    if (!alias) throw this.notFound(functionName, qualifier);
    const target = options.route === true ? pickAliasVersion(alias, this.#deps.random ?? Math.random) : alias.functionVersion;
    const version = await store.functions.findVersion(accountId, functionName, target);
    if (!version) throw this.notFound(functionName, qualifier);
    return { version, alias, qualifier };
  }

  async updateCode(
    accountId: string,
    functionName: string,
    input: { zipFile: Buffer; publish: boolean; revisionId?: string; dryRun: boolean },
  ): Promise<FunctionVersion> {
    const latest = await this.#latestForUpdate(accountId, functionName, input.revisionId);
    const held = await this.#ingest(input.zipFile, latest.settings.layers);
    try {
      const next: FunctionVersion = {
        ...latest,
        code: held.code,
        revisionId: newRevisionId(),
        lastModifiedMs: this.#deps.clock.now(),
        ...IN_PROGRESS,
      };
      if (input.dryRun) return latest;
      await this.#saveLatest(next, latest.revisionId);
      this.#deps.states.settle(next);
      // The package is already unpacked, so the new $LATEST can be published before it settles.
      return input.publish ? await this.#publishLatest(next, undefined) : next;
    } finally {
      held.release();
    }
  }

  async updateConfiguration(accountId: string, functionName: string, input: SettingsInput & { revisionId?: string }): Promise<FunctionVersion> {
    const latest = await this.#latestForUpdate(accountId, functionName, input.revisionId);
    const { layers: currentLayers, ...current } = latest.settings;
    const base = resolveSettings(functionName, input, current);
    const layers = input.layerArns === undefined ? currentLayers : await this.#resolveLayers(accountId, input.layerArns);
    if (input.layerArns !== undefined) this.#checkUnzippedTotal(latest.code.unzippedBytes, layers);
    const release = await this.#deps.code.prepareLayerTree(layers.map((l) => l.codeSha256Hex));
    try {
      const next: FunctionVersion = {
        ...latest,
        settings: { ...base, layers },
        revisionId: newRevisionId(),
        lastModifiedMs: this.#deps.clock.now(),
        ...IN_PROGRESS,
      };
      await this.#saveLatest(next, latest.revisionId);
      this.#deps.states.settle(next);
      return next;
    } finally {
      release();
    }
  }

  /** PublishVersion: idempotent when $LATEST has not changed since the newest published version. */
  async publish(accountId: string, functionName: string, input: { codeSha256?: string; revisionId?: string; description?: string }): Promise<FunctionVersion> {
    const { store } = this.#deps;
    const latest = await store.functions.findVersion(accountId, functionName, LATEST);
    if (!latest) throw this.notFound(functionName);
    const actualSha = Buffer.from(latest.code.sha256Hex, 'hex').toString('base64');
    if (input.codeSha256 !== undefined && input.codeSha256 !== actualSha) {
      throw new FunctionsError(
        'ERR_INVALID_PARAMETER',
        `CodeSHA256 (${input.codeSha256}) is different from current CodeSHA256 in $LATEST (${actualSha}). Please try again with the CodeSHA256 in $LATEST.`,
      );
    }
    if (input.revisionId !== undefined && input.revisionId !== latest.revisionId) throw revisionMismatch('GetFunction');
    if (latest.lastUpdateStatus === 'InProgress' || latest.state === 'Pending') {
      throw new FunctionsError('ERR_CONFLICT', `${UPDATE_IN_PROGRESS}${this.arn(functionName, LATEST)}`);
    }
    return this.#publishLatest(latest, input.description);
  }

  /** Snapshots this $LATEST revision as the next version, or answers the newest version if nothing changed. */
  async #publishLatest(latest: FunctionVersion, description: string | undefined): Promise<FunctionVersion> {
    const { store } = this.#deps;
    const { accountId, functionName } = latest;
    const newest = await store.functions.findLatestPublished(accountId, functionName);
    if (newest && isSamePublishedContent(newest, latest)) return newest;
    // A published version is settled from the start: no state or update reasons carry over from $LATEST.
    const { stateReason: _s, stateReasonCode: _sc, lastUpdateStatusReason: _u, lastUpdateStatusReasonCode: _uc, ...snapshot } = latest;
    try {
      const published = await store.functions.publishVersion(accountId, functionName, latest.revisionId, (n) => ({
        ...snapshot,
        version: String(n),
        settings: { ...latest.settings, description: description ?? latest.settings.description },
        revisionId: newRevisionId(),
        lastModifiedMs: this.#deps.clock.now(),
        state: 'Active',
        lastUpdateStatus: 'Successful',
        sourceRevisionId: latest.revisionId,
      }));
      return published;
    } catch (error) {
      throw translateStoreError(error, functionName, this);
    }
  }

  async deleteFunction(accountId: string, functionName: string, qualifier: string | undefined): Promise<void> {
    const { store } = this.#deps;
    if (qualifier === undefined) {
      if (!(await store.functions.deleteFunction(accountId, functionName))) throw this.notFound(functionName);
    } else if (qualifier === LATEST) {
      throw new FunctionsError('ERR_INVALID_PARAMETER', '$LATEST version cannot be deleted without deleting the function.');
    } else if (!/^\d+$/.test(qualifier)) {
      throw new FunctionsError('ERR_INVALID_PARAMETER', 'Deletion of aliases is not supported.');
    } else {
      await this.findRecord(accountId, functionName);
      const aliases = await this.#allAliases(accountId, functionName);
      const using = aliases.filter((a) => a.functionVersion === qualifier || a.additionalVersionWeights?.[qualifier] !== undefined);
      if (using.length > 0) {
        throw new FunctionsError(
          'ERR_CONFLICT',
          `Unable to delete version because the following aliases reference it: [${using.map((a) => a.name).join(', ')}]`,
        );
      }
      if (!(await store.functions.deleteVersion(accountId, functionName, qualifier))) throw this.notFound(functionName, qualifier);
    }
    await this.#deps.onDeleted?.(accountId, functionName, qualifier);
    await this.#deps.code.collectGarbage();
  }

  async listVersions(accountId: string, functionName: string, page: PageRequest): Promise<Page<FunctionVersion>> {
    await this.findRecord(accountId, functionName);
    return this.#deps.store.functions.listVersions(accountId, functionName, page);
  }

  /** ListFunctions: $LATEST of each function, or every version with FunctionVersion=ALL. */
  async listFunctions(accountId: string, all: boolean, page: PageRequest): Promise<Page<FunctionVersion>> {
    const { functions } = this.#deps.store;
    if (!all) {
      const records = await functions.listFunctions(accountId, page);
      const items: FunctionVersion[] = [];
      for (const r of records.items) {
        const v = await functions.findVersion(accountId, r.functionName, LATEST);
        if (v) items.push(v);
      }
      return records.nextMarker === undefined ? { items } : { items, nextMarker: records.nextMarker };
    }
    // Every version of every function, paged by position in that list (bounded by the account's size).
    const everything: FunctionVersion[] = [];
    for (const r of await collectPages((p) => functions.listFunctions(accountId, p))) {
      everything.push(...(await this.#allVersions(accountId, r.functionName)));
    }
    return pageInMemory(everything, page, (v) => `${v.functionName}:${v.version}`);
  }

  async setReservedConcurrency(accountId: string, functionName: string, value: number | undefined, accountLimit: number, minUnreserved: number): Promise<void> {
    await this.findRecord(accountId, functionName);
    if (value !== undefined) {
      const others = await this.#deps.store.functions.sumReservedConcurrency(accountId, functionName);
      if (accountLimit - others - value < minUnreserved) {
        throw new FunctionsError(
          'ERR_INVALID_PARAMETER',
          `Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [${minUnreserved}].`,
        );
      }
    }
    await this.#deps.store.functions.setReservedConcurrency(accountId, functionName, value);
  }

  async setTags(accountId: string, functionName: string, change: (tags: Record<string, string>) => Record<string, string>): Promise<void> {
    const record = await this.findRecord(accountId, functionName);
    const tags = change({ ...record.tags });
    if (Object.keys(tags).length > 50) throw new FunctionsError('ERR_INVALID_PARAMETER', 'A resource can have at most 50 tags.');
    await this.#deps.store.functions.setTags(accountId, functionName, tags);
  }

  async #latestForUpdate(accountId: string, functionName: string, revisionId: string | undefined): Promise<FunctionVersion> {
    const latest = await this.#deps.store.functions.findVersion(accountId, functionName, LATEST);
    if (!latest) throw this.notFound(functionName);
    if (revisionId !== undefined && revisionId !== latest.revisionId) throw revisionMismatch('GetFunction');
    if (latest.lastUpdateStatus === 'InProgress') {
      throw new FunctionsError('ERR_CONFLICT', `${UPDATE_IN_PROGRESS}${this.arn(functionName)}`);
    }
    return latest;
  }

  async #saveLatest(next: FunctionVersion, expectedRevisionId: string): Promise<void> {
    try {
      await this.#deps.store.functions.saveLatest(next, expectedRevisionId);
    } catch (error) {
      throw translateStoreError(error, next.functionName, this);
    }
  }

  /** Stores and unpacks the package with the room the layers leave, and prepares the layers' merged tree. */
  async #ingest(zipFile: Buffer, layers: readonly LayerReference[]): Promise<{ code: CodeRef; release(): void }> {
    const layerBytes = layers.reduce((sum, l) => sum + l.unzippedBytes, 0);
    const ingested = await this.#deps.code.ingest(zipFile, '/var/task', MAX_UNZIPPED_CODE_BYTES - 1 - layerBytes);
    let releaseTree: () => void = () => {};
    try {
      this.#checkUnzippedTotal(ingested.ref.unzippedBytes, layers);
      releaseTree = await this.#deps.code.prepareLayerTree(layers.map((l) => l.codeSha256Hex));
    } catch (error) {
      ingested.release();
      throw error;
    }
    return {
      code: ingested.ref,
      release: () => {
        ingested.release();
        releaseTree();
      },
    };
  }

  #checkUnzippedTotal(codeBytes: number, layers: readonly LayerReference[]): void {
    const total = codeBytes + layers.reduce((sum, l) => sum + l.unzippedBytes, 0);
    if (total >= MAX_UNZIPPED_CODE_BYTES) {
      throw new FunctionsError('ERR_INVALID_PARAMETER', `Function code combined with layers exceeds the maximum allowed size of ${MAX_UNZIPPED_CODE_BYTES} bytes. The actual size is ${total} bytes.`);
    }
  }

  async #resolveLayers(accountId: string, arns: readonly string[]): Promise<LayerReference[]> {
    if (arns.length > MAX_LAYERS_PER_FUNCTION) {
      throw new FunctionsError('ERR_INVALID_PARAMETER', `Cannot reference more than ${MAX_LAYERS_PER_FUNCTION} layers.`);
    }
    const seen = new Set<string>();
    const out: LayerReference[] = [];
    for (const arn of arns) {
      const ref = parseLayerVersionArn(arn);
      if (!ref) {
        throw new FunctionsError(
          'ERR_VALIDATION',
          `1 validation error detected: Value '[${arns.join(', ')}]' at 'layers' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 140, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+, Member must not be null]`,
        );
      }
      if (seen.has(ref.layerName)) {
        throw new FunctionsError('ERR_INVALID_PARAMETER', 'Two different versions of the same layer are not allowed to be referenced in the same function. Use only one version of the layer.');
      }
      seen.add(ref.layerName);
      const sameAccount = ref.accountId === accountId && ref.region === this.#deps.partition.region;
      const layer = sameAccount ? await this.#deps.store.layers.findLayerVersion(accountId, ref.layerName, ref.version) : undefined;
      if (!layer) throw new FunctionsError('ERR_INVALID_PARAMETER', `Layer version ${arn} does not exist.`);
      out.push({ arn, codeSizeBytes: layer.code.sizeBytes, codeSha256Hex: layer.code.sha256Hex, unzippedBytes: layer.code.unzippedBytes });
    }
    return out;
  }

  #newVersion(accountId: string, functionName: string, version: string, settings: FunctionSettings, code: CodeRef, now: number): FunctionVersion {
    return {
      accountId,
      functionName,
      version,
      settings,
      code,
      revisionId: newRevisionId(),
      lastModifiedMs: now,
      state: 'Pending',
      stateReason: 'The function is being created.',
      stateReasonCode: 'Creating',
    };
  }

  #allVersions(accountId: string, functionName: string): Promise<FunctionVersion[]> {
    return collectPages((p) => this.#deps.store.functions.listVersions(accountId, functionName, p));
  }

  #allAliases(accountId: string, functionName: string): Promise<Alias[]> {
    return collectPages((p) => this.#deps.store.aliases.listAliases(accountId, functionName, undefined, p));
  }
}

const IN_PROGRESS = {
  lastUpdateStatus: 'InProgress',
  lastUpdateStatusReason: 'The function is being created.',
  lastUpdateStatusReasonCode: 'Creating',
} as const;

function translateStoreError(error: unknown, functionName: string, service: FunctionService): unknown {
  if (!(error instanceof StoreError)) return error;
  if (error.code === 'ERR_STORE_REVISION_MISMATCH') return revisionMismatch('GetFunction');
  if (error.code === 'ERR_STORE_NOT_FOUND') return service.notFound(functionName);
  return error;
}

/**
 * Whether publishing $LATEST now would produce nothing new: the newest version was published from this very
 * $LATEST revision (any code or configuration change, the description included, gives $LATEST a new revision).
 */
function isSamePublishedContent(published: FunctionVersion, latest: FunctionVersion): boolean {
  return published.sourceRevisionId === latest.revisionId;
}
