/**
 * The Store on one SQLite file (better-sqlite3, WAL, synchronous=FULL). better-sqlite3 is synchronous: every
 * method runs in one transaction and the interface's promises are already settled when returned.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import {
  LATEST,
  type Alias,
  type Architecture,
  type FunctionRecord,
  type FunctionState,
  type FunctionVersion,
  type LastUpdateStatus,
  type LayerVersion,
  type ResourcePolicy,
} from '../../model/function.js';
import {
  StoreError,
  type AliasStore,
  type CodeReferences,
  type FunctionStore,
  type LayerStore,
  type Page,
  type PageRequest,
  type PolicyStore,
  type Store,
} from '../store.js';
import { applyMigrations } from './migrations.js';
import {
  prepareStatements,
  type AliasRow,
  type FunctionRow,
  type LayerVersionRow,
  type PolicyRow,
  type Statements,
  type VersionRow,
} from './statements.js';

/** Runs a body in a transaction and translates what SQLite throws into StoreError. */
interface Transactions {
  read<T>(body: () => T): T;
  write<T>(body: () => T): T;
}

export class SqliteStore implements Store {
  readonly functions: FunctionStore;
  readonly aliases: AliasStore;
  readonly policies: PolicyStore;
  readonly layers: LayerStore;
  readonly references: CodeReferences;
  readonly #db: Database.Database;

  private constructor(db: Database.Database) {
    this.#db = db;
    const sql = prepareStatements(db);
    const tx: Transactions = {
      read: (body) => this.#run(() => db.transaction(body).deferred()),
      // IMMEDIATE takes the write lock up front: a deferred read-then-write could fail with SQLITE_BUSY
      // instead of waiting out busy_timeout when another connection writes in between.
      write: (body) => this.#run(() => db.transaction(body).immediate()),
    };
    this.functions = new SqliteFunctionStore(tx, sql);
    this.aliases = new SqliteAliasStore(tx, sql);
    this.policies = new SqlitePolicyStore(tx, sql);
    this.layers = new SqliteLayerStore(tx, sql);
    this.references = new SqliteCodeReferences(tx, sql);
  }

  /** Opens (creating the file and its parent directory if needed) and migrates the database at path. */
  static open(options: { path: string }): SqliteStore {
    let db: Database.Database | undefined;
    try {
      mkdirSync(dirname(options.path), { recursive: true });
      db = new Database(options.path);
      db.pragma('journal_mode = WAL');
      // FULL: a commit a client was told about survives power loss, not only a process crash (ARCHITECTURE.md).
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
      db.pragma('busy_timeout = 5000');
      applyMigrations(db);
      return new SqliteStore(db);
    } catch (error) {
      db?.close();
      throw toStoreError(error);
    }
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }

  #run<T>(body: () => T): T {
    if (!this.#db.open) throw new StoreError('ERR_STORE_IO', 'the store is closed');
    try {
      return body();
    } catch (error) {
      throw toStoreError(error);
    }
  }
}

class SqliteFunctionStore implements FunctionStore {
  constructor(
    private readonly tx: Transactions,
    private readonly sql: Statements,
  ) {}

  async createFunction(fn: FunctionRecord, latest: FunctionVersion, published?: FunctionVersion): Promise<void> {
    assert.equal(latest.version, LATEST);
    for (const v of published ? [latest, published] : [latest]) {
      assert.ok(v.accountId === fn.accountId && v.functionName === fn.functionName, 'version of another function');
    }
    const publishedNumber = published ? toVersionNumber(published.version) : 0;
    this.tx.write(() => {
      this.sql.insertFunction.run({
        account_id: fn.accountId,
        function_name: fn.functionName,
        created_ms: fn.createdMs,
        last_version_number: Math.max(fn.lastVersionNumber, publishedNumber),
        reserved_concurrency: fn.reservedConcurrency ?? null,
        tags_json: JSON.stringify(fn.tags),
      });
      this.sql.insertVersion.run(fromVersion(latest));
      if (published) this.sql.insertVersion.run(fromVersion(published));
    });
  }

