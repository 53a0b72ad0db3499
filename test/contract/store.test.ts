import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import {
  LATEST,
  type Alias,
  type CodeRef,
  type FunctionRecord,
  type FunctionSettings,
  type FunctionVersion,
  type LayerVersion,
  type ResourcePolicy,
} from '../../src/model/function.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { StoreError, type Page, type Store, type StoreErrorCode } from '../../src/store/store.js';

/** One Store implementation under the contract; `open` on the same dir must reach the same data. */
interface StoreFactory {
  name: string;
  open(dir: string): Promise<Store>;
}

const makeSqlite: StoreFactory = {
  name: 'SqliteStore',
  // A nested path, so open() has to create the parent directory.
  open: async (dir) => SqliteStore.open({ path: join(dir, 'data', 'kindling.sqlite') }),
};

const ACCOUNT = '111111111111';
const OTHER_ACCOUNT = '222222222222';

function digestOf(seed: string): string {
  return createHash('sha256').update(seed).digest('hex');
}

function aCode(seed: string, sizeBytes = 100): CodeRef {
  return { sha256Hex: digestOf(seed), sizeBytes, unzippedBytes: sizeBytes * 3 };
}

function someSettings(overrides: Partial<FunctionSettings> = {}): FunctionSettings {
  return {
    runtime: 'nodejs20.x',
    handler: 'index.handler',
    role: 'arn:aws:iam::111111111111:role/lambda',
    description: '',
    timeoutSeconds: 3,
    memorySizeMb: 128,
    environment: { GREETING: 'hello' },
    layers: [],
    architectures: ['x86_64'],
    ephemeralStorageMb: 512,
    tracingMode: 'PassThrough',
    loggingConfig: { logFormat: 'Text', logGroup: '/aws/lambda/fn' },
    snapStartApplyOn: 'None',
    ...overrides,
  };
}

function aVersion(fields: Partial<FunctionVersion> = {}): FunctionVersion {
  return {
    accountId: ACCOUNT,
    functionName: 'fn',
    version: LATEST,
    settings: someSettings(),
    code: aCode('code'),
    revisionId: randomUUID(),
    lastModifiedMs: 1_700_000_000_000,
    state: 'Active',
    lastUpdateStatus: 'Successful',
    ...fields,
  };
}

function aFunction(fields: Partial<FunctionRecord> = {}): FunctionRecord {
  return { accountId: ACCOUNT, functionName: 'fn', createdMs: 1_700_000_000_000, lastVersionNumber: 0, tags: {}, ...fields };
}

function anAlias(fields: Partial<Alias> = {}): Alias {
  return { accountId: ACCOUNT, functionName: 'fn', name: 'live', functionVersion: '1', description: '', revisionId: randomUUID(), ...fields };
}

function aPolicy(fields: Partial<ResourcePolicy> = {}): ResourcePolicy {
  const statement = { Sid: 'allow-s3', Effect: 'Allow', Principal: { Service: 's3.amazonaws.com' }, Action: 'lambda:InvokeFunction' };
  return { accountId: ACCOUNT, functionName: 'fn', qualifier: '', statements: [statement], revisionId: randomUUID(), ...fields };
}

function aLayerVersion(fields: Partial<LayerVersion> = {}): LayerVersion {
  return {
    accountId: ACCOUNT,
    layerName: 'layer',
    version: 1,
    description: '',
    compatibleRuntimes: ['nodejs20.x'],
    compatibleArchitectures: ['x86_64'],
    code: aCode('layer'),
    createdMs: 1_700_000_000_000,
    ...fields,
  };
}

/** Creates a function with its $LATEST (and version 1 when publish is set) and returns what was stored. */
async function createFunction(
  store: Store,
  functionName: string,
  options: { accountId?: string; latest?: Partial<FunctionVersion>; publish?: boolean } = {},
): Promise<{ fn: FunctionRecord; latest: FunctionVersion; published?: FunctionVersion }> {
  const accountId = options.accountId ?? ACCOUNT;
  const fn = aFunction({ accountId, functionName, lastVersionNumber: options.publish ? 1 : 0 });
  const latest = aVersion({ accountId, functionName, ...options.latest });
  const published = options.publish ? { ...latest, version: '1', revisionId: randomUUID() } : undefined;
  await store.functions.createFunction(fn, latest, published);
  return published ? { fn, latest, published } : { fn, latest };
}

