/** TagResource/UntagResource/ListTags and AddPermission/RemovePermission/GetPolicy through the real SDK. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  AddPermissionCommand,
  CreateAliasCommand,
  GetPolicyCommand,
  ListTagsCommand,
  RemovePermissionCommand,
  TagResourceCommand,
  UntagResourceCommand,
  type AddPermissionCommandInput,
} from '@aws-sdk/client-lambda';
import { assertLastOutput } from '../support/recording-client.js';
import { createHello, expectAwsError, functionArn, startWorld } from './fixtures.js';

test('TagResource and UntagResource answer 204 and ListTags answers the merged tags, tags on create included', async (t) => {
  const { rec, client } = await startWorld(t);
  await createHello(client, 'tagged', { Tags: { team: 'core' } });
  const arn = functionArn('tagged');
  const initial = await client.send(new ListTagsCommand({ Resource: arn }));
  assertLastOutput(rec, 'ListTags');
  assert.deepEqual(initial.Tags, { team: 'core' });

  const tagged = await client.send(new TagResourceCommand({ Resource: arn, Tags: { env: 'prod', 'cost center': 'a b', team: 'platform' } }));
  assert.equal(tagged.$metadata.httpStatusCode, 204);
  assert.deepEqual((await client.send(new ListTagsCommand({ Resource: arn }))).Tags, { team: 'platform', env: 'prod', 'cost center': 'a b' });

  const untagged = await client.send(new UntagResourceCommand({ Resource: arn, TagKeys: ['env', 'cost center', 'absent'] }));
  assert.equal(untagged.$metadata.httpStatusCode, 204);
  assert.deepEqual((await client.send(new ListTagsCommand({ Resource: arn }))).Tags, { team: 'platform' });
  await client.send(new UntagResourceCommand({ Resource: arn, TagKeys: ['team'] }));
  await client.send(new ListTagsCommand({ Resource: arn }));
  assertLastOutput(rec, 'ListTags');
  assert.deepEqual(JSON.parse(rec.last()!.body), { Tags: {} });
});

test('tag operations take a function ARN: a bare name is a ValidationException, another region is a 404', async (t) => {
  const { rec, client } = await startWorld(t);
  await createHello(client, 'arns');
  await expectAwsError(rec, 'ListTags', client.send(new ListTagsCommand({ Resource: 'arns' })), {
    type: 'ValidationException',
    status: 400,
    message: /^1 validation error detected: Value 'arns' at 'resource' failed to satisfy constraint/,
  });
  await expectAwsError(rec, 'TagResource', client.send(new TagResourceCommand({ Resource: 'arn:aws:lambda:eu-west-1:000000000000:function:arns', Tags: { a: 'b' } })), {
    type: 'ResourceNotFoundException',
    status: 404,
  });
});

const S3_PERMISSION: AddPermissionCommandInput = {
  FunctionName: 'pol',
  StatementId: 's3',
  Action: 'lambda:InvokeFunction',
  Principal: 's3.amazonaws.com',
  SourceArn: 'arn:aws:s3:::my-bucket',
  SourceAccount: '123456789012',
};

test('AddPermission answers 201 with the statement rendered as IAM renders it, and GetPolicy answers the document', async (t) => {
  const { rec, client } = await startWorld(t);
  await createHello(client, 'pol');
  const added = await client.send(new AddPermissionCommand(S3_PERMISSION));
  assert.equal(rec.last()?.statusCode, 201);
  assertLastOutput(rec, 'AddPermission');
  const s3Statement = {
    Sid: 's3',
    Effect: 'Allow',
    Principal: { Service: 's3.amazonaws.com' },
    Action: 'lambda:InvokeFunction',
    Resource: functionArn('pol'),
    Condition: { StringEquals: { 'AWS:SourceAccount': '123456789012' }, ArnLike: { 'AWS:SourceArn': 'arn:aws:s3:::my-bucket' } },
  };
  assert.deepEqual(JSON.parse(added.Statement!), s3Statement);

  const account = await client.send(new AddPermissionCommand({ FunctionName: 'pol', StatementId: 'acct', Action: 'lambda:GetFunction', Principal: '111122223333' }));
  const accountStatement = { Sid: 'acct', Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:root' }, Action: 'lambda:GetFunction', Resource: functionArn('pol') };
  assert.deepEqual(JSON.parse(account.Statement!), accountStatement);

  const policy = await client.send(new GetPolicyCommand({ FunctionName: 'pol' }));
  assertLastOutput(rec, 'GetPolicy');
  assert.deepEqual(JSON.parse(policy.Policy!), { Version: '2012-10-17', Id: 'default', Statement: [s3Statement, accountStatement] });
  assert.match(policy.RevisionId ?? '', /^[0-9a-f-]{36}$/);
});

test('AddPermission refuses a duplicate Sid (409) and the $LATEST qualifier (400); policies per alias are separate', async (t) => {
  const { rec, client } = await startWorld(t);
  await createHello(client, 'pol', { Publish: true });
  await client.send(new CreateAliasCommand({ FunctionName: 'pol', Name: 'live', FunctionVersion: '1' }));
  await client.send(new AddPermissionCommand(S3_PERMISSION));
  await expectAwsError(rec, 'AddPermission', client.send(new AddPermissionCommand(S3_PERMISSION)), {
    type: 'ResourceConflictException',
    status: 409,
    message: 'The statement id (s3) provided already exists. Please provide a new statement id, or remove the existing statement.',
  });
  await expectAwsError(rec, 'AddPermission', client.send(new AddPermissionCommand({ ...S3_PERMISSION, StatementId: 'l', Qualifier: '$LATEST' })), {
    type: 'InvalidParameterValueException',
    status: 400,
    message: 'We currently do not support adding policies for $LATEST.',
  });

  const onAlias = await client.send(new AddPermissionCommand({ ...S3_PERMISSION, StatementId: 'alias-only', Qualifier: 'live' }));
  assert.equal(JSON.parse(onAlias.Statement!).Resource, functionArn('pol', 'live'));
  const aliasPolicy = await client.send(new GetPolicyCommand({ FunctionName: 'pol', Qualifier: 'live' }));
  assertLastOutput(rec, 'GetPolicy');
  assert.deepEqual((JSON.parse(aliasPolicy.Policy!) as { Statement: { Sid: string }[] }).Statement.map((s) => s.Sid), ['alias-only']);
  const unqualified = await client.send(new GetPolicyCommand({ FunctionName: 'pol' }));
  assert.deepEqual((JSON.parse(unqualified.Policy!) as { Statement: { Sid: string }[] }).Statement.map((s) => s.Sid), ['s3']);
  // The same Sid may exist once per qualifier.
  await client.send(new AddPermissionCommand({ ...S3_PERMISSION, Qualifier: 'live' }));
  await expectAwsError(rec, 'GetPolicy', client.send(new GetPolicyCommand({ FunctionName: 'pol', Qualifier: '1' })), {
    type: 'ResourceNotFoundException',
    status: 404,
    message: 'No policy is associated with the given resource.',
  });
});

test('GetPolicy without a policy and RemovePermission of an unknown Sid answer 404; removing the last statement removes the policy', async (t) => {
  const { rec, client } = await startWorld(t);
  await createHello(client, 'pol');
  await expectAwsError(rec, 'GetPolicy', client.send(new GetPolicyCommand({ FunctionName: 'pol' })), {
    type: 'ResourceNotFoundException',
    status: 404,
    message: 'No policy is associated with the given resource.',
  });
  await client.send(new AddPermissionCommand(S3_PERMISSION));
  await expectAwsError(rec, 'RemovePermission', client.send(new RemovePermissionCommand({ FunctionName: 'pol', StatementId: 'nope' })), {
    type: 'ResourceNotFoundException',
    status: 404,
    message: 'Statement nope is not found in resource policy.',
  });
  const removed = await client.send(new RemovePermissionCommand({ FunctionName: 'pol', StatementId: 's3' }));
  assert.equal(removed.$metadata.httpStatusCode, 204);
  await expectAwsError(rec, 'GetPolicy', client.send(new GetPolicyCommand({ FunctionName: 'pol' })), {
    type: 'ResourceNotFoundException',
    status: 404,
    message: 'No policy is associated with the given resource.',
  });
});

test('AddPermission and RemovePermission with a stale RevisionId answer 412; the current one is accepted', async (t) => {
  const { rec, client } = await startWorld(t);
  await createHello(client, 'pol');
  await client.send(new AddPermissionCommand(S3_PERMISSION));
  const first = await client.send(new GetPolicyCommand({ FunctionName: 'pol' }));
  await client.send(new AddPermissionCommand({ ...S3_PERMISSION, StatementId: 'two', RevisionId: first.RevisionId }));
  const second = await client.send(new GetPolicyCommand({ FunctionName: 'pol' }));
  assert.notEqual(second.RevisionId, first.RevisionId);
  const stale = {
    type: 'PreconditionFailedException',
    status: 412,
    message: 'The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API to retrieve the latest Revision Id',
  };
  await expectAwsError(rec, 'AddPermission', client.send(new AddPermissionCommand({ ...S3_PERMISSION, StatementId: 'three', RevisionId: first.RevisionId })), stale);
  await expectAwsError(rec, 'RemovePermission', client.send(new RemovePermissionCommand({ FunctionName: 'pol', StatementId: 's3', RevisionId: first.RevisionId })), stale);
  await client.send(new RemovePermissionCommand({ FunctionName: 'pol', StatementId: 's3', RevisionId: second.RevisionId }));
  const left = await client.send(new GetPolicyCommand({ FunctionName: 'pol' }));
  assert.deepEqual((JSON.parse(left.Policy!) as { Statement: { Sid: string }[] }).Statement.map((s) => s.Sid), ['two']);
});
