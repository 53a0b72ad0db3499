/**
 * Store interfaces, one per aggregate. Every key carries the account id. SQLite implements them today
 * (src/store/sqlite); a PostgreSQL backend is another implementation, so methods return promises even
 * where better-sqlite3 is synchronous. Each method is atomic on its own.
 */
import type {
  Alias,
  FunctionRecord,
  FunctionVersion,
  LayerVersion,
  ResourcePolicy,
} from '../model/function.js';
import type { AsyncEvent, AttemptOutcome, EventInvokeConfig } from '../model/async-event.js';
import type { ProvisionedConcurrencyConfig } from '../model/provisioned-concurrency.js';
import { PlatformError } from '../shared/errors.js';

export type StoreErrorCode =
  | 'ERR_STORE_CONFLICT' // the row already exists (unique key)
  | 'ERR_STORE_NOT_FOUND' // the row to change does not exist
  | 'ERR_STORE_INVALID_MARKER' // a pagination marker this store did not hand out
  | 'ERR_STORE_REVISION_MISMATCH' // a compare-and-set saw another revision
  | 'ERR_STORE_FULL' // the disk or database is full (ENOSPC, SQLITE_FULL)
  | 'ERR_STORE_IO'; // any other storage failure
export class StoreError extends PlatformError<StoreErrorCode> {}

export interface Page<T> {
  items: T[];
  /** Opaque; absent on the last page. */
  nextMarker?: string;
}

/** A function's reserved concurrency, as the environment pool holds capacity back for it. */
export interface FunctionReservation {
  functionName: string;
  reservedConcurrency: number;
  memorySizeMb: number;
}

export interface PageRequest {
  marker?: string;
  limit: number;
}

export interface FunctionStore {
  /** Inserts the function, its $LATEST and optionally version 1 (Publish: true). ERR_STORE_CONFLICT if it exists. */
  createFunction(fn: FunctionRecord, latest: FunctionVersion, published?: FunctionVersion): Promise<void>;
  findFunction(accountId: string, functionName: string): Promise<FunctionRecord | undefined>;
  /** Functions ordered by name. */
  listFunctions(accountId: string, page: PageRequest): Promise<Page<FunctionRecord>>;
  /** Deletes the function with all its versions, aliases, policies. Returns false when it did not exist. */
  deleteFunction(accountId: string, functionName: string): Promise<boolean>;

  findVersion(accountId: string, functionName: string, version: string): Promise<FunctionVersion | undefined>;
  /** $LATEST first, then published versions in ascending number. */
  listVersions(accountId: string, functionName: string, page: PageRequest): Promise<Page<FunctionVersion>>;
  /** The highest-numbered published version, if any. */
  findLatestPublished(accountId: string, functionName: string): Promise<FunctionVersion | undefined>;
  /**
   * Replaces $LATEST. When expectedRevisionId is given and differs from the stored one:
   * ERR_STORE_REVISION_MISMATCH. ERR_STORE_NOT_FOUND if the function is gone.
   */
  saveLatest(next: FunctionVersion, expectedRevisionId?: string): Promise<void>;
  /** Sets state fields of one version in place (no revision check): Pending → Active and the like. */
  updateVersionState(
    accountId: string,
    functionName: string,
    version: string,
    patch: Pick<FunctionVersion, 'state' | 'stateReason' | 'stateReasonCode' | 'lastUpdateStatus' | 'lastUpdateStatusReason' | 'lastUpdateStatusReasonCode'>,
  ): Promise<void>;
  /**
   * Publishes: in one transaction, checks $LATEST's revision (when given), allocates lastVersionNumber + 1,
   * and inserts build(n). Returns what was inserted.
   */
  publishVersion(
    accountId: string,
    functionName: string,
    expectedLatestRevisionId: string | undefined,
    build: (versionNumber: number) => FunctionVersion,
  ): Promise<FunctionVersion>;
  /** Deletes one published version (and the policy scoped to it). Returns false when absent. */
  deleteVersion(accountId: string, functionName: string, version: string): Promise<boolean>;
  /** Versions whose state is Pending or whose lastUpdateStatus is InProgress (recovered at start). */
  listUnsettledVersions(): Promise<FunctionVersion[]>;

  setReservedConcurrency(accountId: string, functionName: string, value: number | undefined): Promise<void>;
  /** Sum of reserved concurrency over the account's functions, excluding one function if named. */
  sumReservedConcurrency(accountId: string, exceptFunctionName?: string): Promise<number>;
  /** The account's functions with reserved concurrency, each with the largest MemorySize among its versions. */
  listReservations(accountId: string): Promise<FunctionReservation[]>;
  setTags(accountId: string, functionName: string, tags: Record<string, string>): Promise<void>;
  countFunctions(accountId: string): Promise<number>;
  /** Sum of CodeSize over every function version and layer version of the account. */
  totalCodeSize(accountId: string): Promise<number>;
}

