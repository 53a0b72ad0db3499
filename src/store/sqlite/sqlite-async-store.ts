/**
 * AsyncEventStore and EventInvokeConfigStore on SQLite (the tables of migration 3). Events live on the main
 * connection (synchronous=FULL): enqueue's commit is fsynced before the API answers 202. Their statements live here
 * rather than in statements.ts: they touch only these tables.
 */
import type Database from 'better-sqlite3';
import type { AsyncEvent, AttemptOutcome, EventInvokeConfig } from '../../model/async-event.js';
import type { AsyncEventStore, DueFunction, EventInvokeConfigStore, Page, PageRequest } from '../store.js';
import { decodeMarker, pageLimit, toPage } from './paging.js';
import type { Transactions } from './transactions.js';

interface EventRow {
  seq: number;
  account_id: string;
  request_id: string;
  function_name: string;
  qualifier: string | null;
  payload: Buffer;
  payload_bytes: number;
  enqueued_ms: number;
  due_ms: number;
  attempts: number;
  throttles: number;
  running: number;
  redone: number;
  last_outcome_json: string | null;
}

interface ConfigRow {
  account_id: string;
  function_name: string;
  qualifier: string;
  maximum_retry_attempts: number | null;
  maximum_event_age_seconds: number | null;
  on_success: string | null;
  on_failure: string | null;
  last_modified_ms: number;
}

type EventKey = { accountId: string; requestId: string };
type FunctionKey = { accountId: string; functionName: string };

const EVENT_KEY = 'account_id = @accountId AND request_id = @requestId';

const ASYNC_SQL = {
  insertEvent: `INSERT INTO async_events (account_id, request_id, function_name, qualifier, payload, payload_bytes,
      enqueued_ms, due_ms, attempts, throttles, running, redone, last_outcome_json)
    VALUES (@account_id, @request_id, @function_name, @qualifier, @payload, @payload_bytes,
      @enqueued_ms, @due_ms, @attempts, @throttles, @running, @redone, @last_outcome_json)`,
  addQueuedBytes: `UPDATE async_queue_bytes SET queued_bytes = queued_bytes + @bytes WHERE id = 1`,
  queuedBytes: `SELECT queued_bytes FROM async_queue_bytes WHERE id = 1`,
  dueFunctions: `SELECT DISTINCT account_id AS accountId, function_name AS functionName FROM async_events
    WHERE running = 0 AND due_ms <= @nowMs ORDER BY account_id, function_name`,
  nextOfFunction: `SELECT * FROM async_events WHERE account_id = @accountId AND function_name = @functionName
    AND running = 0 AND due_ms <= @nowMs ORDER BY due_ms, seq LIMIT 1`,
  markRunning: `UPDATE async_events SET running = 1 WHERE seq = @seq`,
  countAttempt: `UPDATE async_events SET attempts = attempts + 1 WHERE ${EVENT_KEY}`,
  reschedule: `UPDATE async_events SET running = 0, due_ms = @dueMs, attempts = @attempts, throttles = @throttles,
      last_outcome_json = COALESCE(@lastOutcomeJson, last_outcome_json)
    WHERE ${EVENT_KEY}`,
  findBytes: `SELECT payload_bytes FROM async_events WHERE ${EVENT_KEY}`,
  deleteEvent: `DELETE FROM async_events WHERE ${EVENT_KEY}`,
  nextDue: `SELECT MIN(due_ms) FROM async_events WHERE running = 0 AND due_ms > @afterMs`,
  // A first interruption gives the attempt back; a second one keeps it counted (the bound on attempts).
  recoverRunning: `UPDATE async_events SET running = 0, due_ms = @nowMs,
      attempts = CASE WHEN redone = 0 AND attempts > 0 THEN attempts - 1 ELSE attempts END, redone = 1
    WHERE running = 1`,
  functionBytes: `SELECT COALESCE(SUM(payload_bytes), 0) FROM async_events WHERE account_id = @accountId AND function_name = @functionName`,
  deleteFunctionEvents: `DELETE FROM async_events WHERE account_id = @accountId AND function_name = @functionName`,
} as const;

const CONFIG_SQL = {
  findConfig: `SELECT * FROM event_invoke_configs WHERE account_id = @accountId AND function_name = @functionName
    AND qualifier = @qualifier`,
  upsertConfig: `INSERT INTO event_invoke_configs (account_id, function_name, qualifier, maximum_retry_attempts,
      maximum_event_age_seconds, on_success, on_failure, last_modified_ms)
    VALUES (@account_id, @function_name, @qualifier, @maximum_retry_attempts, @maximum_event_age_seconds,
      @on_success, @on_failure, @last_modified_ms)
    ON CONFLICT (account_id, function_name, qualifier) DO UPDATE SET
      maximum_retry_attempts = excluded.maximum_retry_attempts,
      maximum_event_age_seconds = excluded.maximum_event_age_seconds,
      on_success = excluded.on_success, on_failure = excluded.on_failure, last_modified_ms = excluded.last_modified_ms`,
  deleteConfig: `DELETE FROM event_invoke_configs WHERE account_id = @accountId AND function_name = @functionName
    AND qualifier = @qualifier`,
  listConfigs: `SELECT * FROM event_invoke_configs WHERE account_id = @accountId AND function_name = @functionName
    AND qualifier > @after ORDER BY qualifier LIMIT @limit`,
} as const;

