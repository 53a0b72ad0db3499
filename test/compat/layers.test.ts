/** Layer versions through the real SDK, and functions that use them. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  DeleteLayerVersionCommand,
  GetFunctionCommand,
  GetLayerVersionByArnCommand,
  GetLayerVersionCommand,
  ListLayersCommand,
  ListLayerVersionsCommand,
  PublishLayerVersionCommand,
  UpdateFunctionCodeCommand,
  UpdateFunctionConfigurationCommand,
  type LambdaClient,
  type Runtime,
} from '@aws-sdk/client-lambda';
import { assertLastOutput } from '../support/recording-client.js';
import { buildZip } from '../support/zip-builder.js';
import { LAMBDA_TIMESTAMP, createHello, download, expectAwsError, helloZip, layerArn, publishLayer, sha256Base64, startWorld } from './fixtures.js';

async function publish(client: LambdaClient, name: string, runtimes: Runtime[], marker = `${name}${runtimes.join()}`) {
  const zip = await buildZip([{ name: `python/${name}.py`, data: `VALUE = ${JSON.stringify(marker)}\n` }]);
  return client.send(new PublishLayerVersionCommand({ LayerName: name, Content: { ZipFile: zip }, CompatibleRuntimes: runtimes }));
}

test('PublishLayerVersion answers 201 with a fetchable Content.Location, CodeSha256, CodeSize and the metadata given', async (t) => {
  const { rec, client } = await startWorld(t);
  const zip = await buildZip([{ name: 'nodejs/node_modules/lib/index.js', data: 'module.exports = 1;\n' }]);
  const out = await client.send(
    new PublishLayerVersionCommand({
      LayerName: 'lib',
      Content: { ZipFile: zip },
      Description: 'a library',
      CompatibleRuntimes: ['nodejs20.x', 'nodejs22.x'],
      CompatibleArchitectures: ['x86_64', 'arm64'],
      LicenseInfo: 'MIT',
    }),
  );
  assert.equal(rec.last()?.statusCode, 201);
  assertLastOutput(rec, 'PublishLayerVersion');
  assert.equal(out.LayerArn, layerArn('lib'));
  assert.equal(out.LayerVersionArn, layerArn('lib', 1));
  assert.equal(out.Version, 1);
  assert.equal(out.Description, 'a library');
  assert.deepEqual(out.CompatibleRuntimes, ['nodejs20.x', 'nodejs22.x']);
  assert.deepEqual(out.CompatibleArchitectures, ['x86_64', 'arm64']);
  assert.equal(out.LicenseInfo, 'MIT');
  assert.equal(out.Content?.CodeSha256, sha256Base64(zip));
  assert.equal(out.Content?.CodeSize, zip.length);
  assert.match(String(JSON.parse(rec.last()!.body).CreatedDate), LAMBDA_TIMESTAMP);
  const fetched = await download(out.Content!.Location!);
  assert.equal(fetched.status, 200);
  assert.deepEqual(fetched.body, zip);
});

test('GetLayerVersion and GetLayerVersionByArn answer the version; an unknown one answers 404', async (t) => {
  const { rec, client } = await startWorld(t);
  const published = await publishLayer(client, 'getme');
  const byName = await client.send(new GetLayerVersionCommand({ LayerName: 'getme', VersionNumber: 1 }));
  assertLastOutput(rec, 'GetLayerVersion');
  assert.equal(byName.LayerVersionArn, published.LayerVersionArn);
  assert.equal(byName.Content?.CodeSha256, published.Content?.CodeSha256);
  const byLayerArn = await client.send(new GetLayerVersionCommand({ LayerName: layerArn('getme'), VersionNumber: 1 }));
  assert.equal(byLayerArn.Version, 1);
  const byArn = await client.send(new GetLayerVersionByArnCommand({ Arn: layerArn('getme', 1) }));
  assertLastOutput(rec, 'GetLayerVersionByArn');
  assert.equal(byArn.LayerArn, layerArn('getme'));
  assert.equal(byArn.Content?.CodeSize, published.Content?.CodeSize);
  assert.equal((await download(byArn.Content!.Location!)).status, 200);

  const missing = { type: 'ResourceNotFoundException', status: 404, message: 'The resource you requested does not exist.' };
  await expectAwsError(rec, 'GetLayerVersion', client.send(new GetLayerVersionCommand({ LayerName: 'getme', VersionNumber: 2 })), missing);
  await expectAwsError(rec, 'GetLayerVersion', client.send(new GetLayerVersionCommand({ LayerName: 'nothing', VersionNumber: 1 })), missing);
  await expectAwsError(rec, 'GetLayerVersionByArn', client.send(new GetLayerVersionByArnCommand({ Arn: layerArn('getme', 9) })), missing);
  await expectAwsError(rec, 'GetLayerVersionByArn', client.send(new GetLayerVersionByArnCommand({ Arn: 'not-an-arn' })), {
    type: 'ValidationException',
    status: 400,
    message: /^1 validation error detected: Value 'not-an-arn' at 'arn'/,
  });
});

test('ListLayers answers the newest matching version of each layer; ListLayerVersions answers newest first', async (t) => {
  const { rec, client } = await startWorld(t);
  await publish(client, 'alpha', ['python3.11']);
  await publish(client, 'alpha', ['nodejs20.x']);
  await publish(client, 'beta', ['python3.11']);

  const all = await client.send(new ListLayersCommand({}));
  assertLastOutput(rec, 'ListLayers');
  assert.deepEqual(all.Layers?.map((l) => [l.LayerName, l.LayerArn, l.LatestMatchingVersion?.Version]), [
    ['alpha', layerArn('alpha'), 2],
    ['beta', layerArn('beta'), 1],
  ]);
  assert.equal(all.Layers?.[0]?.LatestMatchingVersion?.LayerVersionArn, layerArn('alpha', 2));
  const python = await client.send(new ListLayersCommand({ CompatibleRuntime: 'python3.11' }));
  assertLastOutput(rec, 'ListLayers');
  assert.deepEqual(python.Layers?.map((l) => [l.LayerName, l.LatestMatchingVersion?.Version]), [
    ['alpha', 1],
    ['beta', 1],
  ]);
  const node = await client.send(new ListLayersCommand({ CompatibleRuntime: 'nodejs20.x' }));
  assert.deepEqual(node.Layers?.map((l) => l.LayerName), ['alpha']);

  const versions = await client.send(new ListLayerVersionsCommand({ LayerName: 'alpha' }));
  assertLastOutput(rec, 'ListLayerVersions');
  assert.deepEqual(versions.LayerVersions?.map((v) => [v.Version, v.LayerVersionArn, v.CompatibleRuntimes]), [
    [2, layerArn('alpha', 2), ['nodejs20.x']],
    [1, layerArn('alpha', 1), ['python3.11']],
  ]);
  const filtered = await client.send(new ListLayerVersionsCommand({ LayerName: 'alpha', CompatibleRuntime: 'python3.11' }));
  assert.deepEqual(filtered.LayerVersions?.map((v) => v.Version), [1]);
  const page = await client.send(new ListLayerVersionsCommand({ LayerName: 'alpha', MaxItems: 1 }));
  assert.deepEqual(page.LayerVersions?.map((v) => v.Version), [2]);
  const rest = await client.send(new ListLayerVersionsCommand({ LayerName: 'alpha', MaxItems: 1, Marker: page.NextMarker }));
  assert.deepEqual(rest.LayerVersions?.map((v) => v.Version), [1]);
  assert.equal(rest.NextMarker, undefined);
  const none = await client.send(new ListLayerVersionsCommand({ LayerName: 'never-published' }));
  assertLastOutput(rec, 'ListLayerVersions');
  assert.deepEqual(none.LayerVersions, []);
});

test('DeleteLayerVersion answers 204, also for a version already gone, and numbers continue after it', async (t) => {
  const { rec, client } = await startWorld(t);
  await publishLayer(client, 'del', 'one');
  await publishLayer(client, 'del', 'two');
  const deleted = await client.send(new DeleteLayerVersionCommand({ LayerName: 'del', VersionNumber: 2 }));
  assert.equal(deleted.$metadata.httpStatusCode, 204);
  assert.equal(rec.last()?.body, '');
  const again = await client.send(new DeleteLayerVersionCommand({ LayerName: 'del', VersionNumber: 2 }));
  assert.equal(again.$metadata.httpStatusCode, 204);
  const never = await client.send(new DeleteLayerVersionCommand({ LayerName: 'no-such-layer', VersionNumber: 1 }));
  assert.equal(never.$metadata.httpStatusCode, 204);
  await expectAwsError(rec, 'GetLayerVersion', client.send(new GetLayerVersionCommand({ LayerName: 'del', VersionNumber: 2 })), {
    type: 'ResourceNotFoundException',
    status: 404,
  });
  const three = await publishLayer(client, 'del', 'three');
  assert.equal(three.Version, 3);
  const versions = await client.send(new ListLayerVersionsCommand({ LayerName: 'del' }));
  assert.deepEqual(versions.LayerVersions?.map((v) => v.Version), [3, 1]);
});

test('a function uses two layers, and keeps working after one of its layer versions is deleted', async (t) => {
  const { rec, client } = await startWorld(t);
  const a = await publishLayer(client, 'layer-a');
  const b = await publishLayer(client, 'layer-b');
  const created = await createHello(client, 'layered', { Layers: [a.LayerVersionArn!, b.LayerVersionArn!] });
  assertLastOutput(rec, 'CreateFunction');
  assert.deepEqual(created.Layers, [
    { Arn: a.LayerVersionArn, CodeSize: a.Content?.CodeSize },
    { Arn: b.LayerVersionArn, CodeSize: b.Content?.CodeSize },
  ]);
  await client.send(new DeleteLayerVersionCommand({ LayerName: 'layer-a', VersionNumber: 1 }));
  const after = await client.send(new GetFunctionCommand({ FunctionName: 'layered' }));
  assertLastOutput(rec, 'GetFunction');
  assert.deepEqual(after.Configuration?.Layers, created.Layers);
  assert.equal((await download(after.Code!.Location!)).status, 200);
  // Code updates keep the (deleted) layer version the function already had.
  const updated = await client.send(new UpdateFunctionCodeCommand({ FunctionName: 'layered', ZipFile: await helloZip('after delete') }));
  assert.deepEqual(updated.Layers, created.Layers);
});

test('more than 5 layers, a missing layer version and two versions of one layer are refused as AWS refuses them', async (t) => {
  const { rec, client } = await startWorld(t);
  const arns: string[] = [];
  for (let i = 0; i < 6; i += 1) arns.push((await publishLayer(client, `l${i}`)).LayerVersionArn!);
  const second = await publishLayer(client, 'l0', 'second');
  const invalid = (message: string) => ({ type: 'InvalidParameterValueException', status: 400, message });

  await expectAwsError(rec, 'CreateFunction', createHello(client, 'six', { Layers: arns }), invalid('Cannot reference more than 5 layers.'));
  await expectAwsError(rec, 'CreateFunction', createHello(client, 'ghost', { Layers: [layerArn('l0', 7)] }), invalid(`Layer version ${layerArn('l0', 7)} does not exist.`));
  await expectAwsError(
    rec,
    'CreateFunction',
    createHello(client, 'twice', { Layers: [arns[0]!, second.LayerVersionArn!] }),
    invalid('Two different versions of the same layer are not allowed to be referenced in the same function. Use only one version of the layer.'),
  );
  const otherAccount = 'arn:aws:lambda:us-east-1:123456789012:layer:theirs:1';
  await expectAwsError(rec, 'CreateFunction', createHello(client, 'foreign', { Layers: [otherAccount] }), invalid(`Layer version ${otherAccount} does not exist.`));

  await createHello(client, 'ok', { Layers: arns.slice(0, 5) });
  await expectAwsError(
    rec,
    'UpdateFunctionConfiguration',
    client.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'ok', Layers: arns })),
    invalid('Cannot reference more than 5 layers.'),
  );
  await expectAwsError(
    rec,
    'UpdateFunctionConfiguration',
    client.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'ok', Layers: [layerArn('l3', 2)] })),
    invalid(`Layer version ${layerArn('l3', 2)} does not exist.`),
  );
  const cleared = await client.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'ok', Layers: [] }));
  assert.equal(cleared.Layers, undefined);
});
