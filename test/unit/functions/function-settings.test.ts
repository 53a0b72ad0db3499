import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FunctionsError } from '../../../src/functions/errors.js';
import {
  checkArchitectures,
  checkEnvironment,
  checkRuntime,
  hostArchitecture,
  resolveSettings,
  RESERVED_ENVIRONMENT_KEYS,
  type SettingsInput,
} from '../../../src/functions/function-settings.js';
import type { Architecture } from '../../../src/model/function.js';
import { MAX_ENVIRONMENT_BYTES } from '../../../src/model/limits.js';

const BASE: SettingsInput = { runtime: 'nodejs20.x', handler: 'index.handler', role: 'arn:aws:iam::000000000000:role/r' };

function expectCode(code: string, fn: () => unknown, message?: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof FunctionsError, `expected a FunctionsError, got ${String(error)}`);
    assert.equal(error.code, code);
    if (message) assert.match(error.message, message);
    return true;
  });
}

/** Variables whose JSON text is exactly `bytes` long: {"K":"vvv…"} is 8 bytes of framing plus the value. */
function envOfSize(bytes: number): Record<string, string> {
  const variables = { K1: 'v'.repeat(bytes - '{"K1":""}'.length) };
  assert.equal(Buffer.byteLength(JSON.stringify(variables)), bytes);
  return variables;
}

test('a new function gets AWS defaults for everything it does not set', () => {
  const settings = resolveSettings('my-fn', BASE, undefined);
  assert.deepEqual(settings, {
    runtime: 'nodejs20.x',
    handler: 'index.handler',
    role: BASE.role,
    description: '',
    timeoutSeconds: 3,
    memorySizeMb: 128,
    architectures: [hostArchitecture()],
    ephemeralStorageMb: 512,
    tracingMode: 'PassThrough',
    loggingConfig: { logFormat: 'Text', logGroup: '/aws/lambda/my-fn' },
    snapStartApplyOn: 'None',
  });
});

test('a new function without environment variables has no environment, one with none set has an empty one', () => {
  assert.equal(Object.hasOwn(resolveSettings('f', BASE, undefined), 'environment'), false);
  assert.deepEqual(resolveSettings('f', { ...BASE, environment: {} }, undefined).environment, {});
  assert.deepEqual(resolveSettings('f', { ...BASE, environment: { A1: 'x' } }, undefined).environment, { A1: 'x' });
});

test('an update keeps every field it does not name', () => {
  const current = resolveSettings(
    'f',
    {
      ...BASE,
      description: 'd',
      timeoutSeconds: 30,
      memorySizeMb: 512,
      environment: { STAGE: 'prod' },
      ephemeralStorageMb: 1024,
      tracingMode: 'Active',
      deadLetterTargetArn: 'arn:aws:sqs:us-east-1:000000000000:dlq',
      kmsKeyArn: 'arn:aws:kms:us-east-1:000000000000:key/k',
      loggingConfig: { logFormat: 'JSON', applicationLogLevel: 'DEBUG', systemLogLevel: 'WARN', logGroup: '/custom' },
      snapStartApplyOn: 'PublishedVersions',
    },
    undefined,
  );
  const updated = resolveSettings('f', { timeoutSeconds: 60 }, current);
  assert.deepEqual(updated, { ...current, timeoutSeconds: 60 });
});

test('an update that names a field replaces only that field', () => {
  const current = resolveSettings('f', { ...BASE, environment: { A1: 'x' } }, undefined);
  assert.deepEqual(resolveSettings('f', { environment: { B2: 'y' } }, current).environment, { B2: 'y' });
  assert.deepEqual(resolveSettings('f', { environment: {} }, current).environment, {});
  assert.equal(resolveSettings('f', { handler: 'other.handler' }, current).handler, 'other.handler');
});

test('an empty dead-letter target or KMS key removes it', () => {
  const current = resolveSettings('f', { ...BASE, deadLetterTargetArn: 'arn:aws:sqs:us-east-1:000000000000:q', kmsKeyArn: 'arn:k' }, undefined);
  const updated = resolveSettings('f', { deadLetterTargetArn: '', kmsKeyArn: '' }, current);
  assert.equal(Object.hasOwn(updated, 'deadLetterTargetArn'), false);
  assert.equal(Object.hasOwn(updated, 'kmsKeyArn'), false);
});

test('the JSON log format defaults both log levels to INFO', () => {
  const settings = resolveSettings('f', { ...BASE, loggingConfig: { logFormat: 'JSON' } }, undefined);
  assert.deepEqual(settings.loggingConfig, { logFormat: 'JSON', logGroup: '/aws/lambda/f', applicationLogLevel: 'INFO', systemLogLevel: 'INFO' });
});

test('log levels with the Text format are refused', () => {
  expectCode('ERR_INVALID_PARAMETER', () => resolveSettings('f', { ...BASE, loggingConfig: { applicationLogLevel: 'DEBUG' } }, undefined));
  expectCode('ERR_INVALID_PARAMETER', () => resolveSettings('f', { ...BASE, loggingConfig: { logFormat: 'Text', systemLogLevel: 'WARN' } }, undefined));
});

test('switching a function from JSON to Text logs drops the log levels, which only JSON has', () => {
  const current = resolveSettings('f', { ...BASE, loggingConfig: { logFormat: 'JSON', applicationLogLevel: 'DEBUG' } }, undefined);
  const updated = resolveSettings('f', { loggingConfig: { logFormat: 'Text' } }, current);
  assert.deepEqual(updated.loggingConfig, { logFormat: 'Text', logGroup: '/aws/lambda/f' });
});