function prepareAsyncStatements(db: Database.Database) {
  return {
    insertEvent: db.prepare<Omit<EventRow, 'seq'>>(ASYNC_SQL.insertEvent),
    addQueuedBytes: db.prepare<{ bytes: number }>(ASYNC_SQL.addQueuedBytes),
    queuedBytes: db.prepare<[], number>(ASYNC_SQL.queuedBytes).pluck(),
    dueFunctions: db.prepare<{ nowMs: number }, DueFunction>(ASYNC_SQL.dueFunctions),
    nextOfFunction: db.prepare<FunctionKey & { nowMs: number }, EventRow>(ASYNC_SQL.nextOfFunction),
    markRunning: db.prepare<{ seq: number }>(ASYNC_SQL.markRunning),
    countAttempt: db.prepare<EventKey>(ASYNC_SQL.countAttempt),
    reschedule: db.prepare<EventKey & { dueMs: number; attempts: number; throttles: number; lastOutcomeJson: string | null }>(
      ASYNC_SQL.reschedule,
    ),
    findBytes: db.prepare<EventKey, number>(ASYNC_SQL.findBytes).pluck(),
    deleteEvent: db.prepare<EventKey>(ASYNC_SQL.deleteEvent),
    nextDue: db.prepare<{ afterMs: number }, number | null>(ASYNC_SQL.nextDue).pluck(),
    recoverRunning: db.prepare<{ nowMs: number }>(ASYNC_SQL.recoverRunning),
    functionBytes: db.prepare<FunctionKey, number>(ASYNC_SQL.functionBytes).pluck(),
    deleteFunctionEvents: db.prepare<FunctionKey>(ASYNC_SQL.deleteFunctionEvents),
  };
}

function prepareConfigStatements(db: Database.Database) {
  return {
    findConfig: db.prepare<FunctionKey & { qualifier: string }, ConfigRow>(CONFIG_SQL.findConfig),
    upsertConfig: db.prepare<ConfigRow>(CONFIG_SQL.upsertConfig),
    deleteConfig: db.prepare<FunctionKey & { qualifier: string }>(CONFIG_SQL.deleteConfig),
    listConfigs: db.prepare<FunctionKey & { after: string; limit: number }, ConfigRow>(CONFIG_SQL.listConfigs),
  };
}

type AsyncStatements = ReturnType<typeof prepareAsyncStatements>;
type ConfigStatements = ReturnType<typeof prepareConfigStatements>;

function fromEvent(event: AsyncEvent): Omit<EventRow, 'seq'> {
  return {
    account_id: event.accountId,
    request_id: event.requestId,
    function_name: event.functionName,
    qualifier: event.qualifier ?? null,
    payload: event.payload,
    payload_bytes: event.payload.length,
    enqueued_ms: event.enqueuedMs,
    due_ms: event.dueMs,
    attempts: event.attempts,
    throttles: event.throttles,
    running: event.running ? 1 : 0,
    redone: event.redone ? 1 : 0,
    last_outcome_json: event.lastOutcome === undefined ? null : JSON.stringify(event.lastOutcome),
  };
}

function toEvent(row: EventRow): AsyncEvent {
  const event: AsyncEvent = {
    accountId: row.account_id,
    requestId: row.request_id,
    functionName: row.function_name,
    payload: row.payload,
    enqueuedMs: row.enqueued_ms,
    dueMs: row.due_ms,
    attempts: row.attempts,
    throttles: row.throttles,
    running: row.running === 1,
    redone: row.redone === 1,
  };
  if (row.qualifier !== null) event.qualifier = row.qualifier;
  if (row.last_outcome_json !== null) event.lastOutcome = JSON.parse(row.last_outcome_json) as AttemptOutcome;
  return event;
}

function toConfig(row: ConfigRow): EventInvokeConfig {
  const config: EventInvokeConfig = {
    accountId: row.account_id,
    functionName: row.function_name,
    qualifier: row.qualifier,
    lastModifiedMs: row.last_modified_ms,
  };
  if (row.maximum_retry_attempts !== null) config.maximumRetryAttempts = row.maximum_retry_attempts;
  if (row.maximum_event_age_seconds !== null) config.maximumEventAgeSeconds = row.maximum_event_age_seconds;
  if (row.on_success !== null) config.onSuccess = row.on_success;
  if (row.on_failure !== null) config.onFailure = row.on_failure;
  return config;
}

