import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as sdk from '@aws-sdk/client-lambda';
import { API_ERRORS, ApiError, toErrorBody, type ApiErrorType } from '../../../src/api/wire/errors.js';
import { toCodeSha256, toFunctionConfiguration, toLambdaTimestamp, withMarker } from '../../../src/api/wire/responses.js';
import { toApiError } from '../../../src/api/wire/translate.js';
import { toValidationMessage, type SchemaFailure } from '../../../src/api/wire/validation-message.js';
import { FunctionsError, type FunctionsErrorCode } from '../../../src/functions/errors.js';
import { CodeError } from '../../../src/code/errors.js';
import { ThrottledError } from '../../../src/invoke/errors.js';
import type { FunctionVersion } from '../../../src/model/function.js';
import { PlatformError } from '../../../src/shared/errors.js';
import { StoreError } from '../../../src/store/store.js';
import { assertOutputBody } from '../../support/service-model.js';

/** AWS errors no service model declares: the API gateway layer in front of every service answers them. */
const UNMODELED_COMMON_ERRORS = new Set([
  'ValidationException',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'MissingAuthenticationTokenException',
  'IncompleteSignatureException',
  'AccessDeniedException',
  'RequestEntityTooLargeException',
  'UnknownOperationException',
]);

const PARTITION = { region: 'us-east-1', accountId: '123456789012' };
const ARN = 'arn:aws:lambda:us-east-1:123456789012:function:f';
const EMPTY_SHA256_HEX = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

function version(overrides: Partial<FunctionVersion> = {}, settings: Partial<FunctionVersion['settings']> = {}): FunctionVersion {
  return {
    accountId: PARTITION.accountId,
    functionName: 'f',
    version: '$LATEST',
    settings: {
      runtime: 'nodejs20.x',
      handler: 'index.handler',
      role: 'arn:aws:iam::123456789012:role/r',
      description: '',
      timeoutSeconds: 3,
      memorySizeMb: 128,
      layers: [],
      architectures: ['x86_64'],
      ephemeralStorageMb: 512,
      tracingMode: 'PassThrough',
      loggingConfig: { logFormat: 'Text', logGroup: '/aws/lambda/f' },
      snapStartApplyOn: 'None',
      ...settings,
    },
    code: { sha256Hex: EMPTY_SHA256_HEX, sizeBytes: 22, unzippedBytes: 0 },
    revisionId: '11111111-2222-3333-4444-555555555555',
    lastModifiedMs: Date.UTC(2019, 7, 14, 22, 26, 11, 234),
    state: 'Pending',
    stateReason: 'The function is being created.',
    stateReasonCode: 'Creating',
    lastUpdateStatus: 'Failed',
    lastUpdateStatusReason: 'Internal error.',
    lastUpdateStatusReasonCode: 'InternalError',
    ...overrides,
  };
}

// ---- toValidationMessage: failures shaped exactly as ajv (verbose: true) reports them ----

test('a missing required member is worded "Value null at <member>: Member must not be null"', () => {
  const failure: SchemaFailure = { instancePath: '', keyword: 'required', params: { missingProperty: 'Role' }, message: "must have required property 'Role'", data: { FunctionName: 'f' } };
  assert.equal(toValidationMessage([failure]), "1 validation error detected: Value null at 'role' failed to satisfy constraint: Member must not be null");
});

test('a value over its maximum is worded with the limit and the camelCase member path', () => {
  const failure: SchemaFailure = { instancePath: '/Timeout', keyword: 'maximum', params: { comparison: '<=', limit: 900 }, data: 901 };
  assert.equal(
    toValidationMessage([failure]),
    "1 validation error detected: Value '901' at 'timeout' failed to satisfy constraint: Member must have value less than or equal to 900",
  );
});

test('a value under its minimum is worded with the limit', () => {
  const failure: SchemaFailure = { instancePath: '/EphemeralStorage/Size', keyword: 'minimum', params: { comparison: '>=', limit: 512 }, data: 100 };
  assert.equal(
    toValidationMessage([failure]),
    "1 validation error detected: Value '100' at 'ephemeralStorage.size' failed to satisfy constraint: Member must have value greater than or equal to 512",
  );
});

