/**
 * LogStore on SQLite: log_events in append order (seq) and a per-function byte total (log_function_bytes) kept in the
 * same transactions, so the cap check is a key lookup and the cap deletes by walking the oldest rows only.
 * Its statements live here rather than in statements.ts: they touch only the log tables of migration 2.
 */
import assert from 'node:assert/strict';
import type Database from 'better-sqlite3';
import { logEventBytes, type LogEventRecord, type LogStore } from '../store.js';
import type { Transactions } from './transactions.js';

interface LogEventRow {
  seq: number;
  account_id: string;
  function_name: string;
  log_group: string;
  log_stream: string;
  timestamp_ms: number;
  message: string;
  bytes: number;
}

type FunctionKey = { accountId: string; functionName: string };
type GroupQuery = { accountId: string; group: string; afterMs: number | null; limit: number };

const FUNCTION_KEY = 'account_id = @accountId AND function_name = @functionName';

const LOG_SQL = {
  insertEvent: `INSERT INTO log_events (account_id, function_name, log_group, log_stream, timestamp_ms, message, bytes)
    VALUES (@account_id, @function_name, @log_group, @log_stream, @timestamp_ms, @message, @bytes)`,
  addStoredBytes: `INSERT INTO log_function_bytes (account_id, function_name, stored_bytes)
    VALUES (@accountId, @functionName, @bytes)
    ON CONFLICT (account_id, function_name) DO UPDATE SET stored_bytes = stored_bytes + excluded.stored_bytes`,
  storedBytes: `SELECT stored_bytes FROM log_function_bytes WHERE ${FUNCTION_KEY}`,
  oldestOfFunction: `SELECT seq, bytes FROM log_events WHERE ${FUNCTION_KEY} ORDER BY seq`,
  deleteThrough: `DELETE FROM log_events WHERE ${FUNCTION_KEY} AND seq <= @through`,
  listOfGroup: `SELECT * FROM log_events WHERE account_id = @accountId AND log_group = @group
    AND (@afterMs IS NULL OR timestamp_ms > @afterMs) ORDER BY seq LIMIT @limit`,
  listOfStream: `SELECT * FROM log_events WHERE account_id = @accountId AND log_group = @group
    AND log_stream = @stream AND (@afterMs IS NULL OR timestamp_ms > @afterMs) ORDER BY seq LIMIT @limit`,
  listStreams: `SELECT DISTINCT log_stream FROM log_events WHERE account_id = @accountId AND log_group = @group
    ORDER BY log_stream`,
  deleteEventsOfFunction: `DELETE FROM log_events WHERE ${FUNCTION_KEY}`,
  deleteStoredBytes: `DELETE FROM log_function_bytes WHERE ${FUNCTION_KEY}`,
} as const;

function prepareLogStatements(db: Database.Database) {
  return {
    insertEvent: db.prepare<Omit<LogEventRow, 'seq'>>(LOG_SQL.insertEvent),
    addStoredBytes: db.prepare<FunctionKey & { bytes: number }>(LOG_SQL.addStoredBytes),
    storedBytes: db.prepare<FunctionKey, number>(LOG_SQL.storedBytes).pluck(),
    oldestOfFunction: db.prepare<FunctionKey, Pick<LogEventRow, 'seq' | 'bytes'>>(LOG_SQL.oldestOfFunction),
    deleteThrough: db.prepare<FunctionKey & { through: number }>(LOG_SQL.deleteThrough),
    listOfGroup: db.prepare<GroupQuery, LogEventRow>(LOG_SQL.listOfGroup),
    listOfStream: db.prepare<GroupQuery & { stream: string }, LogEventRow>(LOG_SQL.listOfStream),
    listStreams: db.prepare<{ accountId: string; group: string }, string>(LOG_SQL.listStreams).pluck(),
    deleteEventsOfFunction: db.prepare<FunctionKey>(LOG_SQL.deleteEventsOfFunction),
    deleteStoredBytes: db.prepare<FunctionKey>(LOG_SQL.deleteStoredBytes),
  };
}