export interface AliasStore {
  /** ERR_STORE_CONFLICT if it exists. */
  createAlias(alias: Alias): Promise<void>;
  findAlias(accountId: string, functionName: string, name: string): Promise<Alias | undefined>;
  /** Ordered by name; filtered to aliases whose primary or additional version is functionVersion, if given. */
  listAliases(accountId: string, functionName: string, functionVersion: string | undefined, page: PageRequest): Promise<Page<Alias>>;
  /** Compare-and-set on revisionId when expectedRevisionId is given. */
  saveAlias(alias: Alias, expectedRevisionId?: string): Promise<void>;
  deleteAlias(accountId: string, functionName: string, name: string): Promise<boolean>;
}

export interface PolicyStore {
  findPolicy(accountId: string, functionName: string, qualifier: string): Promise<ResourcePolicy | undefined>;
  /** Writes the whole policy (compare-and-set on revisionId when given); an empty statement list deletes it. */
  savePolicy(policy: ResourcePolicy, expectedRevisionId?: string): Promise<void>;
}

export interface LayerStore {
  /** Allocates the next version number of the layer (never reused) and inserts build(n). */
  publishLayerVersion(accountId: string, layerName: string, build: (version: number) => LayerVersion): Promise<LayerVersion>;
  findLayerVersion(accountId: string, layerName: string, version: number): Promise<LayerVersion | undefined>;
  /** Newest first. */
  listLayerVersions(accountId: string, layerName: string, page: PageRequest): Promise<Page<LayerVersion>>;
  /** One entry per layer name with its newest version (optionally filtered), ordered by name. */
  listLayers(accountId: string, filter: (v: LayerVersion) => boolean, page: PageRequest): Promise<Page<LayerVersion>>;
  deleteLayerVersion(accountId: string, layerName: string, version: number): Promise<boolean>;
}

/**
 * Provisioned concurrency configurations, one per (function, qualifier). A configuration is deleted with its version,
 * its alias or its function.
 */
export interface ProvisionedConcurrencyStore {
  /** Inserts or replaces the configuration of one qualifier. ERR_STORE_NOT_FOUND if the function does not exist. */
  saveProvisionedConfig(config: ProvisionedConcurrencyConfig): Promise<void>;
  findProvisionedConfig(accountId: string, functionName: string, qualifier: string): Promise<ProvisionedConcurrencyConfig | undefined>;
  /** The function's configurations, ordered by qualifier. */
  listProvisionedConfigs(accountId: string, functionName: string, page: PageRequest): Promise<Page<ProvisionedConcurrencyConfig>>;
  deleteProvisionedConfig(accountId: string, functionName: string, qualifier: string): Promise<boolean>;
  /** Every configuration of every account (re-initialised when the server starts). */
  listAllProvisionedConfigs(): Promise<ProvisionedConcurrencyConfig[]>;
  /**
   * Σ requested over the account's functions that have no reserved concurrency (their provisioned environments come
   * out of the unreserved pool), excluding one function's configuration for one qualifier if named.
   */
  sumUnreservedProvisioned(accountId: string, except?: { functionName: string; qualifier: string }): Promise<number>;
}

/** Which code digests (and merged layer lists) rows still reference: the reference counts of blobs and trees. */
export interface CodeReferences {
  /** Every code sha256 hex referenced by a function version or layer version. */
  referencedCodeDigests(): Promise<Set<string>>;
  /** Every ordered list of layer digests used by a function version, as the lists themselves. */
  referencedLayerLists(): Promise<string[][]>;
}

export interface Store {
  functions: FunctionStore;
  aliases: AliasStore;
  policies: PolicyStore;
  layers: LayerStore;
  references: CodeReferences;
  logs: LogStore;
  asyncEvents: AsyncEventStore;
  eventInvokeConfigs: EventInvokeConfigStore;
  provisioned: ProvisionedConcurrencyStore;
  close(): Promise<void>;
}

/** Content-addressed zip storage. */
export interface BlobStore {
  /**
   * Writes bytes durably before returning: temp file, fsync, rename, directory fsync.
   * Idempotent for a digest already present. ERR_STORE_FULL on ENOSPC.
   */
  put(bytes: Uint8Array): Promise<{ sha256Hex: string; sizeBytes: number }>;
  has(sha256Hex: string): boolean;
  /** Absolute path of the stored blob (for streaming and unpacking). */
  pathOf(sha256Hex: string): string;
  delete(sha256Hex: string): Promise<void>;
  /** Every digest present on disk. */
  list(): Promise<string[]>;
  /** Removes temp files left by a crash; returns how many. */
  sweepTemporaryFiles(): Promise<number>;
}

