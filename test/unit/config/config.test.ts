import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CONFIG_KEYS, ConfigError, defaultConcurrentStarts, loadConfig } from '../../../src/config/config.js';

const CWD = '/srv/app';
const CONFIG_DOC = fileURLToPath(new URL('../../../docs/config.md', import.meta.url));

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    assert.equal(error.code, 'ERR_CONFIG_INVALID');
    return error.problems;
  }
  assert.fail('expected loadConfig to throw');
}

test('with an empty environment every setting takes its documented default', () => {
  const config = loadConfig({}, {}, CWD, () => ({ totalMb: 16384 }));
  assert.deepEqual({ ...config }, {
    host: '127.0.0.1',
    port: 9000,
    dataDir: join(CWD, '.kindling'),
    region: 'us-east-1',
    accountId: '000000000000',
    concurrencyLimit: 1000,
    auth: 'sigv4',
    logLevel: 'info',
    sandbox: 'bubblewrap',
    uidRange: [200000, 299999],
    initTimeoutMs: 10000,
    logMaxBytesPerFunction: 100 * 1024 * 1024,
    keepAliveMs: 600000,
    maxMemoryMb: 13107,
    placementWaitMs: 10000,
    freezeIdle: true,
    asyncQueueMaxBytes: 512 * 1024 * 1024,
    asyncMaxParallel: 32,
    asyncRetryDelaysMs: [60000, 120000],
    maxConcurrentStarts: defaultConcurrentStarts(),
    prewarmPerKey: 1,
    prewarmMaxKeys: 8,
  });
});

test('KINDLING_MAX_CONCURRENT_STARTS defaults to two per core and is bounded', () => {
  assert.ok(defaultConcurrentStarts() >= 2);
  assert.equal(loadConfig({ KINDLING_MAX_CONCURRENT_STARTS: '3' }, {}, CWD).maxConcurrentStarts, 3);
  assert.throws(() => loadConfig({ KINDLING_MAX_CONCURRENT_STARTS: '0' }, {}, CWD), /KINDLING_MAX_CONCURRENT_STARTS="0"/);
});

test('KINDLING_PREWARM and KINDLING_PREWARM_KEYS are read and bounded', () => {
  const config = loadConfig({ KINDLING_PREWARM: '0', KINDLING_PREWARM_KEYS: '3' }, {}, '/srv/app');
  assert.equal(config.prewarmPerKey, 0);
  assert.equal(config.prewarmMaxKeys, 3);
  assert.throws(() => loadConfig({ KINDLING_PREWARM: '17', KINDLING_PREWARM_KEYS: '0' }, {}, '/srv/app'), (error: Error) => {
    assert.match(error.message, /KINDLING_PREWARM="17"/);
    assert.match(error.message, /KINDLING_PREWARM_KEYS="0"/);
    return true;
  });
});

test('the async settings are read and checked, every problem at once', () => {
  const config = loadConfig({ KINDLING_ASYNC_QUEUE_MAX_MB: '2', KINDLING_ASYNC_MAX_PARALLEL: '4', KINDLING_ASYNC_RETRY_DELAYS_MS: '100,200,300' }, {}, CWD);
  assert.deepEqual([config.asyncQueueMaxBytes, config.asyncMaxParallel, config.asyncRetryDelaysMs], [2 * 1024 * 1024, 4, [100, 200, 300]]);
  const problems = problemsOf(() =>
    loadConfig({ KINDLING_ASYNC_QUEUE_MAX_MB: '0', KINDLING_ASYNC_MAX_PARALLEL: 'x', KINDLING_ASYNC_RETRY_DELAYS_MS: '1,,2' }, {}, CWD),
  );
  assert.equal(problems.length, 3);
  assert.match(problems[2] ?? '', /^KINDLING_ASYNC_RETRY_DELAYS_MS="1,,2": expected comma-separated delays/);
  assert.match(problemsOf(() => loadConfig({ KINDLING_ASYNC_RETRY_DELAYS_MS: '86400001' }, {}, CWD))[0] ?? '', /at most 86400000/);
});

test('the execution settings are read and checked, every problem at once', () => {
  const config = loadConfig(
    { KINDLING_SANDBOX: 'process', KINDLING_UID_RANGE: '300000-300010', KINDLING_INIT_TIMEOUT_MS: '500', KINDLING_LOG_MAX_MB: '5', KINDLING_FREEZE_IDLE: 'false' },
    {},
    CWD,
  );
  assert.deepEqual(
    [config.sandbox, config.uidRange, config.initTimeoutMs, config.logMaxBytesPerFunction, config.freezeIdle],
    ['process', [300000, 300010], 500, 5 * 1024 * 1024, false],
  );
  assert.throws(
    () => loadConfig({ KINDLING_SANDBOX: 'docker', KINDLING_UID_RANGE: '0-10', KINDLING_FREEZE_IDLE: 'yes', KINDLING_INIT_TIMEOUT_MS: '5' }, {}, CWD),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.problems.length, 4, error.problems.join('\n'));
      assert.match(error.problems.join('\n'), /KINDLING_UID_RANGE.*never root/);
      return true;
    },
  );
});

test('a relative data directory is resolved against the working directory', () => {
  assert.equal(loadConfig({ KINDLING_DATA_DIR: 'state/here' }, {}, CWD).dataDir, join(CWD, 'state/here'));
  assert.equal(loadConfig({ KINDLING_DATA_DIR: '/var/lib/kindling' }, {}, CWD).dataDir, '/var/lib/kindling');
});

