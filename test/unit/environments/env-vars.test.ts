import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildEnvironmentVariables, nodeHeapFlags } from '../../../src/environments/env-vars.js';
import { initTimedOut, responseTooLarge, runtimeExited, timedOut } from '../../../src/environments/function-errors.js';
import type { FunctionVersion } from '../../../src/model/function.js';
import { findRuntime } from '../../../src/model/runtimes.js';
import { aFunctionVersion } from '../../support/function-version.js';

function version(overrides: Partial<FunctionVersion['settings']> = {}, v = '$LATEST'): FunctionVersion {
  return aFunctionVersion(overrides, { version: v });
}

const ctx = { region: 'eu-west-1', logStreamName: '2026/11/29/[$LATEST]abc', runtimeApi: '127.0.0.1:9001', initializationType: 'on-demand' as const };

test('the runtime environment holds exactly the Lambda variables and no credentials', () => {
  const env = buildEnvironmentVariables(version({ environment: { CUSTOM: '1' } }), findRuntime('nodejs20.x')!, ctx);
  assert.equal(env._HANDLER, 'index.handler');
  assert.equal(env.AWS_REGION, 'eu-west-1');
  assert.equal(env.AWS_DEFAULT_REGION, 'eu-west-1');
  assert.equal(env.AWS_EXECUTION_ENV, 'AWS_Lambda_nodejs20.x');
  assert.equal(env.AWS_LAMBDA_FUNCTION_NAME, 'fn');
  assert.equal(env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE, '256');
  assert.equal(env.AWS_LAMBDA_FUNCTION_VERSION, '$LATEST');
  assert.equal(env.AWS_LAMBDA_INITIALIZATION_TYPE, 'on-demand');
  assert.equal(env.AWS_LAMBDA_LOG_GROUP_NAME, '/aws/lambda/fn');
  assert.equal(env.AWS_LAMBDA_LOG_STREAM_NAME, '2026/11/29/[$LATEST]abc');
  assert.equal(env.AWS_LAMBDA_RUNTIME_API, '127.0.0.1:9001');
  assert.equal(env.LAMBDA_TASK_ROOT, '/var/task');
  assert.equal(env.LAMBDA_RUNTIME_DIR, '/var/runtime');
  assert.equal(env.TZ, ':UTC');
  assert.equal(env.CUSTOM, '1');
  assert.match(env.NODE_PATH!, /^\/opt\/nodejs\/node20\/node_modules:\/opt\/nodejs\/node_modules:/);
  for (const secret of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'HOME', 'KINDLING_DATA_DIR']) {
    assert.equal(env[secret], undefined, secret);
  }
  assert.equal(env.AWS_LAMBDA_LOG_FORMAT, undefined);
});

test('custom runtimes get no AWS_EXECUTION_ENV; python gets the layer paths; JSON logging sets the format and level', () => {
  const custom = buildEnvironmentVariables(version({ runtime: 'provided.al2023' }), findRuntime('provided.al2023')!, ctx);
  assert.equal(custom.AWS_EXECUTION_ENV, undefined);
  const py = buildEnvironmentVariables(version({ runtime: 'python3.11' }), findRuntime('python3.11')!, ctx);
  assert.equal(py.PYTHONPATH, '/var/runtime:/opt/python/lib/python3.11/site-packages:/opt/python');
  const json = buildEnvironmentVariables(
    version({ loggingConfig: { logFormat: 'JSON', applicationLogLevel: 'DEBUG', systemLogLevel: 'INFO', logGroup: '/x' } }),
    findRuntime('nodejs20.x')!,
    ctx,
  );
  assert.deepEqual([json.AWS_LAMBDA_LOG_FORMAT, json.AWS_LAMBDA_LOG_LEVEL, json.AWS_LAMBDA_LOG_GROUP_NAME], ['JSON', 'DEBUG', '/x']);
});

test("a function's own NODE_PATH wins over the runtime default, but platform keys always win", () => {
  const env = buildEnvironmentVariables(version({ environment: { NODE_PATH: '/mine' } }), findRuntime('nodejs20.x')!, ctx);
  assert.equal(env.NODE_PATH, '/mine');
});

test('heap flags follow MemorySize unless NODE_OPTIONS sets them', () => {
  assert.deepEqual(nodeHeapFlags(1769, undefined), ['--max-semi-space-size=27', '--max-old-space-size=1592']);
  assert.deepEqual(nodeHeapFlags(128, '--enable-source-maps'), ['--max-semi-space-size=2', '--max-old-space-size=115']);
  assert.deepEqual(nodeHeapFlags(128, '--max-old-space-size=90'), []);
});

test('platform error documents carry Lambda texts', () => {
  assert.deepEqual(JSON.parse(timedOut('id1', 3000).payload.toString()), {
    errorType: 'Sandbox.Timedout',
    errorMessage: 'RequestId: id1 Error: Task timed out after 3.00 seconds',
  });
  assert.equal(JSON.parse(runtimeExited('i', { code: 1, signal: null, oomKilled: false }).payload.toString()).errorMessage, 'RequestId: i Error: Runtime exited with error: exit status 1');
  assert.equal(runtimeExited('i', { code: null, signal: 'SIGKILL', oomKilled: true }).errorType, 'Runtime.OutOfMemory');
  assert.equal(JSON.parse(runtimeExited('i', { code: null, signal: 'SIGSEGV', oomKilled: false }).payload.toString()).errorMessage, 'RequestId: i Error: Runtime exited with error: signal: segmentation fault');
  assert.equal(JSON.parse(runtimeExited('i', { code: 0, signal: null, oomKilled: false }).payload.toString()).errorMessage, 'RequestId: i Error: Runtime exited without providing a reason');
  assert.equal(responseTooLarge(6291556).errorType, 'Function.ResponseSizeTooLarge');
  assert.equal(initTimedOut('i', 10000).errorType, 'Sandbox.Timedout');
});
