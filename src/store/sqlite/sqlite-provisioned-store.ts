/**
 * ProvisionedConcurrencyStore on SQLite (the table of migration 4). Its statements live here rather than in
 * statements.ts: they touch only that table. Deleting a version, alias or function deletes its configurations by
 * the migration's triggers and foreign key, inside the same transaction as the delete.
 */
import type Database from 'better-sqlite3';
import type { ProvisionedConcurrencyConfig } from '../../model/provisioned-concurrency.js';
import type { Page, PageRequest, ProvisionedConcurrencyStore } from '../store.js';
import { decodeMarker, pageLimit, toPage } from './paging.js';
import type { Transactions } from './transactions.js';

interface ProvisionedRow {
  account_id: string;
  function_name: string;
  qualifier: string;
  requested: number;
  last_modified_ms: number;
}

type FunctionKey = { accountId: string; functionName: string };
type ConfigKey = FunctionKey & { qualifier: string };

const KEY = 'account_id = @accountId AND function_name = @functionName AND qualifier = @qualifier';

const PROVISIONED_SQL = {
  upsert: `INSERT INTO provisioned_concurrency_configs (account_id, function_name, qualifier, requested, last_modified_ms)
    VALUES (@account_id, @function_name, @qualifier, @requested, @last_modified_ms)
    ON CONFLICT (account_id, function_name, qualifier)
    DO UPDATE SET requested = excluded.requested, last_modified_ms = excluded.last_modified_ms`,
  find: `SELECT * FROM provisioned_concurrency_configs WHERE ${KEY}`,
  list: `SELECT * FROM provisioned_concurrency_configs
    WHERE account_id = @accountId AND function_name = @functionName AND qualifier > @after
    ORDER BY qualifier LIMIT @limit`,
  remove: `DELETE FROM provisioned_concurrency_configs WHERE ${KEY}`,
  listAll: 'SELECT * FROM provisioned_concurrency_configs ORDER BY account_id, function_name, qualifier',
  // '' names no function, so an absent exception excludes nothing.
  sumUnreserved: `SELECT COALESCE(SUM(p.requested), 0) FROM provisioned_concurrency_configs p
    JOIN functions f ON f.account_id = p.account_id AND f.function_name = p.function_name
    WHERE p.account_id = @accountId AND f.reserved_concurrency IS NULL
      AND NOT (p.function_name = @exceptFunctionName AND p.qualifier = @exceptQualifier)`,
} as const;

function prepareProvisionedStatements(db: Database.Database) {
  return {
    upsert: db.prepare<ProvisionedRow>(PROVISIONED_SQL.upsert),
    find: db.prepare<ConfigKey, ProvisionedRow>(PROVISIONED_SQL.find),
    list: db.prepare<FunctionKey & { after: string; limit: number }, ProvisionedRow>(PROVISIONED_SQL.list),
    remove: db.prepare<ConfigKey>(PROVISIONED_SQL.remove),
    listAll: db.prepare<[], ProvisionedRow>(PROVISIONED_SQL.listAll),
    sumUnreserved: db
      .prepare<{ accountId: string; exceptFunctionName: string; exceptQualifier: string }, number>(PROVISIONED_SQL.sumUnreserved)
      .pluck(),
  };
}

function toConfig(row: ProvisionedRow): ProvisionedConcurrencyConfig {
  return {
    accountId: row.account_id,
    functionName: row.function_name,
    qualifier: row.qualifier,
    requested: row.requested,
    lastModifiedMs: row.last_modified_ms,
  };
}

export class SqliteProvisionedStore implements ProvisionedConcurrencyStore {
  readonly #tx: Transactions;
  readonly #sql: ReturnType<typeof prepareProvisionedStatements>;

  constructor(tx: Transactions, db: Database.Database) {
    this.#tx = tx;
    this.#sql = prepareProvisionedStatements(db);
  }

  async saveProvisionedConfig(config: ProvisionedConcurrencyConfig): Promise<void> {
    // The foreign key turns a config of a missing function into ERR_STORE_NOT_FOUND.
    this.#tx.write(() =>
      this.#sql.upsert.run({
        account_id: config.accountId,
        function_name: config.functionName,
        qualifier: config.qualifier,
        requested: config.requested,
        last_modified_ms: config.lastModifiedMs,
      }),
    );
  }

  async findProvisionedConfig(accountId: string, functionName: string, qualifier: string): Promise<ProvisionedConcurrencyConfig | undefined> {
    const row = this.#tx.read(() => this.#sql.find.get({ accountId, functionName, qualifier }));
    return row && toConfig(row);
  }

  async listProvisionedConfigs(accountId: string, functionName: string, page: PageRequest): Promise<Page<ProvisionedConcurrencyConfig>> {
    const after = decodeMarker(page.marker, 'string');
    const rows = this.#tx.read(() => this.#sql.list.all({ accountId, functionName, after, limit: pageLimit(page) + 1 }));
    return toPage(rows, page, toConfig, (row) => row.qualifier);
  }

  async deleteProvisionedConfig(accountId: string, functionName: string, qualifier: string): Promise<boolean> {
    return this.#tx.write(() => this.#sql.remove.run({ accountId, functionName, qualifier }).changes > 0);
  }

  async listAllProvisionedConfigs(): Promise<ProvisionedConcurrencyConfig[]> {
    return this.#tx.read(() => this.#sql.listAll.all()).map(toConfig);
  }

  async sumUnreservedProvisioned(accountId: string, except?: { functionName: string; qualifier: string }): Promise<number> {
    return (
      this.#tx.read(() =>
        this.#sql.sumUnreserved.get({
          accountId,
          exceptFunctionName: except?.functionName ?? '',
          exceptQualifier: except?.qualifier ?? '',
        }),
      ) ?? 0
    );
  }
}
