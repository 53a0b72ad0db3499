/** The ProvisionedConcurrencyStore part of the Store contract (migration 4), apart from store.test.ts's helpers. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { LATEST, type FunctionVersion } from '../../src/model/function.js';
import type { ProvisionedConcurrencyConfig } from '../../src/model/provisioned-concurrency.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { StoreError, type Store } from '../../src/store/store.js';

const ACCOUNT = '111111111111';
const OTHER_ACCOUNT = '222222222222';

const factories = [{ name: 'SqliteStore', open: async (dir: string): Promise<Store> => SqliteStore.open({ path: join(dir, 'kindling.sqlite') }) }];

function aVersion(accountId: string, functionName: string, version: string): FunctionVersion {
  return {
    accountId,
    functionName,
    version,
    settings: {
      runtime: 'nodejs20.x',
      handler: 'index.handler',
      role: `arn:aws:iam::${accountId}:role/lambda`,
      description: '',
      timeoutSeconds: 3,
      memorySizeMb: 128,
      environment: {},
      layers: [],
      architectures: ['x86_64'],
      ephemeralStorageMb: 512,
      tracingMode: 'PassThrough',
      loggingConfig: { logFormat: 'Text', logGroup: `/aws/lambda/${functionName}` },
      snapStartApplyOn: 'None',
    },
    code: { sha256Hex: 'ab'.repeat(32), sizeBytes: 10, unzippedBytes: 30 },
    revisionId: randomUUID(),
    lastModifiedMs: 1_700_000_000_000,
    state: 'Active',
    lastUpdateStatus: 'Successful',
  };
}

/** A function with $LATEST and versions 1 and 2, and an alias `live` → 1. */
async function createFunction(store: Store, functionName: string, accountId = ACCOUNT, reservedConcurrency?: number): Promise<void> {
  await store.functions.createFunction(
    { accountId, functionName, createdMs: 1_700_000_000_000, lastVersionNumber: 1, tags: {}, ...(reservedConcurrency === undefined ? {} : { reservedConcurrency }) },
    aVersion(accountId, functionName, LATEST),
    aVersion(accountId, functionName, '1'),
  );
  await store.functions.publishVersion(accountId, functionName, undefined, (n) => aVersion(accountId, functionName, String(n)));
  await store.aliases.createAlias({ accountId, functionName, name: 'live', functionVersion: '1', description: '', revisionId: randomUUID() });
}

function aConfig(fields: Partial<ProvisionedConcurrencyConfig> = {}): ProvisionedConcurrencyConfig {
  return { accountId: ACCOUNT, functionName: 'fn', qualifier: '1', requested: 3, lastModifiedMs: 1_700_000_000_123, ...fields };
}

