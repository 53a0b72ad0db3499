import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildSpareEnvironment } from '../../../src/environments/env-vars.js';
import { spareKeyOf } from '../../../src/environments/spare-key.js';
import type { FunctionVersion } from '../../../src/model/function.js';
import { findRuntime } from '../../../src/model/runtimes.js';
import { aFunctionVersion } from '../../support/function-version.js';

const version = aFunctionVersion;

function keyId(v: FunctionVersion): string {
  const key = spareKeyOf(v);
  return 'ineligible' in key ? `ineligible: ${key.ineligible}` : key.id;
}

test('the spare key is runtime, memory and /tmp size; everything else of a function may differ', () => {
  assert.equal(keyId(version()), 'nodejs20.x/256/512');
  assert.equal(keyId(version({ runtime: 'python3.11', handler: 'app.handler' })), 'python3.11/256/512');
  assert.equal(keyId(version({ memorySizeMb: 1769, ephemeralStorageMb: 1024 })), 'nodejs20.x/1769/1024');
  const other = version({ handler: 'x.y', timeoutSeconds: 60, environment: { NODE_ENV: 'production', SECRET: 's', PATH: '/x', TZ: 'Europe/Paris' } });
  assert.equal(keyId(other), 'nodejs20.x/256/512', 'NODE_ENV, PATH, TZ and user variables are read at run time');
});

test('custom runtimes and variables read when the runtime process starts keep a function on cold starts', () => {
  assert.match(keyId(version({ runtime: 'provided.al2023' })), /^ineligible: runtime provided.al2023/);
  assert.match(keyId(version({ runtime: 'provided.al2' })), /^ineligible/);
  for (const name of ['NODE_OPTIONS', 'NODE_PATH', 'NODE_EXTRA_CA_CERTS', 'UV_THREADPOOL_SIZE', 'PYTHONPATH', 'PYTHONHASHSEED', 'LD_PRELOAD', 'LD_LIBRARY_PATH', 'MALLOC_ARENA_MAX', 'GLIBC_TUNABLES', 'LANG', 'LC_ALL', 'OPENSSL_CONF', 'AWS_LAMBDA_EXEC_WRAPPER']) {
    assert.equal(keyId(version({ environment: { [name]: 'x' } })), `ineligible: ${name} is read when the runtime starts`, name);
  }
});

test('a spare starts with the runtime\'s own variables and nothing of a function', () => {
  const env = buildSpareEnvironment(findRuntime('nodejs20.x')!, { runtimeApi: '127.0.0.1:9001', runtimeApiSocketInside: '/run/rapi/rapi.sock' });
  assert.deepEqual(Object.keys(env).sort(), [
    'AWS_EXECUTION_ENV', 'AWS_LAMBDA_RUNTIME_API', 'LAMBDA_RUNTIME_DIR', 'LAMBDA_TASK_ROOT', 'LANG', 'LD_LIBRARY_PATH', 'NODE_PATH', 'PATH', 'TZ',
    '_KINDLING_BINDING', '_KINDLING_RUNTIME_API_SOCKET',
  ]);
  assert.equal(env._KINDLING_BINDING, '1');
  assert.equal(env._KINDLING_RUNTIME_API_SOCKET, '/run/rapi/rapi.sock');
});