export class SqliteAsyncEventStore implements AsyncEventStore {
  readonly #tx: Transactions;
  readonly #sql: AsyncStatements;

  /** db must be open and migrated; every call runs through tx (one transaction, StoreError on failure). */
  constructor(tx: Transactions, db: Database.Database) {
    this.#tx = tx;
    this.#sql = prepareAsyncStatements(db);
  }

  async enqueue(event: AsyncEvent): Promise<void> {
    this.#tx.write(() => this.#insert(event));
  }

  async queuedBytes(): Promise<number> {
    return this.#tx.read(() => this.#sql.queuedBytes.get() ?? 0);
  }

  async listDueFunctions(nowMs: number): Promise<DueFunction[]> {
    return this.#tx.read(() => this.#sql.dueFunctions.all({ nowMs }));
  }

  async claimNext(accountId: string, functionName: string, nowMs: number): Promise<AsyncEvent | undefined> {
    return this.#tx.write(() => {
      const row = this.#sql.nextOfFunction.get({ accountId, functionName, nowMs });
      if (!row) return undefined;
      this.#sql.markRunning.run({ seq: row.seq });
      return toEvent({ ...row, running: 1 });
    });
  }

  async recordAttemptStart(accountId: string, requestId: string): Promise<void> {
    this.#tx.write(() => this.#sql.countAttempt.run({ accountId, requestId }));
  }

  async reschedule(
    accountId: string,
    requestId: string,
    next: { dueMs: number; attempts: number; throttles: number; lastOutcome?: AttemptOutcome },
  ): Promise<boolean> {
    const lastOutcomeJson = next.lastOutcome === undefined ? null : JSON.stringify(next.lastOutcome);
    return this.#tx.write(() => this.#sql.reschedule.run({ accountId, requestId, ...next, lastOutcomeJson }).changes > 0);
  }

  async finish(accountId: string, requestId: string, followUp?: AsyncEvent): Promise<void> {
    this.#tx.write(() => {
      const bytes = this.#sql.findBytes.get({ accountId, requestId });
      if (bytes !== undefined) {
        this.#sql.deleteEvent.run({ accountId, requestId });
        this.#sql.addQueuedBytes.run({ bytes: -bytes });
      }
      if (followUp) this.#insert(followUp);
    });
  }

  async nextDueMs(afterMs: number): Promise<number | undefined> {
    return this.#tx.read(() => this.#sql.nextDue.get({ afterMs }) ?? undefined);
  }

  async recoverRunning(nowMs: number): Promise<number> {
    return this.#tx.write(() => this.#sql.recoverRunning.run({ nowMs }).changes);
  }

  async deleteFunctionEvents(accountId: string, functionName: string): Promise<number> {
    return this.#tx.write(() => {
      const bytes = this.#sql.functionBytes.get({ accountId, functionName }) ?? 0;
      this.#sql.addQueuedBytes.run({ bytes: -bytes });
      return this.#sql.deleteFunctionEvents.run({ accountId, functionName }).changes;
    });
  }

  #insert(event: AsyncEvent): void {
    this.#sql.insertEvent.run(fromEvent(event));
    this.#sql.addQueuedBytes.run({ bytes: event.payload.length });
  }
}

export class SqliteEventInvokeConfigStore implements EventInvokeConfigStore {
  readonly #tx: Transactions;
  readonly #sql: ConfigStatements;

  constructor(tx: Transactions, db: Database.Database) {
    this.#tx = tx;
    this.#sql = prepareConfigStatements(db);
  }

  async findConfig(accountId: string, functionName: string, qualifier: string): Promise<EventInvokeConfig | undefined> {
    const row = this.#tx.read(() => this.#sql.findConfig.get({ accountId, functionName, qualifier }));
    return row && toConfig(row);
  }

  async saveConfig(config: EventInvokeConfig): Promise<void> {
    this.#tx.write(() =>
      this.#sql.upsertConfig.run({
        account_id: config.accountId,
        function_name: config.functionName,
        qualifier: config.qualifier,
        maximum_retry_attempts: config.maximumRetryAttempts ?? null,
        maximum_event_age_seconds: config.maximumEventAgeSeconds ?? null,
        on_success: config.onSuccess ?? null,
        on_failure: config.onFailure ?? null,
        last_modified_ms: config.lastModifiedMs,
      }),
    );
  }

  async deleteConfig(accountId: string, functionName: string, qualifier: string): Promise<boolean> {
    return this.#tx.write(() => this.#sql.deleteConfig.run({ accountId, functionName, qualifier }).changes > 0);
  }

  async listConfigs(accountId: string, functionName: string, page: PageRequest): Promise<Page<EventInvokeConfig>> {
    const after = decodeMarker(page.marker, 'string');
    const rows = this.#tx.read(() => this.#sql.listConfigs.all({ accountId, functionName, after, limit: pageLimit(page) + 1 }));
    return toPage(rows, page, toConfig, (row) => row.qualifier);
  }
}
