/** FunctionStore on SQLite: functions, their $LATEST and published versions, concurrency and tags. */
import assert from 'node:assert/strict';
import { LATEST, type FunctionRecord, type FunctionVersion } from '../../model/function.js';
import { type FunctionReservation, type FunctionStore, type Page, type PageRequest } from '../store.js';
import { decodeMarker, pageLimit, toPage } from './paging.js';
import { fromVersion, toFunctionRecord, toVersion, toVersionNumber } from './rows.js';
import type { Statements } from './statements.js';
import { checkRevision, notFound, type Transactions } from './transactions.js';

export class SqliteFunctionStore implements FunctionStore {
  /**
   * listReservations per account, read on every invocation: kept until the next write of this store, which is the
   * only writer of the functions and function_versions tables (better-sqlite3 is synchronous: no read interleaves).
   */
  readonly #reservations = new Map<string, FunctionReservation[]>();
  /**
   * findVersion results, read on every invocation, kept (deeply frozen: callers share them) until the next write of
   * this store. Bounded: cleared whole when it grows past MAX_CACHED_VERSIONS.
   */
  readonly #versions = new Map<string, FunctionVersion | null>();

  constructor(
    private readonly tx: Transactions,
    private readonly sql: Statements,
  ) {}

  #write<T>(body: () => T): T {
    try {
      return this.tx.write(body);
    } finally {
      this.#reservations.clear();
      this.#versions.clear();
    }
  }

  async createFunction(fn: FunctionRecord, latest: FunctionVersion, published?: FunctionVersion): Promise<void> {
    assert.equal(latest.version, LATEST);
    for (const v of published ? [latest, published] : [latest]) {
      assert.ok(v.accountId === fn.accountId && v.functionName === fn.functionName, 'version of another function');
    }
    const publishedNumber = published ? toVersionNumber(published.version) : 0;
    this.#write(() => {
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
    return this.#write(() => {
      this.sql.deletePoliciesOfFunction.run(key);
      this.sql.deleteAliasesOfFunction.run(key);
      this.sql.deleteVersionsOfFunction.run(key);
      return this.sql.deleteFunction.run(key).changes > 0;
    });
  }

  async findVersion(accountId: string, functionName: string, version: string): Promise<FunctionVersion | undefined> {
    const key = `${accountId}\0${functionName}\0${version}`;
    const cached = this.#versions.get(key);
    if (cached !== undefined) return cached ?? undefined;
    const row = this.tx.read(() => this.sql.findVersion.get({ accountId, functionName, version }));
    const found = row === undefined ? null : deepFreeze(toVersion(row));
    if (this.#versions.size >= MAX_CACHED_VERSIONS) this.#versions.clear();
    this.#versions.set(key, found);
    return found ?? undefined;
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
    this.#write(() => {
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
    const changes = this.#write(
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
    return this.#write(() => {
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
    return this.#write(() => {
      this.sql.deletePolicy.run({ accountId, functionName, qualifier: version });
      return this.sql.deleteVersion.run({ accountId, functionName, version }).changes > 0;
    });
  }

  async listUnsettledVersions(): Promise<FunctionVersion[]> {
    return this.tx.read(() => this.sql.listUnsettledVersions.all()).map(toVersion);
  }

  async setReservedConcurrency(accountId: string, functionName: string, value: number | undefined): Promise<void> {
    const { changes } = this.#write(() =>
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

  async listReservations(accountId: string): Promise<FunctionReservation[]> {
    let reservations = this.#reservations.get(accountId);
    if (reservations === undefined) {
      reservations = this.tx.read(() => this.sql.listReservations.all({ accountId }));
      this.#reservations.set(accountId, reservations);
    }
    // A copy: callers may keep or change what they get.
    return reservations.map((r) => ({ ...r }));
  }

  async setTags(accountId: string, functionName: string, tags: Record<string, string>): Promise<void> {
    const { changes } = this.#write(() =>
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

const MAX_CACHED_VERSIONS = 10_000;

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