  async findFunction(accountId: string, functionName: string): Promise<FunctionRecord | undefined> {
    const row = this.tx.read(() => this.sql.findFunction.get({ accountId, functionName }));
    return row && toFunctionRecord(row);
  }

  async listFunctions(accountId: string, page: PageRequest): Promise<Page<FunctionRecord>> {
    const after = decodeMarker(page.marker, 'string');
    const rows = this.tx.read(() => this.sql.listFunctions.all({ accountId, after, limit: pageLimit(page) + 1 }));
    return toPage(rows, page, toFunctionRecord, (row) => row.function_name);
  }

  async deleteFunction(accountId: string, functionName: string): Promise<boolean> {
    const key = { accountId, functionName };
    return this.tx.write(() => {
      this.sql.deletePoliciesOfFunction.run(key);
      this.sql.deleteAliasesOfFunction.run(key);
      this.sql.deleteVersionsOfFunction.run(key);
      return this.sql.deleteFunction.run(key).changes > 0;
    });
  }

  async findVersion(accountId: string, functionName: string, version: string): Promise<FunctionVersion | undefined> {
    const row = this.tx.read(() => this.sql.findVersion.get({ accountId, functionName, version }));
    return row && toVersion(row);
  }

  async listVersions(accountId: string, functionName: string, page: PageRequest): Promise<Page<FunctionVersion>> {
    const after = decodeMarker(page.marker, 'number', -1);
    const rows = this.tx.read(() =>
      this.sql.listVersions.all({ accountId, functionName, after, limit: pageLimit(page) + 1 }),
    );
    return toPage(rows, page, toVersion, (row) => row.version_number);
  }

  async findLatestPublished(accountId: string, functionName: string): Promise<FunctionVersion | undefined> {
    const row = this.tx.read(() => this.sql.findLatestPublished.get({ accountId, functionName }));
    return row && toVersion(row);
  }

  async saveLatest(next: FunctionVersion, expectedRevisionId?: string): Promise<void> {
    assert.equal(next.version, LATEST);
    const key = { accountId: next.accountId, functionName: next.functionName, version: LATEST };
    this.tx.write(() => {
      const current = this.sql.findVersion.get(key);
      if (!current) throw notFound(`function ${next.functionName}`);
      checkRevision(current.revision_id, expectedRevisionId);
      this.sql.replaceLatest.run(fromVersion(next));
    });
  }

  async updateVersionState(
    accountId: string,
    functionName: string,
    version: string,
    patch: Pick<FunctionVersion, 'state' | 'stateReason' | 'stateReasonCode' | 'lastUpdateStatus' | 'lastUpdateStatusReason' | 'lastUpdateStatusReasonCode'>,
  ): Promise<void> {
    // The patch replaces all six fields: a reason left out is cleared, as when Pending becomes Active.
    const changes = this.tx.write(
      () =>
        this.sql.updateVersionState.run({
          accountId,
          functionName,
          version,
          state: patch.state,
          stateReason: patch.stateReason ?? null,
          stateReasonCode: patch.stateReasonCode ?? null,
          lastUpdateStatus: patch.lastUpdateStatus ?? null,
          lastUpdateStatusReason: patch.lastUpdateStatusReason ?? null,
          lastUpdateStatusReasonCode: patch.lastUpdateStatusReasonCode ?? null,
        }).changes,
    );
    if (changes === 0) throw notFound(`version ${version} of function ${functionName}`);
  }

  async publishVersion(
    accountId: string,
    functionName: string,
    expectedLatestRevisionId: string | undefined,
    build: (versionNumber: number) => FunctionVersion,
  ): Promise<FunctionVersion> {
    const key = { accountId, functionName };
    return this.tx.write(() => {
      const fn = this.sql.findFunction.get(key);
      if (!fn) throw notFound(`function ${functionName}`);
      if (expectedLatestRevisionId !== undefined) {
        const latest = this.sql.findVersion.get({ ...key, version: LATEST });
        checkRevision(latest?.revision_id, expectedLatestRevisionId);
      }
      const versionNumber = fn.last_version_number + 1;
      const built = build(versionNumber);
      assert.ok(built.accountId === accountId && built.functionName === functionName, 'version of another function');
      assert.equal(built.version, String(versionNumber));
      this.sql.insertVersion.run(fromVersion(built));
      this.sql.setLastVersionNumber.run({ ...key, lastVersionNumber: versionNumber });
      return built;
    });
  }

