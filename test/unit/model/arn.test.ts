import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  arnPartition,
  formatFunctionArn,
  formatLayerArn,
  formatLayerVersionArn,
  parseFunctionReference,
  parseLayerName,
  parseLayerVersionArn,
} from '../../../src/model/arn.js';

const ACCOUNT = '123456789012';
const useast1 = { region: 'us-east-1', accountId: ACCOUNT };

test('a plain function name parses to just the name', () => {
  assert.deepEqual(parseFunctionReference('my-fn_1'), { functionName: 'my-fn_1' });
});

test('a name with a qualifier parses to name and qualifier', () => {
  assert.deepEqual(parseFunctionReference('my-fn:live'), { functionName: 'my-fn', qualifier: 'live' });
  assert.deepEqual(parseFunctionReference('my-fn:7'), { functionName: 'my-fn', qualifier: '7' });
});

test('$LATEST is accepted as a qualifier, spelled exactly', () => {
  assert.deepEqual(parseFunctionReference('my-fn:$LATEST'), { functionName: 'my-fn', qualifier: '$LATEST' });
  assert.equal(parseFunctionReference('my-fn:$latest'), undefined);
});

test('a full ARN without a qualifier yields region, account and name', () => {
  assert.deepEqual(parseFunctionReference(`arn:aws:lambda:us-east-1:${ACCOUNT}:function:my-fn`), {
    region: 'us-east-1',
    accountId: ACCOUNT,
    functionName: 'my-fn',
  });
});

test('a full ARN with a qualifier yields the qualifier too', () => {
  assert.deepEqual(parseFunctionReference(`arn:aws:lambda:eu-west-2:${ACCOUNT}:function:my-fn:$LATEST`), {
    region: 'eu-west-2',
    accountId: ACCOUNT,
    functionName: 'my-fn',
    qualifier: '$LATEST',
  });
});

test('a partial ARN `account:function:name[:qualifier]` yields account and name without a region', () => {
  assert.deepEqual(parseFunctionReference(`${ACCOUNT}:function:my-fn`), { accountId: ACCOUNT, functionName: 'my-fn' });
  assert.deepEqual(parseFunctionReference(`${ACCOUNT}:function:my-fn:3`), { accountId: ACCOUNT, functionName: 'my-fn', qualifier: '3' });
});

test('ARNs of the China and GovCloud partitions parse, GovCloud regions included', () => {
  assert.deepEqual(parseFunctionReference(`arn:aws-cn:lambda:cn-north-1:${ACCOUNT}:function:f`), {
    region: 'cn-north-1',
    accountId: ACCOUNT,
    functionName: 'f',
  });
  assert.deepEqual(parseFunctionReference(`arn:aws-us-gov:lambda:us-gov-west-1:${ACCOUNT}:function:f:prod`), {
    region: 'us-gov-west-1',
    accountId: ACCOUNT,
    functionName: 'f',
    qualifier: 'prod',
  });
});

test('a parsed reference carries no qualifier key when none was given', () => {
  for (const input of ['f', `${ACCOUNT}:function:f`, `arn:aws:lambda:us-east-1:${ACCOUNT}:function:f`]) {
    assert.equal(Object.hasOwn(parseFunctionReference(input)!, 'qualifier'), false, input);
  }
});

test('names of exactly 64 characters are accepted and 65 are refused, in every form', () => {
  const ok = 'a'.repeat(64);
  const long = 'a'.repeat(65);
  assert.deepEqual(parseFunctionReference(ok), { functionName: ok });
  assert.equal(parseFunctionReference(long), undefined);
  assert.equal(parseFunctionReference(`${long}:v1`), undefined);
  assert.equal(parseFunctionReference(`${ACCOUNT}:function:${long}`), undefined);
  assert.equal(parseFunctionReference(`arn:aws:lambda:us-east-1:${ACCOUNT}:function:${long}`), undefined);
});

test('empty input and names with characters outside [a-zA-Z0-9-_] are refused', () => {
  for (const input of ['', 'a.b', 'a b', 'a/b', 'ä', ' f', 'f ']) {
    assert.equal(parseFunctionReference(input), undefined, JSON.stringify(input));
  }
});

test('a plain name with more than one colon is refused', () => {
  assert.equal(parseFunctionReference('a:b:c'), undefined);
  assert.equal(parseFunctionReference('a:b:c:d'), undefined);
});

test('qualifiers that are empty, too long or hold other characters are refused', () => {
  for (const input of ['f:', 'f:q!', 'f:a.b', 'f:$LATEST2', `f:${'q'.repeat(129)}`, `arn:aws:lambda:us-east-1:${ACCOUNT}:function:f:`, `${ACCOUNT}:function:f:a b`]) {
    assert.equal(parseFunctionReference(input), undefined, input);
  }
  assert.deepEqual(parseFunctionReference(`f:${'q'.repeat(128)}`), { functionName: 'f', qualifier: 'q'.repeat(128) });
});

test('an ARN whose account is not 12 digits is refused', () => {
  assert.equal(parseFunctionReference('arn:aws:lambda:us-east-1:123:function:f'), undefined);
  assert.equal(parseFunctionReference('arn:aws:lambda:us-east-1:1234567890123:function:f'), undefined);
  assert.equal(parseFunctionReference('123:function:f'), undefined);
});