function publish(store: Store, functionName: string, expectedLatestRevisionId?: string): Promise<FunctionVersion> {
  return store.functions.publishVersion(ACCOUNT, functionName, expectedLatestRevisionId, (n) =>
    aVersion({ functionName, version: String(n) }),
  );
}

async function rejectsWithCode(promise: Promise<unknown>, code: StoreErrorCode): Promise<void> {
  await assert.rejects(promise, (error) => {
    assert.ok(error instanceof StoreError, `expected a StoreError, got ${String(error)}`);
    assert.equal(error.code, code);
    return true;
  });
}

/** Follows nextMarker to the end, checking every page but the last is full and only the last lacks a marker. */
async function readAllPages<T>(limit: number, list: (marker: string | undefined) => Promise<Page<T>>): Promise<T[][]> {
  const pages: T[][] = [];
  let marker: string | undefined;
  do {
    const page = await list(marker);
    pages.push(page.items);
    marker = page.nextMarker;
    if (marker !== undefined) assert.equal(page.items.length, limit);
  } while (marker !== undefined && pages.length < 100);
  return pages;
}

for (const make of [makeSqlite]) {
  describe(`Store contract: ${make.name}`, () => {
    async function openWorld(t: TestContext): Promise<{ store: Store; reopen: () => Promise<Store> }> {
      const dir = await mkdtemp(join(tmpdir(), 'kindling-store-'));
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

    test('a created function and its $LATEST are found as they were written', async (t) => {
      const { store } = await openWorld(t);
      const { fn, latest } = await createFunction(store, 'fn', {
        latest: { state: 'Pending', stateReason: 'starting', stateReasonCode: 'Creating', lastUpdateStatus: 'InProgress' },
      });
      assert.deepEqual(await store.functions.findFunction(ACCOUNT, 'fn'), fn);
      assert.deepEqual(await store.functions.findVersion(ACCOUNT, 'fn', LATEST), latest);
      assert.equal(await store.functions.findFunction(ACCOUNT, 'missing'), undefined);
      assert.equal(await store.functions.findVersion(ACCOUNT, 'fn', '1'), undefined);
    });

    test('creating with a published version stores version 1 and counts it as the last number', async (t) => {
      const { store } = await openWorld(t);
      const { published } = await createFunction(store, 'fn', { publish: true });
      assert.deepEqual(await store.functions.findLatestPublished(ACCOUNT, 'fn'), published);
      assert.equal((await store.functions.findFunction(ACCOUNT, 'fn'))?.lastVersionNumber, 1);
      assert.equal((await publish(store, 'fn')).version, '2');
    });

    test('creating a function that exists is a conflict and leaves the first one untouched', async (t) => {
      const { store } = await openWorld(t);
      const { latest } = await createFunction(store, 'fn');
      await rejectsWithCode(createFunction(store, 'fn', { latest: { code: aCode('other') } }), 'ERR_STORE_CONFLICT');
      assert.deepEqual(await store.functions.findVersion(ACCOUNT, 'fn', LATEST), latest);
    });

    test('functions are listed by name in pages whose last page has no marker', async (t) => {
      const { store } = await openWorld(t);
      for (const name of ['e', 'b', 'd', 'a', 'c']) await createFunction(store, name);
      const pages = await readAllPages(2, (marker) => store.functions.listFunctions(ACCOUNT, { marker, limit: 2 }));
      assert.deepEqual(pages.map((p) => p.map((f) => f.functionName)), [['a', 'b'], ['c', 'd'], ['e']]);
      const exact = await store.functions.listFunctions(ACCOUNT, { limit: 5 });
      assert.equal(exact.items.length, 5);
      assert.equal(exact.nextMarker, undefined);
    });

    test('a marker the store did not issue is rejected as an invalid marker', async (t) => {
      const { store } = await openWorld(t);
      await assert.rejects(store.functions.listFunctions(ACCOUNT, { marker: '%%%', limit: 2 }), (error) => {
        assert.ok(error instanceof StoreError && error.code === 'ERR_STORE_INVALID_MARKER');
        assert.match(error.message, /^invalid marker/);
        return true;
      });
      const numberMarker = Buffer.from('7').toString('base64url');
      await rejectsWithCode(store.functions.listFunctions(ACCOUNT, { marker: numberMarker, limit: 2 }), 'ERR_STORE_INVALID_MARKER');
    });

    test('deleting a function removes its versions, aliases and policies of every qualifier', async (t) => {
      const { store } = await openWorld(t);
      await createFunction(store, 'fn', { publish: true });
      await createFunction(store, 'kept');
      await store.aliases.createAlias(anAlias());
      for (const qualifier of ['', '1', 'live']) await store.policies.savePolicy(aPolicy({ qualifier }));
      assert.equal(await store.functions.deleteFunction(ACCOUNT, 'fn'), true);
      assert.equal(await store.functions.deleteFunction(ACCOUNT, 'fn'), false);
      assert.equal(await store.functions.findFunction(ACCOUNT, 'fn'), undefined);
      await createFunction(store, 'fn');
      const versions = await store.functions.listVersions(ACCOUNT, 'fn', { limit: 10 });
      assert.deepEqual(versions.items.map((v) => v.version), [LATEST]);
      assert.equal(await store.aliases.findAlias(ACCOUNT, 'fn', 'live'), undefined);
      for (const qualifier of ['', '1', 'live']) assert.equal(await store.policies.findPolicy(ACCOUNT, 'fn', qualifier), undefined);
      assert.ok(await store.functions.findFunction(ACCOUNT, 'kept'));
    });

    test('saveLatest replaces $LATEST only when the expected revision matches', async (t) => {
      const { store } = await openWorld(t);
      const { latest } = await createFunction(store, 'fn');
      const next = aVersion({ code: aCode('v2'), settings: someSettings({ memorySizeMb: 256 }) });
      await rejectsWithCode(store.functions.saveLatest(next, 'stale'), 'ERR_STORE_REVISION_MISMATCH');
      assert.deepEqual(await store.functions.findVersion(ACCOUNT, 'fn', LATEST), latest);
      await store.functions.saveLatest(next, latest.revisionId);
      assert.deepEqual(await store.functions.findVersion(ACCOUNT, 'fn', LATEST), next);
      const unchecked = aVersion({ code: aCode('v3') });
      await store.functions.saveLatest(unchecked);
      assert.deepEqual(await store.functions.findVersion(ACCOUNT, 'fn', LATEST), unchecked);
      await rejectsWithCode(store.functions.saveLatest(aVersion({ functionName: 'gone' })), 'ERR_STORE_NOT_FOUND');
    });

    test('published version numbers grow and are never reused after deletes', async (t) => {
      const { store } = await openWorld(t);
      await createFunction(store, 'fn');
      assert.deepEqual([(await publish(store, 'fn')).version, (await publish(store, 'fn')).version], ['1', '2']);
      const third = await publish(store, 'fn');
      assert.deepEqual(await store.functions.findVersion(ACCOUNT, 'fn', '3'), third);
      assert.equal(await store.functions.deleteVersion(ACCOUNT, 'fn', '3'), true);
      assert.equal(await store.functions.deleteVersion(ACCOUNT, 'fn', '3'), false);
      assert.equal((await store.functions.findLatestPublished(ACCOUNT, 'fn'))?.version, '2');
      assert.equal((await publish(store, 'fn')).version, '4');
      assert.equal((await store.functions.findFunction(ACCOUNT, 'fn'))?.lastVersionNumber, 4);
    });

    test('publishing against a stale $LATEST revision inserts nothing and spends no number', async (t) => {
      const { store } = await openWorld(t);
      const { latest } = await createFunction(store, 'fn');
      await rejectsWithCode(publish(store, 'fn', 'stale'), 'ERR_STORE_REVISION_MISMATCH');
      assert.equal(await store.functions.findLatestPublished(ACCOUNT, 'fn'), undefined);
      assert.equal((await publish(store, 'fn', latest.revisionId)).version, '1');
      await rejectsWithCode(publish(store, 'missing'), 'ERR_STORE_NOT_FOUND');
    });

    test('a published version keeps the $LATEST revision it was published from', async (t) => {
      const { store } = await openWorld(t);
      const { latest } = await createFunction(store, 'fn');
      const published = await store.functions.publishVersion(ACCOUNT, 'fn', latest.revisionId, (n) =>
        aVersion({ functionName: 'fn', version: String(n), sourceRevisionId: latest.revisionId }),
      );
      assert.equal((await store.functions.findVersion(ACCOUNT, 'fn', published.version))?.sourceRevisionId, latest.revisionId);
      assert.equal((await store.functions.findLatestPublished(ACCOUNT, 'fn'))?.sourceRevisionId, latest.revisionId);
      assert.equal('sourceRevisionId' in ((await store.functions.findVersion(ACCOUNT, 'fn', '$LATEST')) ?? {}), false);
    });

    test('versions are listed $LATEST first, then ascending, in pages', async (t) => {
      const { store } = await openWorld(t);
      await createFunction(store, 'fn');
      for (let i = 0; i < 11; i++) await publish(store, 'fn');
      await store.functions.deleteVersion(ACCOUNT, 'fn', '5');
      const pages = await readAllPages(4, (marker) => store.functions.listVersions(ACCOUNT, 'fn', { marker, limit: 4 }));
      assert.deepEqual(pages.map((p) => p.map((v) => v.version)), [
        [LATEST, '1', '2', '3'],
        ['4', '6', '7', '8'],
        ['9', '10', '11'],
      ]);
    });

    test('updateVersionState sets the state fields and clears the reasons it is not given', async (t) => {
      const { store } = await openWorld(t);
      await createFunction(store, 'fn', { latest: { state: 'Pending', stateReason: 'busy', stateReasonCode: 'Creating' } });
      await store.functions.updateVersionState(ACCOUNT, 'fn', LATEST, { state: 'Active', lastUpdateStatus: 'Successful' });
      const stored = await store.functions.findVersion(ACCOUNT, 'fn', LATEST);
      assert.equal(stored?.state, 'Active');
      assert.equal(stored?.lastUpdateStatus, 'Successful');
      assert.equal('stateReason' in (stored ?? {}), false);
      await rejectsWithCode(store.functions.updateVersionState(ACCOUNT, 'fn', '9', { state: 'Failed' }), 'ERR_STORE_NOT_FOUND');
    });

    test('deleting a version removes the policy of that version only', async (t) => {
      const { store } = await openWorld(t);
      await createFunction(store, 'fn', { publish: true });
      await publish(store, 'fn');
      for (const qualifier of ['', '1', '2']) await store.policies.savePolicy(aPolicy({ qualifier }));
      await store.functions.deleteVersion(ACCOUNT, 'fn', '1');
      assert.equal(await store.policies.findPolicy(ACCOUNT, 'fn', '1'), undefined);
      assert.ok(await store.policies.findPolicy(ACCOUNT, 'fn', ''));
      assert.ok(await store.policies.findPolicy(ACCOUNT, 'fn', '2'));
    });

    test('unsettled versions are those Pending or InProgress, in every account', async (t) => {
      const { store } = await openWorld(t);
      await createFunction(store, 'pending', { latest: { state: 'Pending', lastUpdateStatus: 'InProgress' } });
      await createFunction(store, 'updating', { accountId: OTHER_ACCOUNT, latest: { lastUpdateStatus: 'InProgress' } });
      await createFunction(store, 'settled');
      const unsettled = await store.functions.listUnsettledVersions();
      assert.deepEqual(unsettled.map((v) => [v.accountId, v.functionName]).sort(), [
        [ACCOUNT, 'pending'],
        [OTHER_ACCOUNT, 'updating'],
      ]);
    });

    test('aliases are created once, found, and listed by name in pages', async (t) => {
      const { store } = await openWorld(t);
      await createFunction(store, 'fn', { publish: true });
      for (const name of ['c', 'a', 'b']) await store.aliases.createAlias(anAlias({ name }));
      const weighted = anAlias({ name: 'w', additionalVersionWeights: { '2': 0.25 } });
      await store.aliases.createAlias(weighted);
      assert.deepEqual(await store.aliases.findAlias(ACCOUNT, 'fn', 'w'), weighted);
      await rejectsWithCode(store.aliases.createAlias(anAlias({ name: 'a' })), 'ERR_STORE_CONFLICT');
      await rejectsWithCode(store.aliases.createAlias(anAlias({ functionName: 'missing' })), 'ERR_STORE_NOT_FOUND');
      const pages = await readAllPages(2, (marker) => store.aliases.listAliases(ACCOUNT, 'fn', undefined, { marker, limit: 2 }));
      assert.deepEqual(pages.map((p) => p.map((a) => a.name)), [['a', 'b'], ['c', 'w']]);
    });

    test('aliases filtered by version match the primary or a weighted version', async (t) => {
      const { store } = await openWorld(t);
      await createFunction(store, 'fn');
      await store.aliases.createAlias(anAlias({ name: 'one', functionVersion: '1' }));
      await store.aliases.createAlias(anAlias({ name: 'two', functionVersion: '2' }));
      await store.aliases.createAlias(anAlias({ name: 'canary', functionVersion: '1', additionalVersionWeights: { '2': 0.1 } }));
      const names = async (version: string) =>
        (await store.aliases.listAliases(ACCOUNT, 'fn', version, { limit: 10 })).items.map((a) => a.name);
      assert.deepEqual(await names('1'), ['canary', 'one']);
      assert.deepEqual(await names('2'), ['canary', 'two']);
      assert.deepEqual(await names('3'), []);
    });

    test('saveAlias compares and sets on the revision, and deleteAlias reports whether it existed', async (t) => {
      const { store } = await openWorld(t);
      await createFunction(store, 'fn');
      const alias = anAlias();
      await store.aliases.createAlias(alias);
      const moved = { ...alias, functionVersion: '2', revisionId: randomUUID() };
      await rejectsWithCode(store.aliases.saveAlias(moved, 'stale'), 'ERR_STORE_REVISION_MISMATCH');
      await store.aliases.saveAlias(moved, alias.revisionId);
      assert.deepEqual(await store.aliases.findAlias(ACCOUNT, 'fn', 'live'), moved);
      await rejectsWithCode(store.aliases.saveAlias(anAlias({ name: 'none' })), 'ERR_STORE_NOT_FOUND');
      assert.equal(await store.aliases.deleteAlias(ACCOUNT, 'fn', 'live'), true);
      assert.equal(await store.aliases.deleteAlias(ACCOUNT, 'fn', 'live'), false);
      assert.equal(await store.aliases.findAlias(ACCOUNT, 'fn', 'live'), undefined);
    });

    test('a policy is saved whole per qualifier, compared on revision, and deleted when emptied', async (t) => {
      const { store } = await openWorld(t);
      await createFunction(store, 'fn');
      const policy = aPolicy();
      await rejectsWithCode(store.policies.savePolicy(policy, 'expected-but-absent'), 'ERR_STORE_REVISION_MISMATCH');
      await store.policies.savePolicy(policy);
      await store.policies.savePolicy(aPolicy({ qualifier: 'live' }));
      assert.deepEqual(await store.policies.findPolicy(ACCOUNT, 'fn', ''), policy);
      const grown = { ...policy, statements: [...policy.statements, { Sid: 'second' }], revisionId: randomUUID() };
      await rejectsWithCode(store.policies.savePolicy(grown, 'stale'), 'ERR_STORE_REVISION_MISMATCH');
      await store.policies.savePolicy(grown, policy.revisionId);
      assert.deepEqual(await store.policies.findPolicy(ACCOUNT, 'fn', ''), grown);
      await store.policies.savePolicy({ ...grown, statements: [], revisionId: randomUUID() }, grown.revisionId);
      assert.equal(await store.policies.findPolicy(ACCOUNT, 'fn', ''), undefined);
      assert.ok(await store.policies.findPolicy(ACCOUNT, 'fn', 'live'));
      await rejectsWithCode(store.policies.savePolicy(aPolicy({ functionName: 'missing' })), 'ERR_STORE_NOT_FOUND');
    });

    test('layer versions are numbered per layer, listed newest first, and numbering continues after deletes', async (t) => {
      const { store } = await openWorld(t);
      const build = (layerName: string) => (version: number) => aLayerVersion({ layerName, version, licenseInfo: 'MIT' });
      for (let i = 0; i < 3; i++) await store.layers.publishLayerVersion(ACCOUNT, 'layer', build('layer'));
      assert.equal((await store.layers.publishLayerVersion(ACCOUNT, 'other', build('other'))).version, 1);
      assert.deepEqual(await store.layers.findLayerVersion(ACCOUNT, 'layer', 2), build('layer')(2));
      const pages = await readAllPages(2, (marker) => store.layers.listLayerVersions(ACCOUNT, 'layer', { marker, limit: 2 }));
      assert.deepEqual(pages.map((p) => p.map((v) => v.version)), [[3, 2], [1]]);
      for (const version of [1, 2, 3]) assert.equal(await store.layers.deleteLayerVersion(ACCOUNT, 'layer', version), true);
      assert.equal(await store.layers.deleteLayerVersion(ACCOUNT, 'layer', 3), false);
      assert.deepEqual((await store.layers.listLayerVersions(ACCOUNT, 'layer', { limit: 5 })).items, []);
      assert.equal((await store.layers.publishLayerVersion(ACCOUNT, 'layer', build('layer'))).version, 4);
    });

    test('listLayers gives each layer name its newest version that passes the filter, by name, in pages', async (t) => {
      const { store } = await openWorld(t);
      const publishLayer = (layerName: string, runtime: string) =>
        store.layers.publishLayerVersion(ACCOUNT, layerName, (version) =>
          aLayerVersion({ layerName, version, compatibleRuntimes: [runtime] }),
        );
      await publishLayer('d', 'python3.12');
      for (const name of ['c', 'a', 'b']) {
        await publishLayer(name, 'nodejs20.x');
        await publishLayer(name, 'python3.12');
      }
      await store.layers.publishLayerVersion(OTHER_ACCOUNT, 'a0', (version) => aLayerVersion({ accountId: OTHER_ACCOUNT, layerName: 'a0', version }));
      const entries = (pages: LayerVersion[][]) => pages.map((p) => p.map((v) => `${v.layerName}:${v.version}`));
      const all = await readAllPages(2, (marker) => store.layers.listLayers(ACCOUNT, () => true, { marker, limit: 2 }));
      assert.deepEqual(entries(all), [['a:2', 'b:2'], ['c:2', 'd:1']]);
      const node = (v: LayerVersion) => v.compatibleRuntimes.includes('nodejs20.x');
      const nodeOnly = await readAllPages(2, (marker) => store.layers.listLayers(ACCOUNT, node, { marker, limit: 2 }));
      assert.deepEqual(entries(nodeOnly), [['a:1', 'b:1'], ['c:1']]);
    });

    test('reserved concurrency is summed over the account, optionally excluding one function', async (t) => {
      const { store } = await openWorld(t);
      for (const name of ['a', 'b', 'c']) await createFunction(store, name);
      await createFunction(store, 'a', { accountId: OTHER_ACCOUNT });
      await store.functions.setReservedConcurrency(ACCOUNT, 'a', 10);
      await store.functions.setReservedConcurrency(ACCOUNT, 'b', 20);
      await store.functions.setReservedConcurrency(OTHER_ACCOUNT, 'a', 500);
      assert.equal(await store.functions.sumReservedConcurrency(ACCOUNT), 30);
      assert.equal(await store.functions.sumReservedConcurrency(ACCOUNT, 'b'), 10);
      assert.equal((await store.functions.findFunction(ACCOUNT, 'a'))?.reservedConcurrency, 10);
      await store.functions.setReservedConcurrency(ACCOUNT, 'a', undefined);
      assert.equal(await store.functions.sumReservedConcurrency(ACCOUNT), 20);
      assert.equal('reservedConcurrency' in ((await store.functions.findFunction(ACCOUNT, 'a')) ?? {}), false);
      await rejectsWithCode(store.functions.setReservedConcurrency(ACCOUNT, 'missing', 1), 'ERR_STORE_NOT_FOUND');
    });

    test('listReservations names the reserved functions with the largest MemorySize among their versions', async (t) => {
      const { store } = await openWorld(t);
      const settings = (memorySizeMb: number) => ({ settings: { ...someSettings(), memorySizeMb } });
      await createFunction(store, 'a', { latest: settings(256), publish: true });
      await createFunction(store, 'b', { latest: settings(128) });
      await createFunction(store, 'a', { accountId: OTHER_ACCOUNT });
      await store.functions.setReservedConcurrency(ACCOUNT, 'a', 5);
      await store.functions.setReservedConcurrency(OTHER_ACCOUNT, 'a', 7);
      await store.functions.saveLatest(aVersion({ functionName: 'a', ...settings(1024) }));
      assert.deepEqual(await store.functions.listReservations(ACCOUNT), [{ functionName: 'a', reservedConcurrency: 5, memorySizeMb: 1024 }]);
      await store.functions.setReservedConcurrency(ACCOUNT, 'b', 0);
      assert.deepEqual(
        (await store.functions.listReservations(ACCOUNT)).map((r) => [r.functionName, r.reservedConcurrency, r.memorySizeMb]),
        [['a', 5, 1024], ['b', 0, 128]],
      );
    });

    test('listReservations read after every kind of write sees that write (nothing stale is served)', async (t) => {
      const { store } = await openWorld(t);
      const settings = (memorySizeMb: number) => ({ settings: { ...someSettings(), memorySizeMb } });
      const read = async () => (await store.functions.listReservations(ACCOUNT)).map((r) => `${r.functionName}:${r.reservedConcurrency}:${r.memorySizeMb}`);
      await createFunction(store, 'a', { latest: settings(256) });
      assert.deepEqual(await read(), []);
      await store.functions.setReservedConcurrency(ACCOUNT, 'a', 3);
      assert.deepEqual(await read(), ['a:3:256']);
      const mutated = await store.functions.listReservations(ACCOUNT);
      mutated[0]!.reservedConcurrency = 99;
      assert.deepEqual(await read(), ['a:3:256'], 'a caller changing its copy changes nothing');
      await store.functions.saveLatest(aVersion({ functionName: 'a', ...settings(512) }));
      assert.deepEqual(await read(), ['a:3:512']);
      await store.functions.setReservedConcurrency(ACCOUNT, 'a', undefined);
      assert.deepEqual(await read(), []);
      await store.functions.setReservedConcurrency(ACCOUNT, 'a', 1);
      assert.deepEqual(await read(), ['a:1:512']);
      await store.functions.deleteFunction(ACCOUNT, 'a');
      assert.deepEqual(await read(), []);
    });

    test('setTags replaces the whole tag map of a function', async (t) => {
      const { store } = await openWorld(t);
      await createFunction(store, 'fn');
      await store.functions.setTags(ACCOUNT, 'fn', { team: 'a', env: 'dev' });
      await store.functions.setTags(ACCOUNT, 'fn', { team: 'b' });
      assert.deepEqual((await store.functions.findFunction(ACCOUNT, 'fn'))?.tags, { team: 'b' });
      await rejectsWithCode(store.functions.setTags(ACCOUNT, 'missing', {}), 'ERR_STORE_NOT_FOUND');
    });

    test('counts and total code size cover only the asked account', async (t) => {
      const { store } = await openWorld(t);
      await createFunction(store, 'a', { latest: { code: aCode('a', 1000) }, publish: true });
      await createFunction(store, 'b', { latest: { code: aCode('b', 10) } });
      await createFunction(store, 'a', { accountId: OTHER_ACCOUNT, latest: { code: aCode('x', 99_999) } });
      await store.layers.publishLayerVersion(ACCOUNT, 'layer', (version) => aLayerVersion({ version, code: aCode('l', 5) }));
      assert.equal(await store.functions.countFunctions(ACCOUNT), 2);
      assert.equal(await store.functions.countFunctions('333333333333'), 0);
      assert.equal(await store.functions.totalCodeSize(ACCOUNT), 1000 + 1000 + 10 + 5);
      assert.equal(await store.functions.totalCodeSize('333333333333'), 0);
    });

    test('referenced code digests are those of every function and layer version, and drop with them', async (t) => {
      const { store } = await openWorld(t);
      await createFunction(store, 'fn', { latest: { code: aCode('latest') }, publish: true });
      await createFunction(store, 'fn', { accountId: OTHER_ACCOUNT, latest: { code: aCode('other') } });
      await store.layers.publishLayerVersion(ACCOUNT, 'layer', (version) => aLayerVersion({ version, code: aCode('layer') }));
      const expected = ['latest', 'other', 'layer'].map(digestOf);
      assert.deepEqual(await store.references.referencedCodeDigests(), new Set(expected));
      await store.functions.deleteFunction(OTHER_ACCOUNT, 'fn');
      await store.layers.deleteLayerVersion(ACCOUNT, 'layer', 1);
      assert.deepEqual(await store.references.referencedCodeDigests(), new Set([digestOf('latest')]));
    });

    test('referenced layer lists are the distinct ordered digest lists of function versions, without empty ones', async (t) => {
      const { store } = await openWorld(t);
      const layer = (seed: string) => ({ arn: `arn:aws:lambda:us-east-1:${ACCOUNT}:layer:${seed}:1`, codeSizeBytes: 1, codeSha256Hex: digestOf(seed), unzippedBytes: 1 });
      const withLayers = (...seeds: string[]) => ({ latest: { settings: someSettings({ layers: seeds.map(layer) }) } });
      await createFunction(store, 'ab', { ...withLayers('a', 'b'), publish: true });
      await createFunction(store, 'ba', withLayers('b', 'a'));
      await createFunction(store, 'none', withLayers());
      const lists = await store.references.referencedLayerLists();
      const expected = [[digestOf('a'), digestOf('b')], [digestOf('b'), digestOf('a')]];
      assert.deepEqual([...lists].sort(), [...expected].sort());
    });

    test('committed rows survive closing and reopening the store', async (t) => {
      const { store, reopen } = await openWorld(t);
      const { fn, latest } = await createFunction(store, 'fn');
      const version = await publish(store, 'fn');
      await store.aliases.createAlias(anAlias());
      await store.layers.publishLayerVersion(ACCOUNT, 'layer', (v) => aLayerVersion({ version: v }));
      await store.layers.deleteLayerVersion(ACCOUNT, 'layer', 1);
      await store.close();
      await store.close();
      await rejectsWithCode(store.functions.findFunction(ACCOUNT, 'fn'), 'ERR_STORE_IO');
      const again = await reopen();
      assert.deepEqual(await again.functions.findFunction(ACCOUNT, 'fn'), { ...fn, lastVersionNumber: 1 });
      assert.deepEqual(await again.functions.findVersion(ACCOUNT, 'fn', LATEST), latest);
      assert.deepEqual(await again.functions.findVersion(ACCOUNT, 'fn', '1'), version);
      assert.ok(await again.aliases.findAlias(ACCOUNT, 'fn', 'live'));
      assert.equal((await again.layers.publishLayerVersion(ACCOUNT, 'layer', (v) => aLayerVersion({ version: v }))).version, 2);
    });

    test('the same names under two accounts do not see each other', async (t) => {
      const { store } = await openWorld(t);
      await createFunction(store, 'fn', { accountId: OTHER_ACCOUNT });
      assert.equal(await store.functions.findFunction(ACCOUNT, 'fn'), undefined);
      await createFunction(store, 'fn');
      await store.aliases.createAlias(anAlias({ accountId: OTHER_ACCOUNT }));
      await store.policies.savePolicy(aPolicy({ accountId: OTHER_ACCOUNT }));
      await store.layers.publishLayerVersion(OTHER_ACCOUNT, 'layer', (version) => aLayerVersion({ accountId: OTHER_ACCOUNT, version }));
      assert.equal((await publish(store, 'fn')).version, '1');
      assert.equal(await store.aliases.findAlias(ACCOUNT, 'fn', 'live'), undefined);
      assert.equal(await store.policies.findPolicy(ACCOUNT, 'fn', ''), undefined);
      assert.deepEqual((await store.layers.listLayers(ACCOUNT, () => true, { limit: 10 })).items, []);
      assert.deepEqual((await store.functions.listFunctions(OTHER_ACCOUNT, { limit: 10 })).items.map((f) => f.accountId), [OTHER_ACCOUNT]);
      assert.equal(await store.functions.deleteFunction(ACCOUNT, 'fn'), true);
      assert.ok(await store.aliases.findAlias(OTHER_ACCOUNT, 'fn', 'live'));
      assert.ok(await store.functions.findVersion(OTHER_ACCOUNT, 'fn', LATEST));
    });
  });
}
