/**
 * ProvisionedConcurrency over a real SQLite store and a fake pool: allocation, status, resizing, failures,
 * replacement of lost environments, deletes and restarts. The real-sandbox path is test/compat/provisioned-concurrency.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import type { EnvironmentTarget, ExecutionEnvironment } from '../../../src/environments/execution-environment.js';
import { ThrottledError } from '../../../src/invoke/errors.js';
import { ProvisionedConcurrency, type ProvisionedEnvironments } from '../../../src/invoke/provisioned-concurrency.js';
import { INIT_FAILURE_REASON, ProvisionedConcurrencyError } from '../../../src/invoke/provisioned-concurrency-rules.js';
import { LATEST, type FunctionVersion } from '../../../src/model/function.js';
import { systemClock } from '../../../src/shared/clock.js';
import { createSilentLogger } from '../../../src/shared/logger.js';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../../src/store/store.js';

const ACCOUNT = '000000000000';

class FakeEnvironment {
  static count = 0;
  readonly id = `env-${++FakeEnvironment.count}`;
  reusable = true;
  constructor(readonly target: EnvironmentTarget) {}
  get isReusable(): boolean {
    return this.reusable;
  }
}

/** Starts resolve when the test says so (hold) or at once; `refuse` makes starts throw as a full node does. */
class FakePool implements ProvisionedEnvironments {
  readonly live = new Set<FakeEnvironment>();
  readonly retired: FakeEnvironment[] = [];
  readonly held: (() => void)[] = [];
  hold = false;
  refuseAfter = Infinity;
  initFails = false;

  async startProvisioned(target: EnvironmentTarget): Promise<ExecutionEnvironment> {
    assert.equal(target.initializationType, 'provisioned-concurrency');
    if (this.hold) await new Promise<void>((resolve) => this.held.push(resolve));
    if (this.live.size >= this.refuseAfter) throw new ThrottledError('ConcurrentInvocationLimitExceeded', 'no capacity');
    const env = new FakeEnvironment(target);
    if (this.initFails) env.reusable = false;
    else this.live.add(env);
    return env as unknown as ExecutionEnvironment;
  }

  async retireProvisioned(env: ExecutionEnvironment): Promise<void> {
    const fake = env as unknown as FakeEnvironment;
    this.live.delete(fake);
    this.retired.push(fake);
  }

  versionsLive(): string[] {
    return [...this.live].map((e) => e.target.version.version).sort();
  }
}

function aVersion(functionName: string, version: string): FunctionVersion {
  return {
    accountId: ACCOUNT,
    functionName,
    version,
    settings: {
      runtime: 'nodejs20.x', handler: 'index.handler', role: `arn:aws:iam::${ACCOUNT}:role/r`, description: '', timeoutSeconds: 3,
      memorySizeMb: 256, environment: {}, layers: [], architectures: ['x86_64'], ephemeralStorageMb: 512, tracingMode: 'PassThrough',
      loggingConfig: { logFormat: 'Text', logGroup: `/aws/lambda/${functionName}` }, snapStartApplyOn: 'None',
    },
    code: { sha256Hex: 'cd'.repeat(32), sizeBytes: 1, unzippedBytes: 1 },
    revisionId: randomUUID(),
    lastModifiedMs: 0,
    state: 'Active',
    lastUpdateStatus: 'Successful',
  };
}

async function world(t: TestContext, options: { concurrencyLimit?: number } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'kindling-pc-'));
  const stores: Store[] = [];
  const managers: ProvisionedConcurrency[] = [];
  t.after(async () => {
    for (const m of managers) await m.close();
    for (const s of stores) await s.close();
    await rm(dir, { recursive: true, force: true });
  });
  const open = async (pool: FakePool) => {
    const store = SqliteStore.open({ path: join(dir, 'kindling.db') });
    stores.push(store);
    const manager = new ProvisionedConcurrency({
      store,
      pool,
      code: { locate: async () => ({ codeDir: '/code' }) },
      clock: systemClock,
      log: createSilentLogger(),
      partition: { region: 'us-east-1', accountId: ACCOUNT },
      accountLimit: options.concurrencyLimit ?? 1000,
      minUnreserved: 100,
    });
    managers.push(manager);
    await manager.start();
    return { store, manager };
  };
  const pool = new FakePool();
  const first = await open(pool);
  // fn: $LATEST, versions 1 and 2, alias live → 1.
  await first.store.functions.createFunction(
    { accountId: ACCOUNT, functionName: 'fn', createdMs: 0, lastVersionNumber: 1, tags: {} },
    aVersion('fn', LATEST),
    aVersion('fn', '1'),
  );
  await first.store.functions.publishVersion(ACCOUNT, 'fn', undefined, (n) => aVersion('fn', String(n)));
  await first.store.aliases.createAlias({ accountId: ACCOUNT, functionName: 'fn', name: 'live', functionVersion: '1', description: '', revisionId: 'r' });
  return { ...first, pool, open };
}