/** One function log event (a line of its output or a platform line), as CloudWatch Logs would hold it. */
export interface LogEventRecord {
  accountId: string;
  functionName: string;
  group: string;
  stream: string;
  timestampMs: number;
  message: string;
}

/**
 * What an event costs against a function's log cap: its UTF-8 bytes plus a fixed overhead per event, as CloudWatch
 * Logs counts event size, so a flood of empty lines is bounded too.
 */
export const LOG_EVENT_OVERHEAD_BYTES = 26;

export function logEventBytes(message: string): number {
  return Buffer.byteLength(message, 'utf8') + LOG_EVENT_OVERHEAD_BYTES;
}

/** Function logs. Events keep the order they were appended in (across calls), whatever their timestamps. */
export interface LogStore {
  /** Appends the events in order, in one transaction. */
  appendEvents(events: readonly LogEventRecord[]): Promise<void>;
  /** Deletes the oldest events of the function until its stored bytes are at most maxBytes. Returns bytes deleted. */
  enforceCap(accountId: string, functionName: string, maxBytes: number): Promise<number>;
  /** Sum of logEventBytes over the function's stored events. */
  storedBytes(accountId: string, functionName: string): Promise<number>;
  /**
   * Oldest first (append order); for tests, `kindling logs` and (later) the CloudWatch Logs API. afterMs keeps
   * only events with a timestamp strictly after it.
   */
  listEvents(
    accountId: string,
    group: string,
    options: { stream?: string; limit: number; afterMs?: number },
  ): Promise<LogEventRecord[]>;
  /** The group's stream names that hold events, by name. */
  listStreams(accountId: string, group: string): Promise<string[]>;
  deleteFunctionLogs(accountId: string, functionName: string): Promise<void>;
}

/** A function with events due: the unit the async runner takes turns over. */
export interface DueFunction {
  accountId: string;
  functionName: string;
}

/**
 * Accepted asynchronous events (durable: an event the client got 202 for survives a crash). An event is either
 * waiting (running false, due at dueMs) or held by an attempt (running true).
 */
export interface AsyncEventStore {
  /** Stores a new event, committed (fsynced) when the promise settles. ERR_STORE_CONFLICT for a known request id. */
  enqueue(event: AsyncEvent): Promise<void>;
  /** Sum of the payload bytes of every stored event. */
  queuedBytes(): Promise<number>;
  /** Functions with a waiting event due at nowMs, ordered by account and name. */
  listDueFunctions(nowMs: number): Promise<DueFunction[]>;
  /** Marks the function's oldest due waiting event running and returns it (undefined: none due). */
  claimNext(accountId: string, functionName: string, nowMs: number): Promise<AsyncEvent | undefined>;
  /** Counts an attempt of a running event (before it starts): attempts + 1. */
  recordAttemptStart(accountId: string, requestId: string): Promise<void>;
  /** Back to waiting with new bookkeeping; false when the event is gone (its function was deleted). */
  reschedule(
    accountId: string,
    requestId: string,
    next: { dueMs: number; attempts: number; throttles: number; lastOutcome?: AttemptOutcome },
  ): Promise<boolean>;
  /** Deletes the event and, in the same transaction, stores followUp (an event for a destination function). */
  finish(accountId: string, requestId: string, followUp?: AsyncEvent): Promise<void>;
  /**
   * The earliest dueMs after `afterMs` of a waiting event. Events already due but held back (their function is at
   * its concurrency) do not count: they come up when that function's attempt ends, and must not hide a later one.
   */
  nextDueMs(afterMs: number): Promise<number | undefined>;
  /**
   * At start: every event that was running is waiting again, due at nowMs. The first time this happens to an event
   * its interrupted attempt is not counted (it may run once more); the second time it is. Returns how many.
   */
  recoverRunning(nowMs: number): Promise<number>;
  /** Drops the function's events (the function was deleted). Returns how many. */
  deleteFunctionEvents(accountId: string, functionName: string): Promise<number>;
}

/** EventInvokeConfigs, one per (function, qualifier); each goes with its version or alias (or function) when deleted. */
export interface EventInvokeConfigStore {
  findConfig(accountId: string, functionName: string, qualifier: string): Promise<EventInvokeConfig | undefined>;
  /** Inserts or replaces. */
  saveConfig(config: EventInvokeConfig): Promise<void>;
  deleteConfig(accountId: string, functionName: string, qualifier: string): Promise<boolean>;
  /** Ordered by qualifier. */
  listConfigs(accountId: string, functionName: string, page: PageRequest): Promise<Page<EventInvokeConfig>>;
}
