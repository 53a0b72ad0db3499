/**
 * Every SQL statement of the SQLite backend (schema DDL lives in migrations.ts), prepared once per connection
 * with the shape of its parameters and rows. Pages are keyset-paginated: `after`/`before` is the last key of
 * the previous page and `limit` is one more than the page size, so the caller can tell whether a next page exists.
 */
import type Database from 'better-sqlite3';
import type { FunctionReservation } from '../store.js';

export interface FunctionRow {
  account_id: string;
  function_name: string;
  created_ms: number;
  last_version_number: number;
  reserved_concurrency: number | null;
  tags_json: string;
}

export interface VersionRow {
  account_id: string;
  function_name: string;
  version: string;
  version_number: number;
  settings_json: string;
  layer_digests_json: string;
  code_sha256_hex: string;
  code_size_bytes: number;
  code_unzipped_bytes: number;
  revision_id: string;
  last_modified_ms: number;
  state: string;
  state_reason: string | null;
  state_reason_code: string | null;
  last_update_status: string | null;
  last_update_status_reason: string | null;
  last_update_status_reason_code: string | null;
  /** For a published version: the $LATEST revision it was published from. */
  source_revision_id: string | null;
}

export interface AliasRow {
  account_id: string;
  function_name: string;
  alias_name: string;
  function_version: string;
  description: string;
  additional_version_weights_json: string | null;
  revision_id: string;
}

export interface PolicyRow {
  account_id: string;
  function_name: string;
  qualifier: string;
  statements_json: string;
  revision_id: string;
}

export interface LayerVersionRow {
  account_id: string;
  layer_name: string;
  version: number;
  description: string;
  compatible_runtimes_json: string;
  compatible_architectures_json: string;
  license_info: string | null;
  code_sha256_hex: string;
  code_size_bytes: number;
  code_unzipped_bytes: number;
  created_ms: number;
}

type FunctionKey = { accountId: string; functionName: string };
type VersionKey = FunctionKey & { version: string };
type AliasKey = FunctionKey & { aliasName: string };
type PolicyKey = FunctionKey & { qualifier: string };
type LayerKey = { accountId: string; layerName: string };
type Page<After> = { after: After; limit: number };

const VERSION_COLUMNS = `account_id, function_name, version, version_number, settings_json, layer_digests_json,
  code_sha256_hex, code_size_bytes, code_unzipped_bytes, revision_id, last_modified_ms, state, state_reason,
  state_reason_code, last_update_status, last_update_status_reason, last_update_status_reason_code, source_revision_id`;
const VERSION_VALUES = `@account_id, @function_name, @version, @version_number, @settings_json, @layer_digests_json,
  @code_sha256_hex, @code_size_bytes, @code_unzipped_bytes, @revision_id, @last_modified_ms, @state, @state_reason,
  @state_reason_code, @last_update_status, @last_update_status_reason, @last_update_status_reason_code, @source_revision_id`;
const FUNCTION_KEY = 'account_id = @accountId AND function_name = @functionName';