for (const make of factories) {
  describe(`Store contract, provisioned concurrency: ${make.name}`, () => {
    async function openWorld(t: TestContext): Promise<{ store: Store; reopen: () => Promise<Store> }> {
      const dir = await mkdtemp(join(tmpdir(), 'kindling-pc-store-'));
      const opened: Store[] = [];
      t.after(async () => {
        for (const store of opened) await store.close();
        await rm(dir, { recursive: true, force: true });
      });
      const reopen = async () => {
        const store = await make.open(dir);
        opened.push(store);
        return store;
      };
      return { store: await reopen(), reopen };
    }

    test('save inserts, then replaces; find reads it back; delete answers whether it existed', async (t) => {
      const { store } = await openWorld(t);
      await createFunction(store, 'fn');
      assert.equal(await store.provisioned.findProvisionedConfig(ACCOUNT, 'fn', '1'), undefined);
      await store.provisioned.saveProvisionedConfig(aConfig());
      assert.deepEqual(await store.provisioned.findProvisionedConfig(ACCOUNT, 'fn', '1'), aConfig());
      await store.provisioned.saveProvisionedConfig(aConfig({ requested: 7, lastModifiedMs: 1_800_000_000_000 }));
      assert.deepEqual(await store.provisioned.findProvisionedConfig(ACCOUNT, 'fn', '1'), aConfig({ requested: 7, lastModifiedMs: 1_800_000_000_000 }));
      assert.equal(await store.provisioned.deleteProvisionedConfig(ACCOUNT, 'fn', '1'), true);
      assert.equal(await store.provisioned.deleteProvisionedConfig(ACCOUNT, 'fn', '1'), false);
      assert.equal(await store.provisioned.findProvisionedConfig(ACCOUNT, 'fn', '1'), undefined);
    });

    test('a configuration of a function that does not exist is ERR_STORE_NOT_FOUND', async (t) => {
      const { store } = await openWorld(t);
      await assert.rejects(store.provisioned.saveProvisionedConfig(aConfig({ functionName: 'ghost' })), (error) => {
        assert.ok(error instanceof StoreError);
        assert.equal(error.code, 'ERR_STORE_NOT_FOUND');
        return true;
      });
    });

    test('list pages a function\'s configurations by qualifier; listAll has every account\'s', async (t) => {
      const { store } = await openWorld(t);
      await createFunction(store, 'fn');
      await createFunction(store, 'other');
      await createFunction(store, 'fn', OTHER_ACCOUNT);
      for (const qualifier of ['2', 'live', '1']) await store.provisioned.saveProvisionedConfig(aConfig({ qualifier }));
      await store.provisioned.saveProvisionedConfig(aConfig({ functionName: 'other' }));
      await store.provisioned.saveProvisionedConfig(aConfig({ accountId: OTHER_ACCOUNT }));
      const first = await store.provisioned.listProvisionedConfigs(ACCOUNT, 'fn', { limit: 2 });
      assert.deepEqual(first.items.map((c) => c.qualifier), ['1', '2']);
      assert.ok(first.nextMarker !== undefined);
      const second = await store.provisioned.listProvisionedConfigs(ACCOUNT, 'fn', { limit: 2, marker: first.nextMarker });
      assert.deepEqual(second.items.map((c) => c.qualifier), ['live']);
      assert.equal(second.nextMarker, undefined);
      const all = await store.provisioned.listAllProvisionedConfigs();
      assert.deepEqual(all.map((c) => `${c.accountId}/${c.functionName}/${c.qualifier}`), [
        `${ACCOUNT}/fn/1`,
        `${ACCOUNT}/fn/2`,
        `${ACCOUNT}/fn/live`,
        `${ACCOUNT}/other/1`,
        `${OTHER_ACCOUNT}/fn/1`,
      ]);
    });

    test('deleting a version, an alias or the function deletes its configurations and no others', async (t) => {
      const { store } = await openWorld(t);
      await createFunction(store, 'fn');
      await createFunction(store, 'keep');
      for (const qualifier of ['1', '2', 'live']) await store.provisioned.saveProvisionedConfig(aConfig({ qualifier }));
      await store.provisioned.saveProvisionedConfig(aConfig({ functionName: 'keep', qualifier: '2' }));
      await store.functions.deleteVersion(ACCOUNT, 'fn', '2');
      await store.aliases.deleteAlias(ACCOUNT, 'fn', 'live');
      assert.deepEqual((await store.provisioned.listProvisionedConfigs(ACCOUNT, 'fn', { limit: 10 })).items.map((c) => c.qualifier), ['1']);
      assert.equal(await store.functions.deleteFunction(ACCOUNT, 'fn'), true);
      assert.deepEqual((await store.provisioned.listAllProvisionedConfigs()).map((c) => `${c.functionName}/${c.qualifier}`), ['keep/2']);
      // A new function of the same name starts without configurations.
      await createFunction(store, 'fn');
      assert.equal(await store.provisioned.findProvisionedConfig(ACCOUNT, 'fn', '1'), undefined);
    });

    test('the unreserved sum counts only functions without reserved concurrency, of one account, less the named config', async (t) => {
      const { store } = await openWorld(t);
      await createFunction(store, 'a');
      await createFunction(store, 'b');
      await createFunction(store, 'reserved', ACCOUNT, 50);
      await createFunction(store, 'a', OTHER_ACCOUNT);
      await store.provisioned.saveProvisionedConfig(aConfig({ functionName: 'a', qualifier: '1', requested: 3 }));
      await store.provisioned.saveProvisionedConfig(aConfig({ functionName: 'a', qualifier: 'live', requested: 4 }));
      await store.provisioned.saveProvisionedConfig(aConfig({ functionName: 'b', qualifier: '2', requested: 5 }));
      await store.provisioned.saveProvisionedConfig(aConfig({ functionName: 'reserved', qualifier: '1', requested: 20 }));
      await store.provisioned.saveProvisionedConfig(aConfig({ accountId: OTHER_ACCOUNT, functionName: 'a', requested: 100 }));
      assert.equal(await store.provisioned.sumUnreservedProvisioned(ACCOUNT), 12);
      assert.equal(await store.provisioned.sumUnreservedProvisioned(ACCOUNT, { functionName: 'a', qualifier: 'live' }), 8);
      assert.equal(await store.provisioned.sumUnreservedProvisioned(ACCOUNT, { functionName: 'b', qualifier: '1' }), 12);
      await store.functions.setReservedConcurrency(ACCOUNT, 'b', 10);
      assert.equal(await store.provisioned.sumUnreservedProvisioned(ACCOUNT), 7);
      assert.equal(await store.provisioned.sumUnreservedProvisioned('333333333333'), 0);
    });

    test('configurations survive closing and reopening the store', async (t) => {
      const { store, reopen } = await openWorld(t);
      await createFunction(store, 'fn');
      await store.provisioned.saveProvisionedConfig(aConfig({ qualifier: 'live' }));
      await store.close();
      const again = await reopen();
      assert.deepEqual(await again.provisioned.listAllProvisionedConfigs(), [aConfig({ qualifier: 'live' })]);
    });
  });
}
