/** Weighted alias routing on Invoke: RoutingConfig.AdditionalVersionWeights splits traffic; X-Amz-Executed-Version says which ran. */
import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { test } from 'node:test';
import { CreateAliasCommand, LambdaClient, PublishVersionCommand, UpdateFunctionCodeCommand } from '@aws-sdk/client-lambda';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { startTestServer } from '../support/test-server.js';
import { deploy, invoke, waitActive, zipOf } from './invoke-support.js';

const PARALLEL = 4;
const INVOCATIONS = 4000;

/** Each version's handler answers with the version it was published as, so the payload and the header must agree. */
const source = (tag: string) => ({ 'index.js': `exports.handler = async () => ({ tag: ${JSON.stringify(tag)}, version: process.env.AWS_LAMBDA_FUNCTION_VERSION });` });

test('4,000 invocations through an alias weighted 0.2 to version 2 run version 2 about 20% of the time', { timeout: 180_000 }, async (t) => {
  const server = await startTestServer();
  t.after(() => server.close());
  const client = new LambdaClient({
    endpoint: server.url,
    region: 'us-east-1',
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({ httpAgent: new Agent({ keepAlive: true, maxSockets: PARALLEL }) }),
  });
  t.after(() => client.destroy());
  await deploy(client, 'canary', source('one'));
  await client.send(new PublishVersionCommand({ FunctionName: 'canary' }));
  await client.send(new UpdateFunctionCodeCommand({ FunctionName: 'canary', ZipFile: await zipOf(source('two')) }));
  await waitActive(client, 'canary');
  await client.send(new PublishVersionCommand({ FunctionName: 'canary' }));
  await client.send(
    new CreateAliasCommand({ FunctionName: 'canary', Name: 'live', FunctionVersion: '1', RoutingConfig: { AdditionalVersionWeights: { '2': 0.2 } } }),
  );

  const counts = new Map<string, number>();
  let next = 0;
  const worker = async () => {
    while (next < INVOCATIONS) {
      next += 1;
      const out = await invoke(client, 'canary', {}, { Qualifier: 'live', LogType: 'None' });
      assert.equal(out.statusCode, 200);
      assert.equal(out.functionError, undefined, out.text);
      const { tag, version } = out.json as { tag: string; version: string };
      assert.equal(version, out.executedVersion, 'X-Amz-Executed-Version names the version whose code ran');
      assert.equal(tag, version === '1' ? 'one' : 'two');
      counts.set(version, (counts.get(version) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));

  assert.deepEqual([...counts.keys()].sort(), ['1', '2']);
  assert.equal((counts.get('1') ?? 0) + (counts.get('2') ?? 0), INVOCATIONS);
  const share = (counts.get('2') ?? 0) / INVOCATIONS;
  assert.ok(Math.abs(share - 0.2) <= 0.03, `version 2 ran ${(share * 100).toFixed(1)}% of the time`);
});

test('an alias without routing always runs its version; the version itself runs unweighted', async (t) => {
  const server = await startTestServer();
  t.after(() => server.close());
  const client = server.client();
  await deploy(client, 'plain', source('one'));
  await client.send(new PublishVersionCommand({ FunctionName: 'plain' }));
  await client.send(new UpdateFunctionCodeCommand({ FunctionName: 'plain', ZipFile: await zipOf(source('two')) }));
  await waitActive(client, 'plain');
  await client.send(new PublishVersionCommand({ FunctionName: 'plain' }));
  await client.send(new CreateAliasCommand({ FunctionName: 'plain', Name: 'stable', FunctionVersion: '2', RoutingConfig: { AdditionalVersionWeights: { '1': 0 } } }));
  for (let i = 0; i < 20; i++) {
    assert.equal((await invoke(client, 'plain', {}, { Qualifier: 'stable' })).executedVersion, '2');
    assert.equal((await invoke(client, 'plain', {}, { Qualifier: '1' })).executedVersion, '1');
  }
});