type LogStatements = ReturnType<typeof prepareLogStatements>;

function toLogEvent(row: LogEventRow): LogEventRecord {
  return {
    accountId: row.account_id,
    functionName: row.function_name,
    group: row.log_group,
    stream: row.log_stream,
    timestampMs: row.timestamp_ms,
    message: row.message,
  };
}

export class SqliteLogStore implements LogStore {
  readonly #tx: Transactions;
  readonly #sql: LogStatements;

  /** db must be open and migrated; every call runs through tx (one transaction, StoreError on failure). */
  constructor(tx: Transactions, db: Database.Database) {
    this.#tx = tx;
    this.#sql = prepareLogStatements(db);
  }

  async appendEvents(events: readonly LogEventRecord[]): Promise<void> {
    if (events.length === 0) return;
    this.#tx.write(() => {
      // One counter update per function of the batch, not per event.
      const added = new Map<string, FunctionKey & { bytes: number }>();
      for (const e of events) {
        const bytes = logEventBytes(e.message);
        this.#sql.insertEvent.run({
          account_id: e.accountId,
          function_name: e.functionName,
          log_group: e.group,
          log_stream: e.stream,
          timestamp_ms: Math.trunc(e.timestampMs),
          message: e.message,
          bytes,
        });
        const key = JSON.stringify([e.accountId, e.functionName]);
        const sum = added.get(key);
        if (sum) sum.bytes += bytes;
        else added.set(key, { accountId: e.accountId, functionName: e.functionName, bytes });
      }
      for (const sum of added.values()) this.#sql.addStoredBytes.run(sum);
    });
  }

  async enforceCap(accountId: string, functionName: string, maxBytes: number): Promise<number> {
    assert.ok(Number.isSafeInteger(maxBytes) && maxBytes >= 0, `log cap ${maxBytes}`);
    const key = { accountId, functionName };
    // The common case (under the cap) is a read: no write lock, no commit.
    if (this.#tx.read(() => this.#sql.storedBytes.get(key) ?? 0) <= maxBytes) return 0;
    return this.#tx.write(() => {
      const excess = (this.#sql.storedBytes.get(key) ?? 0) - maxBytes;
      if (excess <= 0) return 0;
      let deleted = 0;
      let through: number | undefined;
      // Walks only as many of the oldest rows as the excess needs (index on account, function, seq).
      for (const row of this.#sql.oldestOfFunction.iterate(key)) {
        deleted += row.bytes;
        through = row.seq;
        if (deleted >= excess) break;
      }
      if (through === undefined) return 0;
      this.#sql.deleteThrough.run({ ...key, through });
      this.#sql.addStoredBytes.run({ ...key, bytes: -deleted });
      return deleted;
    });
  }

  async storedBytes(accountId: string, functionName: string): Promise<number> {
    return this.#tx.read(() => this.#sql.storedBytes.get({ accountId, functionName }) ?? 0);
  }

  async listEvents(
    accountId: string,
    group: string,
    options: { stream?: string; limit: number; afterMs?: number },
  ): Promise<LogEventRecord[]> {
    assert.ok(Number.isSafeInteger(options.limit) && options.limit >= 1, `limit ${options.limit}`);
    const query = { accountId, group, afterMs: options.afterMs ?? null, limit: options.limit };
    const rows = this.#tx.read(() =>
      options.stream === undefined
        ? this.#sql.listOfGroup.all(query)
        : this.#sql.listOfStream.all({ ...query, stream: options.stream }),
    );
    return rows.map(toLogEvent);
  }

  async listStreams(accountId: string, group: string): Promise<string[]> {
    return this.#tx.read(() => this.#sql.listStreams.all({ accountId, group }));
  }

  async deleteFunctionLogs(accountId: string, functionName: string): Promise<void> {
    const key = { accountId, functionName };
    this.#tx.write(() => {
      this.#sql.deleteEventsOfFunction.run(key);
      this.#sql.deleteStoredBytes.run(key);
    });
  }
}