test('a pattern failure quotes the value and the pattern', () => {
  const pattern = '(?!^[0-9]+$)([a-zA-Z0-9-_]+)';
  const failure: SchemaFailure = { instancePath: '/Name', keyword: 'pattern', params: { pattern }, data: '2024' };
  assert.equal(
    toValidationMessage([failure]),
    `1 validation error detected: Value '2024' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: ${pattern}`,
  );
});

test('an enum failure lists the allowed values', () => {
  const failure: SchemaFailure = { instancePath: '/FunctionVersion', keyword: 'enum', params: { allowedValues: ['ALL'] }, data: 'SOME' };
  assert.equal(
    toValidationMessage([failure]),
    "1 validation error detected: Value 'SOME' at 'functionVersion' failed to satisfy constraint: Member must satisfy enum value set: [ALL]",
  );
});

test('a union of literals (anyOf of const, as typebox compiles enums) is worded as one enum failure listing every value', () => {
  const at = { instancePath: '/LoggingConfig/LogFormat', data: 'XML' };
  const failures: SchemaFailure[] = [
    { ...at, keyword: 'const', params: { allowedValue: 'Text' }, message: 'must be equal to constant' },
    { ...at, keyword: 'const', params: { allowedValue: 'JSON' }, message: 'must be equal to constant' },
    { ...at, keyword: 'anyOf', params: {}, message: 'must match a schema in anyOf' },
  ];
  assert.match(
    toValidationMessage(failures),
    /^1 validation error detected: Value 'XML' at 'loggingConfig\.logFormat' failed to satisfy constraint: Member must satisfy enum value set: \[(Text, JSON|JSON, Text)\]$/,
  );
});

// ---- toApiError ----

const BY_CODE: Record<FunctionsErrorCode, ApiErrorType> = {
  ERR_NOT_FOUND: 'ResourceNotFoundException',
  ERR_CONFLICT: 'ResourceConflictException',
  ERR_INVALID_PARAMETER: 'InvalidParameterValueException',
  ERR_VALIDATION: 'ValidationException',
  ERR_PRECONDITION_FAILED: 'PreconditionFailedException',
  ERR_CODE_TOO_LARGE: 'RequestEntityTooLargeException',
  ERR_POLICY_TOO_LARGE: 'PolicyLengthExceededException',
  ERR_CODE_STORAGE_EXCEEDED: 'CodeStorageExceededException',
  ERR_NOT_IMPLEMENTED: 'InvalidParameterValueException',
};

test('each control-plane error code becomes its AWS error type with its message kept', () => {
  for (const [code, type] of Object.entries(BY_CODE) as [FunctionsErrorCode, ApiErrorType][]) {
    const { apiError, unexpected } = toApiError(new FunctionsError(code, `message for ${code}`));
    assert.equal(apiError.errorType, type, code);
    assert.equal(apiError.message, `message for ${code}`, code);
    assert.equal(unexpected, false, code);
  }
});

test('a pagination marker the store did not hand out is an invalid parameter', () => {
  const { apiError, unexpected } = toApiError(new StoreError('ERR_STORE_INVALID_MARKER', 'invalid marker'));
  assert.equal(apiError.errorType, 'InvalidParameterValueException');
  assert.equal(unexpected, false);
});

test('deployment-package errors become InvalidParameterValueException in AWS wording', () => {
  const unzip = 'Could not unzip uploaded file. Please check your file, then try to upload again.';
  const cases = [
    ['ERR_CODE_CORRUPT_ZIP', unzip],
    ['ERR_CODE_UNSAFE_PATH', `${unzip} detail`],
    ['ERR_CODE_UNSAFE_LINK', `${unzip} detail`],
    ['ERR_CODE_TOO_MANY_ENTRIES', `${unzip} detail`],
    ['ERR_CODE_TOO_LARGE_UNZIPPED', 'Unzipped size must be smaller than 262144000 bytes'],
  ] as const;
  for (const [code, message] of cases) {
    const { apiError, unexpected } = toApiError(new CodeError(code, 'detail'));
    assert.equal(apiError.errorType, 'InvalidParameterValueException', code);
    assert.equal(apiError.message, message, code);
    assert.equal(unexpected, false, code);
  }
});

