/**
 * The official Node runtime interface client, aws-lambda-ric@3.3.0, run unchanged as a provided.al2023 custom
 * runtime: the client comes from a layer (/opt/nodejs/node_modules/aws-lambda-ric), the function zip holds only a
 * `bootstrap` and the handler. It talks to our Runtime API through its native addon (aws-lambda-cpp + libcurl), so
 * this suite is the check that a real client, not only our own bootstraps, is satisfied (LAMBDA_REFERENCE §3.4).
 * The client is built once into the gitignored .cache (test/support/ric-fixture.ts); the first build takes minutes.
 */
import assert from 'node:assert/strict';
import { before, test, type TestContext } from 'node:test';
import { PublishLayerVersionCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { MAX_UNZIPPED_CODE_BYTES, MAX_ZIPPED_CODE_BYTES } from '../../src/model/limits.js';
import { BUILD_TIMEOUT_MS, buildRicLayerZip, ensureAwsLambdaRic, type LayerZip } from '../support/ric-fixture.js';
import { startWorld, UUID } from './fixtures.js';
import { assertBilled, deploy, invoke, parseReport } from './invoke-support.js';

/** The client's CLI takes the handler as its argument and the app root from the working directory. */
const BOOTSTRAP = '#!/bin/sh\ncd /var/task || exit 1\nexec /usr/bin/node /opt/nodejs/node_modules/aws-lambda-ric/bin/index.mjs "$_HANDLER"\n';

const HANDLERS = `
export const handler = async (event, context) => ({ ok: event.x, id: context.awsRequestId });

class Refused extends Error {
  constructor(message) {
    super(message);
    this.name = 'Refused';
  }
}
export const fails = async () => {
  throw new Refused('no way');
};
`;

let prepared: { layer: LayerZip } | { skip: string };

before(
  async () => {
    const cache = await ensureAwsLambdaRic();
    prepared = typeof cache === 'string' ? { layer: await buildRicLayerZip(cache) } : cache;
  },
  { timeout: BUILD_TIMEOUT_MS + 60_000 },
);

/** Publishes the client layer and deploys the handlers with it; returns the client, or undefined when skipped. */
async function deployWithRic(t: TestContext, name: string, handler: string): Promise<LambdaClient | undefined> {
  if ('skip' in prepared) {
    t.skip(prepared.skip);
    return undefined;
  }
  const { client } = await startWorld(t);
  const layer = await client.send(
    new PublishLayerVersionCommand({ LayerName: 'aws-lambda-ric', Content: { ZipFile: prepared.layer.zip }, CompatibleRuntimes: ['provided.al2023'] }),
  );
  await deploy(client, name, { bootstrap: { data: BOOTSTRAP, mode: 0o755 }, 'index.mjs': HANDLERS }, {
    Runtime: 'provided.al2023',
    Handler: handler,
    Layers: [layer.LayerVersionArn!],
    // Generous for a loaded machine: the client's own work is milliseconds.
    Timeout: 15,
  });
  return client;
}

test('the pruned client layer is within the layer quotas', (t) => {
  if ('skip' in prepared) return t.skip(prepared.skip);
  const { zip, unzippedBytes, entries } = prepared.layer;
  t.diagnostic(`aws-lambda-ric layer: ${zip.length} bytes zipped, ${unzippedBytes} bytes unzipped, ${entries} entries`);
  assert.ok(zip.length <= MAX_ZIPPED_CODE_BYTES, `${zip.length} bytes zipped`);
  assert.ok(unzippedBytes <= MAX_UNZIPPED_CODE_BYTES, `${unzippedBytes} bytes unzipped`);
});

test('aws-lambda-ric from a layer answers with the handler result and the request id the caller got, cold then warm', async (t) => {
  const client = await deployWithRic(t, 'ric', 'index.handler');
  if (client === undefined) return;

  const cold = await invoke(client, 'ric', { x: 1 });
  assert.equal(cold.statusCode, 200);
  assert.equal(cold.functionError, undefined, cold.text);
  assert.match(cold.requestId ?? '', UUID);
  assert.deepEqual(cold.json, { ok: 1, id: cold.requestId });
  const coldReport = parseReport(cold.log, cold.requestId!);
  assert.equal(coldReport.memoryMb, 128);
  assert.ok(coldReport.initMs !== undefined, 'a cold start reports Init Duration');
  assertBilled(coldReport.billedMs, coldReport.durationMs + coldReport.initMs);
  assert.equal(coldReport.status, undefined);

  // The client went back to GET /next through its native addon and serves the next event in the same process.
  const warm = await invoke(client, 'ric', { x: 'two' });
  assert.equal(warm.functionError, undefined, warm.text);
  assert.deepEqual(warm.json, { ok: 'two', id: warm.requestId });
  assert.notEqual(warm.requestId, cold.requestId);
  assert.equal(parseReport(warm.log, warm.requestId!).initMs, undefined, 'a warm invocation has no Init Duration');
});

test('a handler that throws under aws-lambda-ric gives FunctionError Unhandled with the error document the client posted', async (t) => {
  const client = await deployWithRic(t, 'ric-fails', 'index.fails');
  if (client === undefined) return;

  const failed = await invoke(client, 'ric-fails', { x: 1 });
  assert.equal(failed.statusCode, 200);
  assert.equal(failed.functionError, 'Unhandled');
  // The client sends no Lambda-Runtime-Function-Error-Type header: the type is the one in its body.
  const doc = failed.json as { errorType: string; errorMessage: string; trace: string[] };
  assert.deepEqual(Object.keys(doc), ['errorType', 'errorMessage', 'trace']);
  assert.equal(doc.errorType, 'Refused');
  assert.equal(doc.errorMessage, 'no way');
  assert.equal(doc.trace[0], 'Refused: no way');
  assert.match(doc.trace[1] ?? '', /^ {4}at Runtime\.fails \[as handler\] \(file:\/\/\/var\/task\/index\.mjs:\d+:\d+\)$/);
  assert.ok(
    doc.trace.some((frame) => frame.includes('file:///opt/nodejs/node_modules/aws-lambda-ric/dist/index.mjs')),
    `the client from the layer ran the handler: ${JSON.stringify(doc.trace)}`,
  );

  // The client logs the failure in Lambda's Node format: time, request id, level, then the error as JSON.
  const errorLine = failed.log.split('\n').find((line) => line.includes('\tERROR\t'));
  assert.ok(errorLine, `no ERROR line in:\n${failed.log}`);
  const logged = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)\t([0-9a-f-]{36})\tERROR\tInvoke Error \t(\{.*\})$/.exec(errorLine);
  assert.ok(logged, `the ERROR line has not the client's format: ${JSON.stringify(errorLine)}`);
  assert.equal(logged[2], failed.requestId);
  assert.deepEqual(JSON.parse(logged[3]!), { errorType: 'Refused', errorMessage: 'no way', name: 'Refused', stack: doc.trace });

  assert.ok(failed.log.startsWith(`START RequestId: ${failed.requestId} Version: $LATEST\n`));
  assert.ok(failed.log.includes(`END RequestId: ${failed.requestId}\n`));
  const report = parseReport(failed.log, failed.requestId!);
  assert.equal(report.status, undefined, 'a handled function error is not a runtime failure');
  assert.ok(report.initMs !== undefined);

  // The environment survives a function error: the next event is served by the same client.
  const again = await invoke(client, 'ric-fails', {});
  assert.equal(again.functionError, 'Unhandled');
  assert.equal(parseReport(again.log, again.requestId!).initMs, undefined, 'the failed invocation did not cost a new environment');
});