export const SQL = {
  createMigrationsTable: `CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_ms INTEGER NOT NULL) STRICT`,
  appliedMigrations: 'SELECT version FROM schema_migrations ORDER BY version',
  recordMigration: 'INSERT INTO schema_migrations (version, name, applied_ms) VALUES (@version, @name, @appliedMs)',

  insertFunction: `INSERT INTO functions (account_id, function_name, created_ms, last_version_number,
    reserved_concurrency, tags_json) VALUES (@account_id, @function_name, @created_ms, @last_version_number,
    @reserved_concurrency, @tags_json)`,
  findFunction: `SELECT * FROM functions WHERE ${FUNCTION_KEY}`,
  listFunctions: `SELECT * FROM functions WHERE account_id = @accountId AND function_name > @after
    ORDER BY function_name LIMIT @limit`,
  deleteFunction: `DELETE FROM functions WHERE ${FUNCTION_KEY}`,
  deleteVersionsOfFunction: `DELETE FROM function_versions WHERE ${FUNCTION_KEY}`,
  deleteAliasesOfFunction: `DELETE FROM aliases WHERE ${FUNCTION_KEY}`,
  deletePoliciesOfFunction: `DELETE FROM policies WHERE ${FUNCTION_KEY}`,
  setLastVersionNumber: `UPDATE functions SET last_version_number = @lastVersionNumber WHERE ${FUNCTION_KEY}`,
  setReservedConcurrency: `UPDATE functions SET reserved_concurrency = @value WHERE ${FUNCTION_KEY}`,
  setTags: `UPDATE functions SET tags_json = @tagsJson WHERE ${FUNCTION_KEY}`,
  sumReservedConcurrency: `SELECT COALESCE(SUM(reserved_concurrency), 0) FROM functions
    WHERE account_id = @accountId AND function_name <> @exceptFunctionName`,
  listReservations: `SELECT f.function_name AS functionName, f.reserved_concurrency AS reservedConcurrency,
      MAX(json_extract(v.settings_json, '$.memorySizeMb')) AS memorySizeMb
    FROM functions f JOIN function_versions v USING (account_id, function_name)
    WHERE f.account_id = @accountId AND f.reserved_concurrency IS NOT NULL
    GROUP BY f.function_name ORDER BY f.function_name`,
  countFunctions: 'SELECT COUNT(*) FROM functions WHERE account_id = @accountId',
  totalCodeSize: `SELECT
    (SELECT COALESCE(SUM(code_size_bytes), 0) FROM function_versions WHERE account_id = @accountId) +
    (SELECT COALESCE(SUM(code_size_bytes), 0) FROM layer_versions WHERE account_id = @accountId)`,

  insertVersion: `INSERT INTO function_versions (${VERSION_COLUMNS}) VALUES (${VERSION_VALUES})`,
  replaceLatest: `UPDATE function_versions SET settings_json = @settings_json,
    layer_digests_json = @layer_digests_json, code_sha256_hex = @code_sha256_hex, code_size_bytes = @code_size_bytes,
    code_unzipped_bytes = @code_unzipped_bytes, revision_id = @revision_id, last_modified_ms = @last_modified_ms,
    state = @state, state_reason = @state_reason, state_reason_code = @state_reason_code,
    last_update_status = @last_update_status, last_update_status_reason = @last_update_status_reason,
    last_update_status_reason_code = @last_update_status_reason_code
    WHERE account_id = @account_id AND function_name = @function_name AND version_number = 0`,
  findVersion: `SELECT * FROM function_versions WHERE ${FUNCTION_KEY} AND version = @version`,
  listVersions: `SELECT * FROM function_versions WHERE ${FUNCTION_KEY} AND version_number > @after
    ORDER BY version_number LIMIT @limit`,
  findLatestPublished: `SELECT * FROM function_versions WHERE ${FUNCTION_KEY} AND version_number > 0
    ORDER BY version_number DESC LIMIT 1`,
  updateVersionState: `UPDATE function_versions SET state = @state, state_reason = @stateReason,
    state_reason_code = @stateReasonCode, last_update_status = @lastUpdateStatus,
    last_update_status_reason = @lastUpdateStatusReason, last_update_status_reason_code = @lastUpdateStatusReasonCode
    WHERE ${FUNCTION_KEY} AND version = @version`,
  deleteVersion: `DELETE FROM function_versions WHERE ${FUNCTION_KEY} AND version = @version`,
  listUnsettledVersions: `SELECT * FROM function_versions WHERE state = 'Pending' OR last_update_status = 'InProgress'
    ORDER BY account_id, function_name, version_number`,

  insertAlias: `INSERT INTO aliases (account_id, function_name, alias_name, function_version, description,
    additional_version_weights_json, revision_id) VALUES (@account_id, @function_name, @alias_name,
    @function_version, @description, @additional_version_weights_json, @revision_id)`,
  findAlias: `SELECT * FROM aliases WHERE ${FUNCTION_KEY} AND alias_name = @aliasName`,
  // @functionVersion NULL lists all; otherwise the primary version or a key of the routing weights must match.
  listAliases: `SELECT * FROM aliases WHERE ${FUNCTION_KEY} AND alias_name > @after
    AND (@functionVersion IS NULL OR function_version = @functionVersion
      OR EXISTS (SELECT 1 FROM json_each(additional_version_weights_json) WHERE key = @functionVersion))
    ORDER BY alias_name LIMIT @limit`,
  updateAlias: `UPDATE aliases SET function_version = @function_version, description = @description,
    additional_version_weights_json = @additional_version_weights_json, revision_id = @revision_id
    WHERE account_id = @account_id AND function_name = @function_name AND alias_name = @alias_name`,
  deleteAlias: `DELETE FROM aliases WHERE ${FUNCTION_KEY} AND alias_name = @aliasName`,

  findPolicy: `SELECT * FROM policies WHERE ${FUNCTION_KEY} AND qualifier = @qualifier`,
  upsertPolicy: `INSERT INTO policies (account_id, function_name, qualifier, statements_json, revision_id)
    VALUES (@account_id, @function_name, @qualifier, @statements_json, @revision_id)
    ON CONFLICT (account_id, function_name, qualifier)
    DO UPDATE SET statements_json = excluded.statements_json, revision_id = excluded.revision_id`,
  deletePolicy: `DELETE FROM policies WHERE ${FUNCTION_KEY} AND qualifier = @qualifier`,

  allocateLayerVersion: `INSERT INTO layers (account_id, layer_name, last_version_number)
    VALUES (@accountId, @layerName, 1)
    ON CONFLICT (account_id, layer_name) DO UPDATE SET last_version_number = last_version_number + 1
    RETURNING last_version_number`,
  insertLayerVersion: `INSERT INTO layer_versions (account_id, layer_name, version, description,
    compatible_runtimes_json, compatible_architectures_json, license_info, code_sha256_hex, code_size_bytes,
    code_unzipped_bytes, created_ms) VALUES (@account_id, @layer_name, @version, @description,
    @compatible_runtimes_json, @compatible_architectures_json, @license_info, @code_sha256_hex, @code_size_bytes,
    @code_unzipped_bytes, @created_ms)`,
  findLayerVersion: `SELECT * FROM layer_versions
    WHERE account_id = @accountId AND layer_name = @layerName AND version = @version`,
  listLayerVersions: `SELECT * FROM layer_versions
    WHERE account_id = @accountId AND layer_name = @layerName AND version < @before
    ORDER BY version DESC LIMIT @limit`,
  // Every version after the marker, each layer's newest first: the filter runs in JS over these candidates.
  listLayerCandidates: `SELECT * FROM layer_versions WHERE account_id = @accountId AND layer_name > @after
    ORDER BY layer_name, version DESC`,
  deleteLayerVersion: `DELETE FROM layer_versions
    WHERE account_id = @accountId AND layer_name = @layerName AND version = @version`,

  referencedCodeDigests: `SELECT code_sha256_hex FROM function_versions
    UNION SELECT code_sha256_hex FROM layer_versions`,
  referencedLayerLists: `SELECT DISTINCT layer_digests_json FROM function_versions
    WHERE layer_digests_json <> '[]' ORDER BY layer_digests_json`,
} as const;