test('a full disk is a ServiceException that says so, and is not logged as unexpected', () => {
  for (const error of [new StoreError('ERR_STORE_FULL', 'SQLITE_FULL at /secret/path'), new CodeError('ERR_CODE_DISK_FULL', 'ENOSPC /secret/path')]) {
    const { apiError, unexpected } = toApiError(error);
    assert.equal(apiError.errorType, 'ServiceException');
    assert.match(apiError.message, /out of disk space/);
    assert.doesNotMatch(apiError.message, /secret/);
    assert.equal(unexpected, false);
  }
});

test('unknown errors become a ServiceException that does not leak their message', () => {
  for (const error of [new Error('db password is hunter2'), new StoreError('ERR_STORE_IO', 'hunter2 at /var/lib'), new PlatformError('ERR_WHATEVER', 'hunter2'), 'hunter2', undefined]) {
    const { apiError, unexpected } = toApiError(error);
    assert.equal(apiError.errorType, 'ServiceException');
    assert.doesNotMatch(apiError.message, /hunter2/);
    assert.equal(unexpected, true);
  }
});

test('an ApiError passes through unchanged', () => {
  const original = new ApiError('TooManyRequestsException', 'Rate Exceeded.', { Reason: 'ConcurrentInvocationLimitExceeded' });
  assert.deepEqual(toApiError(original), { apiError: original, unexpected: false });
});

// ---- the error table and its bodies ----

test('ResourceNotFoundException bodies carry Message and Type User', () => {
  assert.deepEqual(toErrorBody(new ApiError('ResourceNotFoundException', 'Function not found: x')), { Type: 'User', Message: 'Function not found: x' });
});

test('InvalidParameterValueException bodies carry message and Type User', () => {
  assert.deepEqual(toErrorBody(new ApiError('InvalidParameterValueException', 'bad')), { Type: 'User', message: 'bad' });
});

test('ServiceException bodies carry Type Service', () => {
  assert.deepEqual(toErrorBody(new ApiError('ServiceException', 'oops')), { Type: 'Service', Message: 'oops' });
});

test('ValidationException bodies carry no Type', () => {
  assert.deepEqual(toErrorBody(new ApiError('ValidationException', '1 validation error detected: …')), { message: '1 validation error detected: …' });
});

test('extra members such as Reason are added to the body', () => {
  const body = toErrorBody(new ApiError('TooManyRequestsException', 'Rate Exceeded.', { Reason: 'ReservedFunctionConcurrentInvocationLimitExceeded' }));
  assert.deepEqual(body, { Type: 'User', message: 'Rate Exceeded.', Reason: 'ReservedFunctionConcurrentInvocationLimitExceeded' });
});

test('every error Kindling answers is an SDK exception class or one of the unmodeled common errors', () => {
  const exports = sdk as unknown as Record<string, unknown>;
  for (const name of Object.keys(API_ERRORS)) {
    if (UNMODELED_COMMON_ERRORS.has(name)) continue;
    const cls = exports[name];
    assert.equal(typeof cls, 'function', `${name} is neither exported by @aws-sdk/client-lambda nor an unmodeled common error`);
    assert.ok((cls as { prototype: unknown }).prototype instanceof Error, `${name} is exported but is not an exception class`);
  }
});

test('every modeled error has the status, fault and message member the service model gives it', () => {
  const exports = sdk as unknown as Record<string, unknown>;
  for (const [name, spec] of Object.entries(API_ERRORS)) {
    if (UNMODELED_COMMON_ERRORS.has(name)) continue;
    // The SDK's runtime schema: [-3, namespace, name, { error: 'client'|'server', httpError }, memberNames, memberSchemas].
    const schema = exports[`${name}$`] as [number, string, string, { error: string; httpError: number }, string[], unknown[]];
    assert.ok(Array.isArray(schema), `${name}$ schema missing`);
    const [, , , traits, members] = schema;
    assert.equal(spec.status, traits.httpError, `${name} status`);
    assert.equal(spec.type, traits.error === 'client' ? 'User' : 'Service', `${name} Type`);
    assert.ok(members.includes(spec.messageKey), `${name} message member is ${members.join('/')}, not ${spec.messageKey}`);
  }
});