test('environment values replace the defaults', () => {
  const config = loadConfig(
    {
      KINDLING_HOST: '::1',
      KINDLING_PORT: '0',
      KINDLING_REGION: 'us-gov-west-1',
      KINDLING_ACCOUNT_ID: '123456789012',
      KINDLING_CONCURRENCY_LIMIT: '250',
      KINDLING_LOG_LEVEL: 'debug',
    },
    {},
    CWD,
  );
  assert.equal(config.host, '::1');
  assert.equal(config.port, 0);
  assert.equal(config.region, 'us-gov-west-1');
  assert.equal(config.accountId, '123456789012');
  assert.equal(config.concurrencyLimit, 250);
  assert.equal(config.logLevel, 'debug');
});

test('flags win over the environment', () => {
  const config = loadConfig(
    { KINDLING_HOST: '10.0.0.1', KINDLING_PORT: '8000', KINDLING_DATA_DIR: '/from/env' },
    { host: '127.0.0.2', port: '7000', dataDir: '/from/flag' },
    CWD,
  );
  assert.equal(config.host, '127.0.0.2');
  assert.equal(config.port, 7000);
  assert.equal(config.dataDir, '/from/flag');
});

test('every invalid value is reported in one error, each as its own problem', () => {
  const problems = problemsOf(() =>
    loadConfig(
      {
        KINDLING_PORT: '70000',
        KINDLING_REGION: 'mars',
        KINDLING_ACCOUNT_ID: '12',
        KINDLING_CONCURRENCY_LIMIT: 'lots',
        KINDLING_LOG_LEVEL: 'loud',
      },
      {},
      CWD,
    ),
  );
  assert.equal(problems.length, 5, problems.join('\n'));
  for (const needle of ['70000', 'mars', '"12"', 'lots', 'loud']) {
    assert.ok(problems.some((p) => p.includes(needle)), `no problem mentions ${needle}: ${problems.join(' | ')}`);
  }
});

test('ports and limits must be whole numbers in range', () => {
  for (const port of ['-1', '1.5', '65536', '9000abc', ' 9000']) {
    assert.equal(problemsOf(() => loadConfig({ KINDLING_PORT: port }, {}, CWD)).length, 1, port);
  }
  assert.equal(loadConfig({ KINDLING_PORT: '65535' }, {}, CWD).port, 65535);
  assert.equal(problemsOf(() => loadConfig({ KINDLING_CONCURRENCY_LIMIT: '99' }, {}, CWD)).length, 1);
});

test('an unknown auth mode is refused', () => {
  const problems = problemsOf(() => loadConfig({ KINDLING_AUTH: 'basic' }, {}, CWD));
  assert.match(problems.join('\n'), /KINDLING_AUTH="basic"/);
});

test('auth none is refused on a host that is not loopback', () => {
  for (const host of ['0.0.0.0', '::', '192.168.1.10', 'example.com']) {
    const problems = problemsOf(() => loadConfig({ KINDLING_AUTH: 'none', KINDLING_HOST: host }, {}, CWD));
    assert.match(problems.join('\n'), /KINDLING_AUTH=none/, host);
  }
  assert.equal(problemsOf(() => loadConfig({ KINDLING_AUTH: 'none' }, { host: '0.0.0.0' }, CWD)).length, 1);
});

test('auth none is accepted on loopback hosts', () => {
  for (const host of ['127.0.0.1', '::1', 'localhost']) {
    assert.equal(loadConfig({ KINDLING_AUTH: 'none', KINDLING_HOST: host }, {}, CWD).auth, 'none', host);
  }
});

test('an access key id without a secret, or a secret without a key, is refused', () => {
  assert.match(problemsOf(() => loadConfig({ KINDLING_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE' }, {}, CWD)).join('\n'), /set together/);
  assert.match(problemsOf(() => loadConfig({ KINDLING_SECRET_ACCESS_KEY: 'secret' }, {}, CWD)).join('\n'), /set together/);
});

test('a key pair given together is kept', () => {
  const config = loadConfig({ KINDLING_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE', KINDLING_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG' }, {}, CWD);
  assert.equal(config.accessKeyId, 'AKIAIOSFODNN7EXAMPLE');
  assert.equal(config.secretAccessKey, 'wJalrXUtnFEMI/K7MDENG');
});

test('the returned configuration is frozen', () => {
  const config = loadConfig({}, {}, CWD);
  assert.equal(Object.isFrozen(config), true);
  assert.throws(() => {
    (config as { port: number }).port = 1;
  }, TypeError);
});

test('docs/config.md documents every key Kindling reads, and only those', () => {
  assert.ok(
    existsSync(CONFIG_DOC),
    `docs/config.md does not exist yet: the lead writes it; it must mention every one of ${CONFIG_KEYS.join(', ')}`,
  );
  const doc = readFileSync(CONFIG_DOC, 'utf8');
  const missing = CONFIG_KEYS.filter((key) => !doc.includes(key));
  assert.deepEqual(missing, [], `docs/config.md does not mention: ${missing.join(', ')}`);
  const known = new Set<string>(CONFIG_KEYS);
  const unknown = [...new Set(doc.match(/KINDLING_[A-Z_]+/g) ?? [])].filter((key) => !known.has(key));
  assert.deepEqual(unknown, [], `docs/config.md mentions keys that src/config/config.ts does not read: ${unknown.join(', ')}`);
});