test('the Image package type is refused', () => {
  expectCode('ERR_INVALID_PARAMETER', () => resolveSettings('f', { ...BASE, packageType: 'Image' }, undefined), /Image/);
  assert.equal(resolveSettings('f', { ...BASE, packageType: 'Zip' }, undefined).runtime, 'nodejs20.x');
});

test('a new function needs both a runtime and a handler', () => {
  expectCode('ERR_INVALID_PARAMETER', () => resolveSettings('f', { handler: 'index.handler' }, undefined), /Runtime and Handler are mandatory/);
  expectCode('ERR_INVALID_PARAMETER', () => resolveSettings('f', { runtime: 'nodejs20.x' }, undefined), /Runtime and Handler are mandatory/);
});

test('a deprecated runtime is refused as AWS refuses it', () => {
  expectCode('ERR_INVALID_PARAMETER', () => checkRuntime('nodejs16.x'), /The runtime parameter of nodejs16\.x is no longer supported/);
  expectCode('ERR_INVALID_PARAMETER', () => resolveSettings('f', { ...BASE, runtime: 'python3.7' }, undefined), /python3\.7/);
});

test('a runtime AWS does not know fails model validation', () => {
  expectCode('ERR_VALIDATION', () => checkRuntime('cobol1.0'), /^1 validation error detected: Value 'cobol1\.0' at 'runtime' failed to satisfy constraint/);
});

test('a runtime AWS knows but this server does not serve is refused by name', () => {
  expectCode('ERR_INVALID_PARAMETER', () => checkRuntime('java21'), /java21/);
  expectCode('ERR_INVALID_PARAMETER', () => checkRuntime('nodejs22.x'), /nodejs22\.x/);
});

test('the runtimes this server serves pass', () => {
  for (const runtime of ['nodejs20.x', 'python3.11', 'provided.al2023', 'provided.al2']) checkRuntime(runtime);
});

test('reserved environment keys are refused and each is named in the message', () => {
  assert.ok(RESERVED_ENVIRONMENT_KEYS.has('AWS_REGION'));
  expectCode(
    'ERR_INVALID_PARAMETER',
    () => checkEnvironment({ OK_KEY: '1', AWS_REGION: 'x', AWS_LAMBDA_FUNCTION_NAME: 'y' }),
    /Reserved keys used in this request: AWS_REGION, AWS_LAMBDA_FUNCTION_NAME$/,
  );
  expectCode('ERR_INVALID_PARAMETER', () => resolveSettings('f', { ...BASE, environment: { _HANDLER: 'x' } }, undefined), /_HANDLER/);
});

test('environment variables of exactly 4 KB pass and one byte more fails', () => {
  assert.equal(MAX_ENVIRONMENT_BYTES, 4096);
  checkEnvironment(envOfSize(4096));
  expectCode('ERR_INVALID_PARAMETER', () => checkEnvironment(envOfSize(4097)), /exceeded the 4KB limit\. String measured: \{"K1":"v+"\}$/);
});

test('the 4 KB limit counts bytes, not characters', () => {
  // 'é' is two bytes in UTF-8: 2048 of them plus framing are over 4096 bytes though under 4096 characters.
  expectCode('ERR_INVALID_PARAMETER', () => checkEnvironment({ K1: 'é'.repeat(2048) }), /4KB limit/);
});

test('environment keys must start with a letter and hold only letters, digits and underscores', () => {
  for (const key of ['1ABC', '_A', 'A-B', 'A B', 'Ä1', '']) {
    expectCode('ERR_VALIDATION', () => checkEnvironment({ [key]: 'v' }), /\[a-zA-Z\]\(\[a-zA-Z0-9_\]\)\+/);
  }
  checkEnvironment({ a1: 'v', Z_9: 'v', LONG_NAME_1: 'v' });
});

test('a one-character environment key is refused, as the model pattern needs two or more', () => {
  // EnvironmentVariableName is `[a-zA-Z]([a-zA-Z0-9_])+` (LAMBDA_REFERENCE §1.4): the `+` demands a second character.
  expectCode('ERR_VALIDATION', () => checkEnvironment({ A: 'v' }));
});

test('the host architecture passes and the other one is refused by name', () => {
  const host = hostArchitecture();
  const other: Architecture = host === 'x86_64' ? 'arm64' : 'x86_64';
  checkArchitectures([host]);
  expectCode('ERR_INVALID_PARAMETER', () => checkArchitectures([other]), new RegExp(`Architecture ${other} is not supported`));
  expectCode('ERR_INVALID_PARAMETER', () => resolveSettings('f', { ...BASE, architectures: [other] }, undefined));
});

test('a dead-letter target must be an SQS queue or an SNS topic; an empty TargetArn removes it', () => {
  const queue = 'arn:aws:sqs:us-east-1:123456789012:dlq';
  const topic = 'arn:aws:sns:us-east-1:123456789012:dlt';
  assert.equal(resolveSettings('f', { ...BASE, deadLetterTargetArn: queue }, undefined).deadLetterTargetArn, queue);
  const withTopic = resolveSettings('f', { ...BASE, deadLetterTargetArn: topic }, undefined);
  assert.equal(withTopic.deadLetterTargetArn, topic);
  assert.equal(resolveSettings('f', {}, withTopic).deadLetterTargetArn, topic, 'kept by an update that does not name it');
  assert.equal(Object.hasOwn(resolveSettings('f', { deadLetterTargetArn: '' }, withTopic), 'deadLetterTargetArn'), false);
  for (const bad of ['arn:aws:lambda:us-east-1:123456789012:function:other', 'arn:aws:events:us-east-1:123456789012:event-bus/default', 'not-an-arn']) {
    expectCode('ERR_INVALID_PARAMETER', () => resolveSettings('f', { ...BASE, deadLetterTargetArn: bad }, undefined), /SQS queue or an Amazon SNS topic/);
  }
});