  async deleteVersion(accountId: string, functionName: string, version: string): Promise<boolean> {
    assert.notEqual(version, LATEST, '$LATEST is deleted with its function');
    return this.tx.write(() => {
      this.sql.deletePolicy.run({ accountId, functionName, qualifier: version });
      return this.sql.deleteVersion.run({ accountId, functionName, version }).changes > 0;
    });
  }

  async listUnsettledVersions(): Promise<FunctionVersion[]> {
    return this.tx.read(() => this.sql.listUnsettledVersions.all()).map(toVersion);
  }

  async setReservedConcurrency(accountId: string, functionName: string, value: number | undefined): Promise<void> {
    const { changes } = this.tx.write(() =>
      this.sql.setReservedConcurrency.run({ accountId, functionName, value: value ?? null }),
    );
    if (changes === 0) throw notFound(`function ${functionName}`);
  }

  async sumReservedConcurrency(accountId: string, exceptFunctionName?: string): Promise<number> {
    // '' names no function, so it excludes nothing.
    return this.tx.read(() =>
      this.sql.sumReservedConcurrency.get({ accountId, exceptFunctionName: exceptFunctionName ?? '' }),
    ) ?? 0;
  }

  async setTags(accountId: string, functionName: string, tags: Record<string, string>): Promise<void> {
    const { changes } = this.tx.write(() =>
      this.sql.setTags.run({ accountId, functionName, tagsJson: JSON.stringify(tags) }),
    );
    if (changes === 0) throw notFound(`function ${functionName}`);
  }

  async countFunctions(accountId: string): Promise<number> {
    return this.tx.read(() => this.sql.countFunctions.get({ accountId })) ?? 0;
  }

  async totalCodeSize(accountId: string): Promise<number> {
    return this.tx.read(() => this.sql.totalCodeSize.get({ accountId })) ?? 0;
  }
}

class SqliteAliasStore implements AliasStore {
  constructor(
    private readonly tx: Transactions,
    private readonly sql: Statements,
  ) {}

  async createAlias(alias: Alias): Promise<void> {
    this.tx.write(() => this.sql.insertAlias.run(fromAlias(alias)));
  }

  async findAlias(accountId: string, functionName: string, name: string): Promise<Alias | undefined> {
    const row = this.tx.read(() => this.sql.findAlias.get({ accountId, functionName, aliasName: name }));
    return row && toAlias(row);
  }

  async listAliases(
    accountId: string,
    functionName: string,
    functionVersion: string | undefined,
    page: PageRequest,
  ): Promise<Page<Alias>> {
    const after = decodeMarker(page.marker, 'string');
    const rows = this.tx.read(() =>
      this.sql.listAliases.all({
        accountId,
        functionName,
        functionVersion: functionVersion ?? null,
        after,
        limit: pageLimit(page) + 1,
      }),
    );
    return toPage(rows, page, toAlias, (row) => row.alias_name);
  }

  async saveAlias(alias: Alias, expectedRevisionId?: string): Promise<void> {
    const key = { accountId: alias.accountId, functionName: alias.functionName, aliasName: alias.name };
    this.tx.write(() => {
      const current = this.sql.findAlias.get(key);
      if (!current) throw notFound(`alias ${alias.name} of function ${alias.functionName}`);
      checkRevision(current.revision_id, expectedRevisionId);
      this.sql.updateAlias.run(fromAlias(alias));
    });
  }

  async deleteAlias(accountId: string, functionName: string, name: string): Promise<boolean> {
    return this.tx.write(() => {
      // The alias's policy goes with it: a new alias of the same name must not inherit its permissions.
      this.sql.deletePolicy.run({ accountId, functionName, qualifier: name });
      return this.sql.deleteAlias.run({ accountId, functionName, aliasName: name }).changes > 0;
    });
  }
}