test('ARNs of other services, bad regions or extra segments are refused', () => {
  for (const input of [
    `arn:aws:s3:us-east-1:${ACCOUNT}:function:f`,
    `arn:aws:lambda:useast1:${ACCOUNT}:function:f`,
    `arn:aws:lambda:us-east-1:${ACCOUNT}:function:f:1:2`,
    `arn:aws:lambda:us-east-1:${ACCOUNT}:f`,
  ]) {
    assert.equal(parseFunctionReference(input), undefined, input);
  }
});

test('a layer ARN given where a function name is expected is refused', () => {
  assert.equal(parseFunctionReference(`arn:aws:lambda:us-east-1:${ACCOUNT}:layer:my-layer`), undefined);
  assert.equal(parseFunctionReference(`arn:aws:lambda:us-east-1:${ACCOUNT}:layer:my-layer:1`), undefined);
  assert.equal(parseFunctionReference(`${ACCOUNT}:layer:my-layer`), undefined);
});

test('function ARNs are formatted with and without a qualifier', () => {
  assert.equal(formatFunctionArn(useast1, 'f'), `arn:aws:lambda:us-east-1:${ACCOUNT}:function:f`);
  assert.equal(formatFunctionArn(useast1, 'f', '$LATEST'), `arn:aws:lambda:us-east-1:${ACCOUNT}:function:f:$LATEST`);
  assert.equal(formatFunctionArn(useast1, 'f', '2'), `arn:aws:lambda:us-east-1:${ACCOUNT}:function:f:2`);
});

test('a formatted function ARN parses back to what formatted it', () => {
  const arn = formatFunctionArn({ region: 'ap-southeast-2', accountId: ACCOUNT }, 'round-trip', 'live');
  assert.deepEqual(parseFunctionReference(arn), { region: 'ap-southeast-2', accountId: ACCOUNT, functionName: 'round-trip', qualifier: 'live' });
});

test('layer and layer version ARNs are formatted as AWS spells them', () => {
  assert.equal(formatLayerArn(useast1, 'deps'), `arn:aws:lambda:us-east-1:${ACCOUNT}:layer:deps`);
  assert.equal(formatLayerVersionArn(useast1, 'deps', 12), `arn:aws:lambda:us-east-1:${ACCOUNT}:layer:deps:12`);
});

test('ARNs are formatted in the partition their region belongs to', () => {
  assert.equal(arnPartition('us-east-1'), 'aws');
  assert.equal(arnPartition('cn-northwest-1'), 'aws-cn');
  assert.equal(arnPartition('us-gov-west-1'), 'aws-us-gov');
  assert.equal(arnPartition('us-iso-east-1'), 'aws-iso');
  assert.equal(arnPartition('us-isob-east-1'), 'aws-iso-b');
  const gov = { region: 'us-gov-west-1', accountId: ACCOUNT };
  assert.equal(formatFunctionArn(gov, 'f', '1'), `arn:aws-us-gov:lambda:us-gov-west-1:${ACCOUNT}:function:f:1`);
  const cn = { region: 'cn-north-1', accountId: ACCOUNT };
  assert.equal(formatLayerVersionArn(cn, 'deps', 1), `arn:aws-cn:lambda:cn-north-1:${ACCOUNT}:layer:deps:1`);
  assert.deepEqual(parseLayerVersionArn(formatLayerVersionArn(cn, 'deps', 1)), { region: 'cn-north-1', accountId: ACCOUNT, layerName: 'deps', version: 1 });
});

test('a layer version ARN parses to region, account, name and numeric version', () => {
  assert.deepEqual(parseLayerVersionArn(`arn:aws:lambda:us-east-1:${ACCOUNT}:layer:deps:3`), {
    region: 'us-east-1',
    accountId: ACCOUNT,
    layerName: 'deps',
    version: 3,
  });
});

test('a layer ARN without a version, a function ARN or junk is not a layer version ARN', () => {
  for (const input of [
    `arn:aws:lambda:us-east-1:${ACCOUNT}:layer:deps`,
    `arn:aws:lambda:us-east-1:${ACCOUNT}:layer:deps:v1`,
    `arn:aws:lambda:us-east-1:${ACCOUNT}:function:deps:3`,
    `arn:aws:lambda:us-east-1:123:layer:deps:3`,
    'deps:3',
    '',
  ]) {
    assert.equal(parseLayerVersionArn(input), undefined, input);
  }
});

test('a layer name parameter may be a bare name or a layer ARN, and nothing else', () => {
  assert.deepEqual(parseLayerName('deps'), { layerName: 'deps' });
  assert.deepEqual(parseLayerName(`arn:aws:lambda:us-east-1:${ACCOUNT}:layer:deps`), { region: 'us-east-1', accountId: ACCOUNT, layerName: 'deps' });
  for (const input of ['', 'a/b', 'a.b', 'a'.repeat(65), `arn:aws:lambda:us-east-1:${ACCOUNT}:layer:deps:1`, `arn:aws:lambda:us-east-1:${ACCOUNT}:function:deps`]) {
    assert.equal(parseLayerName(input), undefined, input);
  }
});
