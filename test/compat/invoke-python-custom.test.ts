/** Invoke through the AWS SDK: python3.11 with our bootstrap, and custom runtimes (provided.al2023) with their own. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startWorld } from './fixtures.js';
import { deploy, invoke, parseReport, zipOf } from './invoke-support.js';
import { PublishLayerVersionCommand } from '@aws-sdk/client-lambda';

const PY = `
import logging, os
logger = logging.getLogger()
logger.setLevel(logging.INFO)
calls = 0

class Refused(Exception):
    pass

def handler(event, context):
    global calls
    calls += 1
    logger.info("got %s", event)
    print("plain print")
    if event.get("fail"):
        raise Refused("no way")
    return {"calls": calls, "request": context.aws_request_id, "memory": context.memory_limit_in_mb,
            "name": context.function_name, "remaining": context.get_remaining_time_in_millis(),
            "path_ok": "/opt/python" in os.environ.get("PYTHONPATH", "")}
`;

test('a python3.11 function answers, logs in AWS format, and raises with the Python error document', async (t) => {
  const { client } = await startWorld(t);
  await deploy(client, 'py', { 'app.py': PY }, { Runtime: 'python3.11', Handler: 'app.handler' });
  const ok = await invoke(client, 'py', { x: 1 });
  assert.equal(ok.functionError, undefined);
  const body = ok.json as Record<string, unknown>;
  assert.equal(body.calls, 1);
  assert.equal(body.request, ok.requestId);
  assert.equal(body.memory, '128');
  assert.equal(body.name, 'py');
  assert.equal(body.path_ok, true);
  assert.ok((body.remaining as number) > 0 && (body.remaining as number) <= 3000);
  assert.match(ok.log, new RegExp(`\\[INFO\\]\\t\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z\\t${ok.requestId}\\tgot \\{'x': 1\\}\\n`));
  assert.ok(ok.log.includes('plain print\n'));
  assert.ok(parseReport(ok.log, ok.requestId!).initMs !== undefined);

  const failed = await invoke(client, 'py', { fail: true });
  assert.equal(failed.functionError, 'Unhandled');
  const doc = failed.json as { errorMessage: string; errorType: string; requestId: string; stackTrace: string[] };
  assert.equal(doc.errorType, 'Refused');
  assert.equal(doc.errorMessage, 'no way');
  assert.equal(doc.requestId, failed.requestId);
  assert.ok(doc.stackTrace.some((frame) => frame.includes('/var/task/app.py')), JSON.stringify(doc.stackTrace));
  assert.equal(((await invoke(client, 'py', {})).json as Record<string, unknown>).calls, 3, 'state survives warm invocations');
});

const LOOP = `
const api = 'http://' + process.env.AWS_LAMBDA_RUNTIME_API + '/2018-06-01/runtime';
for (;;) {
  const next = await fetch(api + '/invocation/next');
  const id = next.headers.get('lambda-runtime-aws-request-id');
  const event = await next.json();
  if (event.fail) {
    await fetch(api + '/invocation/' + id + '/error', { method: 'POST', headers: { 'Lambda-Runtime-Function-Error-Type': 'Function.Refused' },
      body: JSON.stringify({ errorType: 'Refused', errorMessage: 'custom says no' }) });
  } else {
    await fetch(api + '/invocation/' + id + '/response', { method: 'POST',
      body: JSON.stringify({ echo: event.x, handler: process.env._HANDLER, from: process.argv[1] }) });
  }
}
`;

test('a provided.al2023 function runs its own bootstrap against the Runtime API', async (t) => {
  const { client } = await startWorld(t);
  await deploy(
    client,
    'custom',
    { bootstrap: { data: '#!/bin/sh\nexec /usr/bin/node /var/task/loop.mjs\n', mode: 0o755 }, 'loop.mjs': LOOP },
    { Runtime: 'provided.al2023', Handler: 'anything.here' },
  );
  const ok = await invoke(client, 'custom', { x: 'y' });
  assert.deepEqual(ok.json, { echo: 'y', handler: 'anything.here', from: '/var/task/loop.mjs' });
  const failed = await invoke(client, 'custom', { fail: true });
  assert.equal(failed.functionError, 'Unhandled');
  assert.deepEqual(failed.json, { errorType: 'Refused', errorMessage: 'custom says no' });
});

test('a custom runtime may come from a layer as /opt/bootstrap; without any bootstrap the invocation says so', async (t) => {
  const { client } = await startWorld(t);
  const layer = await client.send(
    new PublishLayerVersionCommand({
      LayerName: 'runtime',
      Content: { ZipFile: await zipOf({ bootstrap: { data: '#!/bin/sh\nexec /usr/bin/node /opt/loop.mjs\n', mode: 0o755 }, 'loop.mjs': LOOP }) },
    }),
  );
  await deploy(client, 'layered', { 'readme.txt': 'code lives in the layer' }, { Runtime: 'provided.al2023', Handler: 'h', Layers: [layer.LayerVersionArn!] });
  assert.deepEqual((await invoke(client, 'layered', { x: 1 })).json, { echo: 1, handler: 'h', from: '/opt/loop.mjs' });

  await deploy(client, 'empty', { 'readme.txt': 'no bootstrap here' }, { Runtime: 'provided.al2023', Handler: 'h' });
  const out = await invoke(client, 'empty');
  assert.equal(out.functionError, 'Unhandled');
  assert.deepEqual(out.json, { errorType: 'Runtime.InvalidEntrypoint', errorMessage: "Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]" });
});