class SqlitePolicyStore implements PolicyStore {
  constructor(
    private readonly tx: Transactions,
    private readonly sql: Statements,
  ) {}

  async findPolicy(accountId: string, functionName: string, qualifier: string): Promise<ResourcePolicy | undefined> {
    const row = this.tx.read(() => this.sql.findPolicy.get({ accountId, functionName, qualifier }));
    return row && toPolicy(row);
  }

  async savePolicy(policy: ResourcePolicy, expectedRevisionId?: string): Promise<void> {
    const key = { accountId: policy.accountId, functionName: policy.functionName, qualifier: policy.qualifier };
    this.tx.write(() => {
      // An absent policy has no revision, so any expected one mismatches.
      checkRevision(this.sql.findPolicy.get(key)?.revision_id, expectedRevisionId);
      if (policy.statements.length === 0) {
        this.sql.deletePolicy.run(key);
        return;
      }
      this.sql.upsertPolicy.run({
        account_id: policy.accountId,
        function_name: policy.functionName,
        qualifier: policy.qualifier,
        statements_json: JSON.stringify(policy.statements),
        revision_id: policy.revisionId,
      });
    });
  }
}

class SqliteLayerStore implements LayerStore {
  constructor(
    private readonly tx: Transactions,
    private readonly sql: Statements,
  ) {}

  async publishLayerVersion(
    accountId: string,
    layerName: string,
    build: (version: number) => LayerVersion,
  ): Promise<LayerVersion> {
    return this.tx.write(() => {
      const version = this.sql.allocateLayerVersion.get({ accountId, layerName });
      assert.ok(version !== undefined);
      const built = build(version);
      assert.ok(built.accountId === accountId && built.layerName === layerName, 'version of another layer');
      assert.equal(built.version, version);
      this.sql.insertLayerVersion.run(fromLayerVersion(built));
      return built;
    });
  }

  async findLayerVersion(accountId: string, layerName: string, version: number): Promise<LayerVersion | undefined> {
    const row = this.tx.read(() => this.sql.findLayerVersion.get({ accountId, layerName, version }));
    return row && toLayerVersion(row);
  }

  async listLayerVersions(accountId: string, layerName: string, page: PageRequest): Promise<Page<LayerVersion>> {
    const before = decodeMarker(page.marker, 'number', Number.MAX_SAFE_INTEGER);
    const rows = this.tx.read(() =>
      this.sql.listLayerVersions.all({ accountId, layerName, before, limit: pageLimit(page) + 1 }),
    );
    return toPage(rows, page, toLayerVersion, (row) => row.version);
  }

  async listLayers(
    accountId: string,
    filter: (v: LayerVersion) => boolean,
    page: PageRequest,
  ): Promise<Page<LayerVersion>> {
    const after = decodeMarker(page.marker, 'string');
    const limit = pageLimit(page);
    return this.tx.read(() => {
      const items: LayerVersion[] = [];
      let more = false;
      // Rows come by name, newest first: the first row of a name that passes the filter is its entry.
      for (const row of this.sql.listLayerCandidates.iterate({ accountId, after })) {
        if (items.at(-1)?.layerName === row.layer_name) continue;
        const candidate = toLayerVersion(row);
        if (!filter(candidate)) continue;
        if (items.length === limit) {
          more = true;
          break;
        }
        items.push(candidate);
      }
      const last = items.at(-1);
      return more && last ? { items, nextMarker: encodeMarker(last.layerName) } : { items };
    });
  }

  async deleteLayerVersion(accountId: string, layerName: string, version: number): Promise<boolean> {
    // The layers row (the counter) stays, so the numbering continues.
    return this.tx.write(() => this.sql.deleteLayerVersion.run({ accountId, layerName, version }).changes > 0);
  }
}

class SqliteCodeReferences implements CodeReferences {
  constructor(
    private readonly tx: Transactions,
    private readonly sql: Statements,
  ) {}

  async referencedCodeDigests(): Promise<Set<string>> {
    return new Set(this.tx.read(() => this.sql.referencedCodeDigests.all()));
  }