/** Prepares every statement of SQL against an open, migrated connection. */
export function prepareStatements(db: Database.Database) {
  return {
    insertFunction: db.prepare<FunctionRow>(SQL.insertFunction),
    findFunction: db.prepare<FunctionKey, FunctionRow>(SQL.findFunction),
    listFunctions: db.prepare<{ accountId: string } & Page<string>, FunctionRow>(SQL.listFunctions),
    deleteFunction: db.prepare<FunctionKey>(SQL.deleteFunction),
    deleteVersionsOfFunction: db.prepare<FunctionKey>(SQL.deleteVersionsOfFunction),
    deleteAliasesOfFunction: db.prepare<FunctionKey>(SQL.deleteAliasesOfFunction),
    deletePoliciesOfFunction: db.prepare<FunctionKey>(SQL.deletePoliciesOfFunction),
    setLastVersionNumber: db.prepare<FunctionKey & { lastVersionNumber: number }>(SQL.setLastVersionNumber),
    setReservedConcurrency: db.prepare<FunctionKey & { value: number | null }>(SQL.setReservedConcurrency),
    setTags: db.prepare<FunctionKey & { tagsJson: string }>(SQL.setTags),
    sumReservedConcurrency: db
      .prepare<{ accountId: string; exceptFunctionName: string }, number>(SQL.sumReservedConcurrency)
      .pluck(),
    listReservations: db.prepare<{ accountId: string }, FunctionReservation>(SQL.listReservations),
    countFunctions: db.prepare<{ accountId: string }, number>(SQL.countFunctions).pluck(),
    totalCodeSize: db.prepare<{ accountId: string }, number>(SQL.totalCodeSize).pluck(),

    insertVersion: db.prepare<VersionRow>(SQL.insertVersion),
    replaceLatest: db.prepare<VersionRow>(SQL.replaceLatest),
    findVersion: db.prepare<VersionKey, VersionRow>(SQL.findVersion),
    listVersions: db.prepare<FunctionKey & Page<number>, VersionRow>(SQL.listVersions),
    findLatestPublished: db.prepare<FunctionKey, VersionRow>(SQL.findLatestPublished),
    updateVersionState: db.prepare<
      VersionKey & {
        state: string;
        stateReason: string | null;
        stateReasonCode: string | null;
        lastUpdateStatus: string | null;
        lastUpdateStatusReason: string | null;
        lastUpdateStatusReasonCode: string | null;
      }
    >(SQL.updateVersionState),
    deleteVersion: db.prepare<VersionKey>(SQL.deleteVersion),
    listUnsettledVersions: db.prepare<[], VersionRow>(SQL.listUnsettledVersions),

    insertAlias: db.prepare<AliasRow>(SQL.insertAlias),
    findAlias: db.prepare<AliasKey, AliasRow>(SQL.findAlias),
    listAliases: db.prepare<FunctionKey & Page<string> & { functionVersion: string | null }, AliasRow>(
      SQL.listAliases,
    ),
    updateAlias: db.prepare<AliasRow>(SQL.updateAlias),
    deleteAlias: db.prepare<AliasKey>(SQL.deleteAlias),

    findPolicy: db.prepare<PolicyKey, PolicyRow>(SQL.findPolicy),
    upsertPolicy: db.prepare<PolicyRow>(SQL.upsertPolicy),
    deletePolicy: db.prepare<PolicyKey>(SQL.deletePolicy),

    allocateLayerVersion: db.prepare<LayerKey, number>(SQL.allocateLayerVersion).pluck(),
    insertLayerVersion: db.prepare<LayerVersionRow>(SQL.insertLayerVersion),
    findLayerVersion: db.prepare<LayerKey & { version: number }, LayerVersionRow>(SQL.findLayerVersion),
    listLayerVersions: db.prepare<LayerKey & { before: number; limit: number }, LayerVersionRow>(
      SQL.listLayerVersions,
    ),
    listLayerCandidates: db.prepare<{ accountId: string; after: string }, LayerVersionRow>(SQL.listLayerCandidates),
    deleteLayerVersion: db.prepare<LayerKey & { version: number }>(SQL.deleteLayerVersion),

    referencedCodeDigests: db.prepare<[], string>(SQL.referencedCodeDigests).pluck(),
    referencedLayerLists: db.prepare<[], string>(SQL.referencedLayerLists).pluck(),
  };
}

export type Statements = ReturnType<typeof prepareStatements>;
