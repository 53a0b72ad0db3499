/** Rows ↔ domain objects for the SQLite store. JSON columns hold nested parts; NULL columns become absent fields. */
import assert from 'node:assert/strict';
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
import type { AliasRow, FunctionRow, LayerVersionRow, PolicyRow, VersionRow } from './statements.js';

export function toVersionNumber(version: string): number {
  assert.match(version, /^[1-9][0-9]{0,15}$/, `published version ${version}`);
  return Number(version);
}

/** Drops null fields, so optional properties are absent rather than undefined when read back. */
function present<T extends Record<string, unknown>>(fields: T): { [K in keyof T]?: Exclude<T[K], null> } {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== null)) as {
    [K in keyof T]?: Exclude<T[K], null>;
  };
}

export function toFunctionRecord(row: FunctionRow): FunctionRecord {
  return {
    accountId: row.account_id,
    functionName: row.function_name,
    createdMs: row.created_ms,
    lastVersionNumber: row.last_version_number,
    ...present({ reservedConcurrency: row.reserved_concurrency }),
    tags: JSON.parse(row.tags_json) as Record<string, string>,
  };
}

export function fromVersion(v: FunctionVersion): VersionRow {
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
    source_revision_id: v.sourceRevisionId ?? null,
  };
}

export function toVersion(row: VersionRow): FunctionVersion {
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
      sourceRevisionId: row.source_revision_id,
    }),
  };
}

export function fromAlias(alias: Alias): AliasRow {
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

export function toAlias(row: AliasRow): Alias {
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

export function toPolicy(row: PolicyRow): ResourcePolicy {
  return {
    accountId: row.account_id,
    functionName: row.function_name,
    qualifier: row.qualifier,
    statements: JSON.parse(row.statements_json) as ResourcePolicy['statements'],
    revisionId: row.revision_id,
  };
}

export function fromLayerVersion(v: LayerVersion): LayerVersionRow {
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

export function toLayerVersion(row: LayerVersionRow): LayerVersion {
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