  async referencedLayerLists(): Promise<string[][]> {
    return this.tx.read(() => this.sql.referencedLayerLists.all()).map((json) => JSON.parse(json) as string[]);
  }
}

function toStoreError(error: unknown): unknown {
  if (error instanceof StoreError || !(error instanceof Error)) return error;
  const code: unknown = (error as { code?: unknown }).code;
  if (typeof code !== 'string') return error;
  const cause = { cause: error };
  if (code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE') {
    return new StoreError('ERR_STORE_CONFLICT', 'the row already exists', cause);
  }
  if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY') {
    return new StoreError('ERR_STORE_NOT_FOUND', 'the row it belongs to does not exist', cause);
  }
  // SQLite reports most ENOSPC as SQLITE_FULL, but some (fsync, truncate) as an IOERR naming the errno.
  const full =
    code === 'SQLITE_FULL' ||
    code === 'ENOSPC' ||
    code === 'EDQUOT' ||
    (code.startsWith('SQLITE_IOERR') && /ENOSPC|no space/i.test(error.message));
  if (full) return new StoreError('ERR_STORE_FULL', `storage is full: ${error.message}`, cause);
  if (code.startsWith('SQLITE_') || 'syscall' in error) {
    return new StoreError('ERR_STORE_IO', `storage failed: ${error.message}`, cause);
  }
  return error;
}

function notFound(what: string): StoreError {
  return new StoreError('ERR_STORE_NOT_FOUND', `${what} does not exist`);
}

function checkRevision(stored: string | undefined, expected: string | undefined): void {
  if (expected !== undefined && stored !== expected) {
    throw new StoreError('ERR_STORE_REVISION_MISMATCH', `revision ${stored ?? '(none)'} is not ${expected}`);
  }
}

function pageLimit(page: PageRequest): number {
  assert.ok(Number.isSafeInteger(page.limit) && page.limit >= 1, `page limit ${page.limit}`);
  return page.limit;
}

/** A marker is the base64url JSON of the last key of the previous page. */
function encodeMarker(key: string | number): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

function decodeMarker(marker: string | undefined, type: 'string'): string;
function decodeMarker(marker: string | undefined, type: 'number', start: number): number;
function decodeMarker(marker: string | undefined, type: 'string' | 'number', start?: number): string | number {
  if (marker === undefined) return type === 'string' ? '' : (start ?? 0);
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(marker, 'base64url').toString('utf8'));
  } catch {
    key = undefined;
  }
  if (typeof key === type && (typeof key === 'string' || Number.isSafeInteger(key))) return key as string | number;
  // The code union has no "bad input"; the message prefix is what callers match (see the report to the lead).
  throw new StoreError('ERR_STORE_INVALID_MARKER', 'invalid marker: not one this store returned');
}

function toPage<R, T>(rows: R[], page: PageRequest, map: (row: R) => T, keyOf: (row: R) => string | number): Page<T> {
  if (rows.length <= page.limit) return { items: rows.map(map) };
  const kept = rows.slice(0, page.limit);
  const last = kept.at(-1);
  assert.ok(last !== undefined);
  return { items: kept.map(map), nextMarker: encodeMarker(keyOf(last)) };
}

function toVersionNumber(version: string): number {
  assert.match(version, /^[1-9][0-9]{0,15}$/, `published version ${version}`);
  return Number(version);
}

/** Drops null fields, so optional properties are absent rather than undefined when read back. */
function present<T extends Record<string, unknown>>(fields: T): { [K in keyof T]?: Exclude<T[K], null> } {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== null)) as {
    [K in keyof T]?: Exclude<T[K], null>;
  };
}

function toFunctionRecord(row: FunctionRow): FunctionRecord {
  return {
    accountId: row.account_id,
    functionName: row.function_name,
    createdMs: row.created_ms,
    lastVersionNumber: row.last_version_number,
    ...present({ reservedConcurrency: row.reserved_concurrency }),
    tags: JSON.parse(row.tags_json) as Record<string, string>,
  };
}