// ---- response shapes ----

test('Lambda timestamps have millisecond precision and a +0000 offset', () => {
  assert.equal(toLambdaTimestamp(Date.UTC(2019, 7, 14, 22, 26, 11, 234)), '2019-08-14T22:26:11.234+0000');
  assert.equal(toLambdaTimestamp(0), '1970-01-01T00:00:00.000+0000');
  assert.match(toLambdaTimestamp(Date.now()), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$/);
});

test('CodeSha256 is the base64 of the hex digest', () => {
  assert.equal(toCodeSha256(EMPTY_SHA256_HEX), '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=');
});

test('a single-function configuration has its state, update status and runtime version and matches the model', () => {
  const out = toFunctionConfiguration(version(), PARTITION, { functionArn: ARN });
  assert.equal(out.State, 'Pending');
  assert.equal(out.StateReason, 'The function is being created.');
  assert.equal(out.StateReasonCode, 'Creating');
  assert.equal(out.LastUpdateStatus, 'Failed');
  assert.equal(out.LastUpdateStatusReason, 'Internal error.');
  assert.equal(out.LastUpdateStatusReasonCode, 'InternalError');
  assert.match(String((out.RuntimeVersionConfig as { RuntimeVersionArn: string }).RuntimeVersionArn), /^arn:aws:lambda:us-east-1::runtime:[0-9a-f]{64}$/);
  assert.equal(out.LastModified, '2019-08-14T22:26:11.234+0000');
  assert.equal(out.CodeSha256, '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=');
  assert.deepEqual(out.LoggingConfig, { LogFormat: 'Text', LogGroup: '/aws/lambda/f' });
  assertOutputBody('GetFunctionConfiguration', out);
});

test('the runtime version ARN is in the partition of the server region', () => {
  const gov = { region: 'us-gov-west-1', accountId: PARTITION.accountId };
  const out = toFunctionConfiguration(version(), gov, { functionArn: ARN });
  assert.match(String((out.RuntimeVersionConfig as { RuntimeVersionArn: string }).RuntimeVersionArn), /^arn:aws-us-gov:lambda:us-gov-west-1::runtime:/);
});

test('a configuration for a list omits every State member and RuntimeVersionConfig', () => {
  const out = toFunctionConfiguration(version(), PARTITION, { functionArn: ARN, forList: true });
  for (const member of ['State', 'StateReason', 'StateReasonCode', 'LastUpdateStatus', 'LastUpdateStatusReason', 'LastUpdateStatusReasonCode', 'RuntimeVersionConfig']) {
    assert.equal(Object.hasOwn(out, member), false, member);
  }
  assert.equal(out.FunctionName, 'f');
  assertOutputBody('ListFunctions', { Functions: [out] });
});

test('Environment is absent when never set and {Variables:{}} when set empty', () => {
  assert.equal(Object.hasOwn(toFunctionConfiguration(version(), PARTITION, { functionArn: ARN }), 'Environment'), false);
  assert.deepEqual(toFunctionConfiguration(version({}, { environment: {} }), PARTITION, { functionArn: ARN }).Environment, { Variables: {} });
  assert.deepEqual(toFunctionConfiguration(version({}, { environment: { A1: 'x' } }), PARTITION, { functionArn: ARN }).Environment, { Variables: { A1: 'x' } });
});

test('withMarker adds NextMarker only when there is a next page', () => {
  assert.deepEqual(withMarker({ Functions: [] }, undefined), { Functions: [] });
  assert.equal(Object.hasOwn(withMarker({ Functions: [] }, undefined), 'NextMarker'), false);
  assert.deepEqual(withMarker({ Functions: [] }, 'abc'), { Functions: [], NextMarker: 'abc' });
});

test('a throttled invocation is 429 TooManyRequestsException with the Reason member, as Lambda answers', () => {
  const { apiError, unexpected } = toApiError(new ThrottledError('ReservedFunctionConcurrentInvocationLimitExceeded'));
  assert.equal(unexpected, false);
  assert.equal(apiError.status, 429);
  assert.deepEqual(toErrorBody(apiError), { Type: 'User', message: 'Rate Exceeded.', Reason: 'ReservedFunctionConcurrentInvocationLimitExceeded' });
});
