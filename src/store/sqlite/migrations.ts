/**
 * Schema migrations of the SQLite backend, applied in ascending order on open and recorded in
 * schema_migrations. A migration, once released, is never edited: a change is a new, higher number.
 *
 * Every primary key starts with account_id (ARCHITECTURE.md, "Data"). Nested parts of domain objects are JSON
 * text; what is queried or summed (names, numbers, digests, sizes, revisions, state) has its own column.
 */
import type Database from 'better-sqlite3';
import { StoreError } from '../store.js';
import { SQL } from './statements.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'init',
    sql: `
      CREATE TABLE functions (
        account_id TEXT NOT NULL,
        function_name TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        -- Highest version number ever published; only ever grows, so numbers are never reused.
        last_version_number INTEGER NOT NULL,
        reserved_concurrency INTEGER,
        tags_json TEXT NOT NULL,
        PRIMARY KEY (account_id, function_name)
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE function_versions (
        account_id TEXT NOT NULL,
        function_name TEXT NOT NULL,
        -- '$LATEST' or the decimal number; version_number is 0 for $LATEST so it sorts first.
        version TEXT NOT NULL,
        version_number INTEGER NOT NULL,
        settings_json TEXT NOT NULL,
        -- The ordered code digests of settings.layers, kept apart so merged layer lists are one query.
        layer_digests_json TEXT NOT NULL,
        code_sha256_hex TEXT NOT NULL,
        code_size_bytes INTEGER NOT NULL,
        code_unzipped_bytes INTEGER NOT NULL,
        revision_id TEXT NOT NULL,
        last_modified_ms INTEGER NOT NULL,
        state TEXT NOT NULL,
        state_reason TEXT,
        state_reason_code TEXT,
        last_update_status TEXT,
        last_update_status_reason TEXT,
        last_update_status_reason_code TEXT,
        -- A published version remembers the $LATEST revision it snapshots (PublishVersion idempotence).
        source_revision_id TEXT,
        PRIMARY KEY (account_id, function_name, version_number),
        UNIQUE (account_id, function_name, version),
        FOREIGN KEY (account_id, function_name) REFERENCES functions (account_id, function_name)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX function_versions_by_code ON function_versions (code_sha256_hex);
      CREATE INDEX function_versions_unsettled ON function_versions (state, last_update_status);

      CREATE TABLE aliases (
        account_id TEXT NOT NULL,
        function_name TEXT NOT NULL,
        alias_name TEXT NOT NULL,
        function_version TEXT NOT NULL,
        description TEXT NOT NULL,
        additional_version_weights_json TEXT,
        revision_id TEXT NOT NULL,
        PRIMARY KEY (account_id, function_name, alias_name),
        FOREIGN KEY (account_id, function_name) REFERENCES functions (account_id, function_name)
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE policies (
        account_id TEXT NOT NULL,
        function_name TEXT NOT NULL,
        -- '' for the unqualified function, else a version number or an alias name.
        qualifier TEXT NOT NULL,
        statements_json TEXT NOT NULL,
        revision_id TEXT NOT NULL,
        PRIMARY KEY (account_id, function_name, qualifier),
        FOREIGN KEY (account_id, function_name) REFERENCES functions (account_id, function_name)
      ) STRICT, WITHOUT ROWID;

      -- Outlives its versions: a layer's numbering continues after all its versions were deleted, as on AWS.
      CREATE TABLE layers (
        account_id TEXT NOT NULL,
        layer_name TEXT NOT NULL,
        last_version_number INTEGER NOT NULL,
        PRIMARY KEY (account_id, layer_name)
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE layer_versions (
        account_id TEXT NOT NULL,
        layer_name TEXT NOT NULL,
        version INTEGER NOT NULL,
        description TEXT NOT NULL,
        compatible_runtimes_json TEXT NOT NULL,
        compatible_architectures_json TEXT NOT NULL,
        license_info TEXT,
        code_sha256_hex TEXT NOT NULL,
        code_size_bytes INTEGER NOT NULL,
        code_unzipped_bytes INTEGER NOT NULL,
        created_ms INTEGER NOT NULL,
        PRIMARY KEY (account_id, layer_name, version),
        FOREIGN KEY (account_id, layer_name) REFERENCES layers (account_id, layer_name)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX layer_versions_by_code ON layer_versions (code_sha256_hex);
    `,
  },
  {
    version: 2,
    name: 'log-events',
    sql: `
      -- Function logs. seq is the global append order (AUTOINCREMENT: never reused, even after the newest rows are
      -- deleted), so a log group shared by several functions still reads in order. No foreign key to functions:
      -- an environment may still flush lines of a function being deleted, and losing them must not fail the batch.
      CREATE TABLE log_events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        account_id TEXT NOT NULL,
        function_name TEXT NOT NULL,
        log_group TEXT NOT NULL,
        log_stream TEXT NOT NULL,
        timestamp_ms INTEGER NOT NULL,
        message TEXT NOT NULL,
        -- logEventBytes(message): what the event counts against the function's cap.
        bytes INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX log_events_by_function ON log_events (account_id, function_name, seq);
      CREATE INDEX log_events_by_stream ON log_events (account_id, log_group, log_stream, seq);
      CREATE INDEX log_events_by_group ON log_events (account_id, log_group, seq);

      -- Sum of log_events.bytes per function, kept in the same transactions, so the cap check after every batch
      -- is one key lookup however many events the function has.
      CREATE TABLE log_function_bytes (
        account_id TEXT NOT NULL,
        function_name TEXT NOT NULL,
        stored_bytes INTEGER NOT NULL,
        PRIMARY KEY (account_id, function_name)
      ) STRICT, WITHOUT ROWID;
    `,
  },
  {
    version: 3,
    name: 'async-events',
    sql: `
      -- Accepted asynchronous invocations until they succeed, fail for good or age out. seq is the arrival order
      -- (oldest due first within a function). No foreign key to functions: deleting a function drops its events
      -- explicitly, and an attempt that finishes after that must find nothing rather than fail.
      CREATE TABLE async_events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        account_id TEXT NOT NULL,
        request_id TEXT NOT NULL,
        function_name TEXT NOT NULL,
        qualifier TEXT,
        payload BLOB NOT NULL,
        payload_bytes INTEGER NOT NULL,
        enqueued_ms INTEGER NOT NULL,
        due_ms INTEGER NOT NULL,
        attempts INTEGER NOT NULL,
        throttles INTEGER NOT NULL,
        running INTEGER NOT NULL,
        redone INTEGER NOT NULL,
        last_outcome_json TEXT,
        UNIQUE (account_id, request_id)
      ) STRICT;
      CREATE INDEX async_events_waiting ON async_events (running, due_ms);
      CREATE INDEX async_events_by_function ON async_events (account_id, function_name, running, due_ms, seq);

      -- Sum of async_events.payload_bytes, kept in the same transactions (the queue bound is one lookup).
      CREATE TABLE async_queue_bytes (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        queued_bytes INTEGER NOT NULL
      ) STRICT;
      INSERT INTO async_queue_bytes (id, queued_bytes) VALUES (1, 0);

      -- PutFunctionEventInvokeConfig per qualifier ('$LATEST', a version number or an alias name). Absent numbers
      -- mean Lambda's defaults.
      CREATE TABLE event_invoke_configs (
        account_id TEXT NOT NULL,
        function_name TEXT NOT NULL,
        qualifier TEXT NOT NULL,
        maximum_retry_attempts INTEGER,
        maximum_event_age_seconds INTEGER,
        on_success TEXT,
        on_failure TEXT,
        last_modified_ms INTEGER NOT NULL,
        PRIMARY KEY (account_id, function_name, qualifier)
      ) STRICT, WITHOUT ROWID;

      -- A config goes with its version or alias, however that is deleted (alone or with the function: deleting a
      -- function deletes its version and alias rows), so a later version or alias of the same name does not inherit it.
      CREATE TRIGGER event_invoke_config_of_deleted_version AFTER DELETE ON function_versions
      BEGIN
        DELETE FROM event_invoke_configs
        WHERE account_id = OLD.account_id AND function_name = OLD.function_name AND qualifier = OLD.version;
      END;
      CREATE TRIGGER event_invoke_config_of_deleted_alias AFTER DELETE ON aliases
      BEGIN
        DELETE FROM event_invoke_configs
        WHERE account_id = OLD.account_id AND function_name = OLD.function_name AND qualifier = OLD.alias_name;
      END;
    `,
  },
  {
    version: 4,
    name: 'provisioned-concurrency',
    sql: `
      -- One provisioned concurrency configuration per published version or alias (qualifier). The environments it
      -- keeps are not stored: they are started again from these rows when the server starts.
      CREATE TABLE provisioned_concurrency_configs (
        account_id TEXT NOT NULL,
        function_name TEXT NOT NULL,
        qualifier TEXT NOT NULL,
        requested INTEGER NOT NULL,
        last_modified_ms INTEGER NOT NULL,
        PRIMARY KEY (account_id, function_name, qualifier),
        FOREIGN KEY (account_id, function_name) REFERENCES functions (account_id, function_name) ON DELETE CASCADE
      ) STRICT, WITHOUT ROWID;

      -- A configuration goes with its version or alias, however that is deleted (alone or with the function), so
      -- a later version or alias of the same name does not inherit it.
      CREATE TRIGGER provisioned_concurrency_of_deleted_version AFTER DELETE ON function_versions
      BEGIN
        DELETE FROM provisioned_concurrency_configs
        WHERE account_id = OLD.account_id AND function_name = OLD.function_name AND qualifier = OLD.version;
      END;
      CREATE TRIGGER provisioned_concurrency_of_deleted_alias AFTER DELETE ON aliases
      BEGIN
        DELETE FROM provisioned_concurrency_configs
        WHERE account_id = OLD.account_id AND function_name = OLD.function_name AND qualifier = OLD.alias_name;
      END;
    `,
  },
];

/**
 * Applies, each in its own transaction with its record, every migration the database has not seen yet.
 * A database written by a newer build is refused rather than half-understood.
 */
export function applyMigrations(db: Database.Database, migrations: readonly Migration[] = MIGRATIONS): void {
  db.exec(SQL.createMigrationsTable);
  const applied = new Set(db.prepare<[], number>(SQL.appliedMigrations).pluck().all());
  const known = new Set(migrations.map((m) => m.version));
  const unknown = [...applied].filter((v) => !known.has(v));
  if (unknown.length > 0) {
    throw new StoreError('ERR_STORE_IO', `database has schema migrations this build does not know: ${unknown.join(', ')}`);
  }
  const record = db.prepare<{ version: number; name: string; appliedMs: number }>(SQL.recordMigration);
  for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
    if (applied.has(migration.version)) continue;
    db.transaction(() => {
      db.exec(migration.sql);
      record.run({ version: migration.version, name: migration.name, appliedMs: Date.now() });
    }).immediate();
  }
}