function fromVersion(v: FunctionVersion): VersionRow {
  return {
    account_id: v.accountId,
    function_name: v.functionName,
    version: v.version,
    version_number: v.version === LATEST ? 0 : toVersionNumber(v.version),
    settings_json: JSON.stringify(v.settings),
    layer_digests_json: JSON.stringify(v.settings.layers.map((layer) => layer.codeSha256Hex)),
    code_sha256_hex: v.code.sha256Hex,
    code_size_bytes: v.code.sizeBytes,
    code_unzipped_bytes: v.code.unzippedBytes,
    revision_id: v.revisionId,
    last_modified_ms: v.lastModifiedMs,
    state: v.state,
    state_reason: v.stateReason ?? null,
    state_reason_code: v.stateReasonCode ?? null,
    last_update_status: v.lastUpdateStatus ?? null,
    last_update_status_reason: v.lastUpdateStatusReason ?? null,
    last_update_status_reason_code: v.lastUpdateStatusReasonCode ?? null,
  };
}

function toVersion(row: VersionRow): FunctionVersion {
  return {
    accountId: row.account_id,
    functionName: row.function_name,
    version: row.version,
    settings: JSON.parse(row.settings_json) as FunctionVersion['settings'],
    code: { sha256Hex: row.code_sha256_hex, sizeBytes: row.code_size_bytes, unzippedBytes: row.code_unzipped_bytes },
    revisionId: row.revision_id,
    lastModifiedMs: row.last_modified_ms,
    state: row.state as FunctionState,
    ...present({
      stateReason: row.state_reason,
      stateReasonCode: row.state_reason_code,
      lastUpdateStatus: row.last_update_status as LastUpdateStatus | null,
      lastUpdateStatusReason: row.last_update_status_reason,
      lastUpdateStatusReasonCode: row.last_update_status_reason_code,
    }),
  };
}

function fromAlias(alias: Alias): AliasRow {
  return {
    account_id: alias.accountId,
    function_name: alias.functionName,
    alias_name: alias.name,
    function_version: alias.functionVersion,
    description: alias.description,
    additional_version_weights_json: alias.additionalVersionWeights
      ? JSON.stringify(alias.additionalVersionWeights)
      : null,
    revision_id: alias.revisionId,
  };
}

function toAlias(row: AliasRow): Alias {
  const weights = row.additional_version_weights_json;
  return {
    accountId: row.account_id,
    functionName: row.function_name,
    name: row.alias_name,
    functionVersion: row.function_version,
    description: row.description,
    ...(weights !== null && { additionalVersionWeights: JSON.parse(weights) as Record<string, number> }),
    revisionId: row.revision_id,
  };
}

function toPolicy(row: PolicyRow): ResourcePolicy {
  return {
    accountId: row.account_id,
    functionName: row.function_name,
    qualifier: row.qualifier,
    statements: JSON.parse(row.statements_json) as ResourcePolicy['statements'],
    revisionId: row.revision_id,
  };
}

function fromLayerVersion(v: LayerVersion): LayerVersionRow {
  return {
    account_id: v.accountId,
    layer_name: v.layerName,
    version: v.version,
    description: v.description,
    compatible_runtimes_json: JSON.stringify(v.compatibleRuntimes),
    compatible_architectures_json: JSON.stringify(v.compatibleArchitectures),
    license_info: v.licenseInfo ?? null,
    code_sha256_hex: v.code.sha256Hex,
    code_size_bytes: v.code.sizeBytes,
    code_unzipped_bytes: v.code.unzippedBytes,
    created_ms: v.createdMs,
  };
}

function toLayerVersion(row: LayerVersionRow): LayerVersion {
  return {
    accountId: row.account_id,
    layerName: row.layer_name,
    version: row.version,
    description: row.description,
    compatibleRuntimes: JSON.parse(row.compatible_runtimes_json) as string[],
    compatibleArchitectures: JSON.parse(row.compatible_architectures_json) as Architecture[],
    ...present({ licenseInfo: row.license_info }),
    code: { sha256Hex: row.code_sha256_hex, sizeBytes: row.code_size_bytes, unzippedBytes: row.code_unzipped_bytes },
    createdMs: row.created_ms,
  };
}
