/**
 * The Store on one SQLite file (better-sqlite3, WAL, synchronous=FULL). better-sqlite3 is synchronous: every
 * method runs in one transaction and the interface's promises are already settled when returned.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import {
  type Alias,
  type LayerVersion,
  type ResourcePolicy,
} from '../../model/function.js';
import {
  StoreError,
  type AliasStore,
  type AsyncEventStore,
  type EventInvokeConfigStore,
  type CodeReferences,
  type FunctionStore,
  type LayerStore,
  type LogStore,
  type Page,
  type PageRequest,
  type PolicyStore,
  type ProvisionedConcurrencyStore,
  type Store,
} from '../store.js';
import { applyMigrations } from './migrations.js';
import { SqliteAsyncEventStore, SqliteEventInvokeConfigStore } from './sqlite-async-store.js';
import { SqliteFunctionStore } from './sqlite-function-store.js';
import { SqliteLogStore } from './sqlite-log-store.js';
import { SqliteProvisionedStore } from './sqlite-provisioned-store.js';
import { checkRevision, notFound, toStoreError, type Transactions } from './transactions.js';
import { decodeMarker, encodeMarker, pageLimit, toPage } from './paging.js';
import {
  fromAlias,
  fromLayerVersion,
  toAlias,
  toLayerVersion,
  toPolicy,
} from './rows.js';
import {
  prepareStatements,
  type Statements,
} from './statements.js';

export class SqliteStore implements Store {
  readonly functions: FunctionStore;
  readonly aliases: AliasStore;
  readonly policies: PolicyStore;
  readonly layers: LayerStore;
  readonly references: CodeReferences;
  readonly logs: LogStore;
  readonly asyncEvents: AsyncEventStore;
  readonly eventInvokeConfigs: EventInvokeConfigStore;
  readonly provisioned: ProvisionedConcurrencyStore;
  readonly #db: Database.Database;
  readonly #logDb: Database.Database;

  private constructor(db: Database.Database, logDb: Database.Database) {
    this.#db = db;
    this.#logDb = logDb;
    const sql = prepareStatements(db);
    const tx = transactionsOf(db, (run) => this.#run(run));
    this.functions = new SqliteFunctionStore(tx, sql);
    this.aliases = new SqliteAliasStore(tx, sql);
    this.policies = new SqlitePolicyStore(tx, sql);
    this.layers = new SqliteLayerStore(tx, sql);
    this.references = new SqliteCodeReferences(tx, sql);
    this.asyncEvents = new SqliteAsyncEventStore(tx, db);
    this.eventInvokeConfigs = new SqliteEventInvokeConfigStore(tx, db);
    this.provisioned = new SqliteProvisionedStore(tx, db);
    const logTx = transactionsOf(logDb, (run) => this.#run(run, logDb));
    this.logs = new SqliteLogStore(logTx, logDb);
  }

  /** Opens (creating the file and its parent directory if needed) and migrates the database at path. */
  static open(options: { path: string }): SqliteStore {
    let db: Database.Database | undefined;
    let logDb: Database.Database | undefined;
    try {
      mkdirSync(dirname(options.path), { recursive: true });
      db = new Database(options.path);
      db.pragma('journal_mode = WAL');
      // FULL: a commit a client was told about survives power loss, not only a process crash (ARCHITECTURE.md).
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
      db.pragma('busy_timeout = 5000');
      applyMigrations(db);
      // Function logs are nothing a client was told succeeded: their batches commit on a connection of their own
      // without an fsync each (an fsync on the event loop cost ~20% of a warm invocation). A crash loses at most
      // the last batches; the metadata connection still fsyncs the WAL up to each of its own commits.
      logDb = new Database(options.path);
      logDb.pragma('synchronous = NORMAL');
      logDb.pragma('busy_timeout = 5000');
      return new SqliteStore(db, logDb);
    } catch (error) {
      logDb?.close();
      db?.close();
      throw toStoreError(error);
    }
  }

  async close(): Promise<void> {
    if (this.#logDb.open) this.#logDb.close();
    if (this.#db.open) this.#db.close();
  }

  #run<T>(body: () => T, db: Database.Database = this.#db): T {
    if (!db.open) throw new StoreError('ERR_STORE_IO', 'the store is closed');
    try {
      return body();
    } catch (error) {
      throw toStoreError(error);
    }
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

/**
 * Reads run DEFERRED; writes IMMEDIATE, which takes the write lock up front (a deferred read-then-write could fail
 * with SQLITE_BUSY instead of waiting out busy_timeout when another connection writes in between). One transaction
 * function per connection, made once: better-sqlite3 builds a wrapper per db.transaction() call, which cost more than
 * the invoke path's whole query.
 */
function transactionsOf(db: Database.Database, run: <T>(body: () => T) => T): Transactions {
  const inTransaction = db.transaction((body: () => unknown): unknown => body());
  return {
    read: <T>(body: () => T) => run(() => inTransaction.deferred(body) as T),
    write: <T>(body: () => T) => run(() => inTransaction.immediate(body) as T),
  };
}