/** Lets the manager's background starts run (they resolve on the microtask and immediate queues). */
async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (await condition()) return;
    await new Promise((r) => setImmediate(r));
  }
  assert.fail(`never happened: ${what}`);
}

async function status(manager: ProvisionedConcurrency, qualifier: string) {
  const view = await manager.get(ACCOUNT, 'fn', qualifier);
  return { status: view.status, allocated: view.allocated, ...(view.statusReason === undefined ? {} : { reason: view.statusReason }) };
}

test('Put answers IN_PROGRESS, then the environments start and Get says READY with the counts', async (t) => {
  const { manager, pool } = await world(t);
  pool.hold = true;
  const put = await manager.put(ACCOUNT, 'fn', '1', 3);
  assert.equal(put.status, 'IN_PROGRESS');
  assert.equal(put.allocated, 0);
  assert.equal(put.config.requested, 3);
  await until(() => pool.held.length === 3, 'three starts');
  pool.held.shift()!();
  await until(async () => (await status(manager, '1')).allocated === 1, 'one up');
  assert.deepEqual(await status(manager, '1'), { status: 'IN_PROGRESS', allocated: 1 });
  for (const go of pool.held.splice(0)) go();
  await until(async () => (await status(manager, '1')).status === 'READY', 'READY');
  assert.deepEqual(await status(manager, '1'), { status: 'READY', allocated: 3 });
  assert.deepEqual(pool.versionsLive(), ['1', '1', '1']);
});

test('an alias provisions the version it points to; resizing starts or retires the difference', async (t) => {
  const { manager, pool } = await world(t);
  await manager.put(ACCOUNT, 'fn', 'live', 2);
  await until(async () => (await status(manager, 'live')).status === 'READY', 'READY');
  assert.deepEqual(pool.versionsLive(), ['1', '1']);
  await manager.put(ACCOUNT, 'fn', 'live', 5);
  await until(async () => (await status(manager, 'live')).status === 'READY', 'READY at 5');
  assert.equal(pool.live.size, 5);
  const reduced = await manager.put(ACCOUNT, 'fn', 'live', 1);
  assert.deepEqual([reduced.status, reduced.allocated], ['READY', 1]);
  assert.equal(pool.live.size, 1);
  assert.equal(pool.retired.length, 4);
});

test('a node that cannot host them all: FAILED with a reason, the ones up stay; a new Put tries again', async (t) => {
  const { manager, pool } = await world(t);
  pool.refuseAfter = 2;
  await manager.put(ACCOUNT, 'fn', '1', 4);
  await until(async () => (await status(manager, '1')).status === 'FAILED', 'FAILED');
  const failed = await status(manager, '1');
  assert.equal(failed.allocated, 2);
  assert.match(failed.reason ?? '', /^Insufficient capacity: this node cannot host 4 provisioned environments of 256 MB/);
  pool.refuseAfter = Infinity;
  const again = await manager.put(ACCOUNT, 'fn', '1', 4);
  assert.equal(again.status, 'IN_PROGRESS');
  await until(async () => (await status(manager, '1')).status === 'READY', 'READY after the second Put');
});

test('an init that fails makes the allocation FAILED with FUNCTION_ERROR_INIT_FAILURE and keeps nothing broken', async (t) => {
  const { manager, pool } = await world(t);
  pool.initFails = true;
  await manager.put(ACCOUNT, 'fn', '1', 2);
  await until(async () => (await status(manager, '1')).status === 'FAILED', 'FAILED');
  assert.deepEqual(await status(manager, '1'), { status: 'FAILED', allocated: 0, reason: INIT_FAILURE_REASON });
  assert.equal(pool.live.size, 0);
  assert.ok(pool.retired.length >= 1);
});

test('a lost environment is replaced; Delete retires them all and Get then has no config', async (t) => {
  const { manager, pool } = await world(t);
  await manager.put(ACCOUNT, 'fn', '1', 2);
  await until(async () => (await status(manager, '1')).status === 'READY', 'READY');
  const [lost] = [...pool.live];
  pool.live.delete(lost!);
  pool.hold = true;
  manager.onProvisionedLost(lost as unknown as ExecutionEnvironment);
  assert.deepEqual(await status(manager, '1'), { status: 'IN_PROGRESS', allocated: 1 });
  await until(() => pool.held.length === 1, 'a replacement starting');
  pool.hold = false;
  pool.held.shift()!();
  await until(async () => (await status(manager, '1')).status === 'READY' && pool.live.size === 2, 'replaced');
  assert.ok(!pool.live.has(lost!));
  await manager.delete(ACCOUNT, 'fn', '1');
  assert.equal(pool.live.size, 0);
  await assert.rejects(manager.get(ACCOUNT, 'fn', '1'), (e) => e instanceof ProvisionedConcurrencyError && e.code === 'ERR_PROVISIONED_CONFIG_NOT_FOUND');
  // Idempotent, as on AWS.
  await manager.delete(ACCOUNT, 'fn', '1');
});

test('deleting the version in the store, then sync, retires its environments; an alias moved to another version follows it', async (t) => {
  const { manager, pool, store } = await world(t);
  await manager.put(ACCOUNT, 'fn', '2', 1);
  await manager.put(ACCOUNT, 'fn', 'live', 2);
  await until(async () => pool.live.size === 3, 'three up');
  await store.functions.deleteVersion(ACCOUNT, 'fn', '2');
  await manager.sync(ACCOUNT, 'fn');
  assert.deepEqual(pool.versionsLive(), ['1', '1']);
  await store.functions.publishVersion(ACCOUNT, 'fn', undefined, (n) => aVersion('fn', String(n)));
  await store.aliases.saveAlias({ accountId: ACCOUNT, functionName: 'fn', name: 'live', functionVersion: '3', description: '', revisionId: 'r2' });
  await manager.sync(ACCOUNT, 'fn');
  await until(() => pool.versionsLive().join() === '3,3', 'moved to version 3');
});

test('after a restart every stored config is allocated again with fresh environments', async (t) => {
  const { manager, pool, open } = await world(t);
  await manager.put(ACCOUNT, 'fn', 'live', 2);
  await until(async () => (await status(manager, 'live')).status === 'READY', 'READY');
  await manager.close();
  const pool2 = new FakePool();
  const second = await open(pool2);
  await until(async () => (await status(second.manager, 'live')).status === 'READY', 'READY after the restart');
  assert.equal(pool2.live.size, 2);
  assert.ok([...pool2.live].every((e) => !pool.live.has(e)));
});

test('refusals: $LATEST, unknown version or alias, conflicts and limits come with AWS\'s types and messages', async (t) => {
  const { manager, store } = await world(t, { concurrencyLimit: 110 });
  const code = async (call: Promise<unknown>) => {
    try {
      await call;
    } catch (error) {
      assert.ok(error instanceof ProvisionedConcurrencyError, String(error));
      return `${error.code}: ${error.message}`;
    }
    return 'accepted';
  };
  assert.equal(await code(manager.put(ACCOUNT, 'fn', '$LATEST', 1)), 'ERR_PROVISIONED_INVALID: Provisioned Concurrency Configs cannot be applied to unpublished function versions.');
  assert.equal(await code(manager.get(ACCOUNT, 'fn', '$LATEST')), 'ERR_PROVISIONED_INVALID: The function resource provided must be an alias or a published version.');
  assert.equal(await code(manager.put(ACCOUNT, 'fn', '9', 1)), 'ERR_PROVISIONED_NOT_FOUND: Function not found: arn:aws:lambda:us-east-1:000000000000:function:fn:9');
  assert.equal(await code(manager.put(ACCOUNT, 'fn', 'nope', 1)), 'ERR_PROVISIONED_NOT_FOUND: Cannot find alias arn: arn:aws:lambda:us-east-1:000000000000:function:fn:nope');
  assert.equal(await code(manager.list(ACCOUNT, 'ghost', { limit: 10 })), 'ERR_PROVISIONED_NOT_FOUND: Function not found: arn:aws:lambda:us-east-1:000000000000:function:ghost');
  // 110 - 100 unreserved minimum leaves 10.
  assert.equal(await code(manager.put(ACCOUNT, 'fn', '1', 11)), "ERR_PROVISIONED_INVALID: Specified ConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [100].");
  assert.equal(await code(manager.put(ACCOUNT, 'fn', '1', 6)), 'accepted');
  assert.match(await code(manager.put(ACCOUNT, 'fn', '2', 5)), /^ERR_PROVISIONED_INVALID: Specified ConcurrentExecutions/);
  assert.equal(await code(manager.put(ACCOUNT, 'fn', 'live', 1)), "ERR_PROVISIONED_CONFLICT: Alias can't be used for Provisioned Concurrency configuration on an already Provisioned version");
  await manager.delete(ACCOUNT, 'fn', '1');
  assert.equal(await code(manager.put(ACCOUNT, 'fn', 'live', 1)), 'accepted');
  assert.equal(await code(manager.put(ACCOUNT, 'fn', '1', 1)), 'ERR_PROVISIONED_CONFLICT: Version is pointed by a Provisioned Concurrency alias');
  await store.functions.setReservedConcurrency(ACCOUNT, 'fn', 3);
  assert.equal(await code(manager.put(ACCOUNT, 'fn', '2', 3)), 'ERR_PROVISIONED_INVALID: Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution for function');
  assert.equal(await code(manager.put(ACCOUNT, 'fn', '2', 2)), 'accepted');
});
