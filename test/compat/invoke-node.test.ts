/** Invoke through the AWS SDK: real sandboxed Node.js functions, exact wire results (LAMBDA_REFERENCE §1.5, §4, §5). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvokeCommand, PublishVersionCommand, CreateAliasCommand, UpdateFunctionCodeCommand, UpdateFunctionConfigurationCommand } from '@aws-sdk/client-lambda';
import { expectAwsError, functionArn, startWorld, UUID } from './fixtures.js';
import { assertBilled, deploy, invoke, parseReport, waitActive, zipOf } from './invoke-support.js';

const ECHO = `
let count = 0;
export const handler = async (event, context) => {
  count += 1;
  console.log('hello', JSON.stringify(event));
  return {
    event, count,
    requestId: context.awsRequestId, arn: context.invokedFunctionArn, name: context.functionName,
    version: context.functionVersion, memory: context.memoryLimitInMB, group: context.logGroupName,
    stream: context.logStreamName, remaining: context.getRemainingTimeInMillis(),
    clientContext: context.clientContext ?? null,
    env: { region: process.env.AWS_REGION, handler: process.env._HANDLER, task: process.env.LAMBDA_TASK_ROOT,
      api: process.env.AWS_LAMBDA_RUNTIME_API, secret: process.env.AWS_SECRET_ACCESS_KEY ?? null, tz: process.env.TZ,
      custom: process.env.CUSTOM ?? null, cwd: process.cwd() },
  };
};
`;

test('an async ESM handler answers with its result, the Lambda context and environment, and a REPORT line', async (t) => {
  const { client } = await startWorld(t);
  await deploy(client, 'echo', { 'index.mjs': ECHO }, { Environment: { Variables: { CUSTOM: 'yes' } } });
  const first = await invoke(client, 'echo', { a: 1 });
  assert.equal(first.statusCode, 200);
  assert.equal(first.functionError, undefined);
  assert.equal(first.executedVersion, '$LATEST');
  const body = first.json as Record<string, any>;
  assert.deepEqual(body.event, { a: 1 });
  assert.equal(body.count, 1);
  assert.match(body.requestId, UUID);
  assert.equal(body.requestId, first.requestId, 'the runtime sees the request id the caller got');
  assert.equal(body.arn, functionArn('echo'));
  assert.equal(body.name, 'echo');
  assert.equal(body.version, '$LATEST');
  assert.equal(body.memory, '128');
  assert.equal(body.group, '/aws/lambda/echo');
  assert.match(body.stream, /^\d{4}\/\d\d\/\d\d\/\[\$LATEST\][0-9a-f]{32}$/);
  assert.ok(body.remaining > 0 && body.remaining <= 3000, `remaining ${body.remaining}`);
  assert.deepEqual(body.env, {
    region: 'us-east-1', handler: 'index.handler', task: '/var/task', api: '127.0.0.1:9001', secret: null, tz: ':UTC', custom: 'yes', cwd: '/var/task',
  });

  assert.ok(first.log.startsWith(`START RequestId: ${first.requestId} Version: $LATEST\n`), 'the tail of a successful cold start begins at START');
  assert.ok(first.log.includes(`START RequestId: ${first.requestId} Version: $LATEST\n`));
  assert.match(first.log, new RegExp(`\\t${first.requestId}\\tINFO\\thello {"a":1}\\n`));
  assert.ok(first.log.includes(`END RequestId: ${first.requestId}\n`));
  const cold = parseReport(first.log, first.requestId!);
  assert.equal(cold.memoryMb, 128);
  assert.ok(cold.maxMemoryMb > 0 && cold.maxMemoryMb <= 128, `max memory ${cold.maxMemoryMb}`);
  assert.ok(cold.initMs !== undefined, 'a cold start reports Init Duration');
  assertBilled(cold.billedMs, cold.durationMs + cold.initMs);

  const second = await invoke(client, 'echo', { a: 2 });
  assert.equal((second.json as Record<string, unknown>).count, 2, 'module state survives a warm invocation');
  const warm = parseReport(second.log, second.requestId!);
  assert.equal(warm.initMs, undefined, 'a warm start reports no Init Duration');
  assert.ok(!second.log.includes('INIT_START'));
});

test('a thrown error is a 200 with X-Amz-Function-Error Unhandled and the Node error document', async (t) => {
  const { client } = await startWorld(t);
  await deploy(client, 'boom', { 'index.js': "exports.handler = async () => { const e = new TypeError('boom'); throw e; };\n" });
  const out = await invoke(client, 'boom');
  assert.equal(out.statusCode, 200);
  assert.equal(out.functionError, 'Unhandled');
  const doc = out.json as { errorType: string; errorMessage: string; trace: string[] };
  assert.equal(doc.errorType, 'TypeError');
  assert.equal(doc.errorMessage, 'boom');
  assert.ok(Array.isArray(doc.trace) && doc.trace[0] === 'TypeError: boom');
  // The environment stays warm after a handled function error.
  assert.equal((await invoke(client, 'boom')).functionError, 'Unhandled');
});

test('a function past its timeout gets Sandbox.Timedout, a timeout REPORT, and the next invocation a fresh runtime', async (t) => {
  const { client } = await startWorld(t);
  await deploy(client, 'slow', {
    'index.mjs': 'let n = 0;\nexport const handler = async (e) => { n += 1; if (e.wait) await new Promise((r) => setTimeout(r, 5000)); return n; };\n',
  }, { Timeout: 1 });
  assert.equal((await invoke(client, 'slow', {})).json, 1);
  const out = await invoke(client, 'slow', { wait: true });
  assert.equal(out.functionError, 'Unhandled');
  assert.deepEqual(out.json, { errorType: 'Sandbox.Timedout', errorMessage: `RequestId: ${out.requestId} Error: Task timed out after 1.00 seconds` });
  assert.match(out.log, new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z ${out.requestId} Task timed out after 1\\.\\d\\d seconds$`, 'm'));
  assert.equal(parseReport(out.log, out.requestId!).status, 'timeout');
  assert.equal((await invoke(client, 'slow', {})).json, 1, 'the runtime was reset: module state starts again');
});

test('a runtime that exits is reported as Runtime.ExitError with its exit status', async (t) => {
  const { client } = await startWorld(t);
  await deploy(client, 'quits', { 'index.js': 'exports.handler = async () => { process.exit(3); };\n' });
  const out = await invoke(client, 'quits');
  assert.equal(out.functionError, 'Unhandled');
  assert.deepEqual(out.json, { errorType: 'Runtime.ExitError', errorMessage: `RequestId: ${out.requestId} Error: Runtime exited with error: exit status 3` });
});

test('a function that exhausts its memory is reported as Runtime.OutOfMemory and the server carries on', async (t) => {
  const { client } = await startWorld(t);
  await deploy(client, 'hog', {
    'index.js': 'const keep = [];\nexports.handler = async () => { for (;;) keep.push(Buffer.alloc(16 * 1024 * 1024, 1)); };\n',
  }, { MemorySize: 128, Timeout: 30 }); // 128 MB gets 7% of a CPU, as on Lambda: filling it takes seconds
  const out = await invoke(client, 'hog');
  assert.equal(out.functionError, 'Unhandled');
  assert.deepEqual(out.json, { errorType: 'Runtime.OutOfMemory', errorMessage: `RequestId: ${out.requestId} Error: Runtime exited with error: signal: killed` });
  const report = parseReport(out.log, out.requestId!);
  assert.ok(report.maxMemoryMb > 64 && report.maxMemoryMb <= 128, `max memory ${report.maxMemoryMb}`);
  assert.deepEqual([report.status, report.errorType], ['error', 'Runtime.OutOfMemory']);
  await deploy(client, 'fine', { 'index.mjs': 'export const handler = async () => "ok";\n' });
  assert.equal((await invoke(client, 'fine')).json, 'ok');
});

test('a response over 6 MB is Function.ResponseSizeTooLarge; a request over 6 MB is refused with 413', async (t) => {
  const { client, rec } = await startWorld(t);
  await deploy(client, 'big', { 'index.mjs': "export const handler = async () => 'x'.repeat(7 * 1024 * 1024);\n" });
  const out = await invoke(client, 'big');
  assert.equal(out.functionError, 'Unhandled');
  assert.deepEqual(out.json, {
    errorMessage: 'Response payload size exceeded maximum allowed payload size (6291556 bytes).',
    errorType: 'Function.ResponseSizeTooLarge',
  });
  const huge = Buffer.from(JSON.stringify('y'.repeat(6_291_457)));
  await expectAwsError(rec, 'Invoke', client.send(new InvokeCommand({ FunctionName: 'big', Payload: huge })), {
    type: 'RequestEntityTooLargeException',
    status: 413,
    message: 'Request must be smaller than 6291456 bytes for the InvokeFunction operation',
  });
});

test('a payload that is not JSON is refused with InvalidRequestContentException; an empty one is {}', async (t) => {
  const { client, rec } = await startWorld(t);
  await deploy(client, 'echo2', { 'index.mjs': 'export const handler = async (e) => e;\n' });
  await expectAwsError(rec, 'Invoke', client.send(new InvokeCommand({ FunctionName: 'echo2', Payload: Buffer.from('{not json') })), {
    type: 'InvalidRequestContentException',
    status: 400,
    message: /^Could not parse request body into json: Could not parse payload into json: /,
  });
  const empty = await client.send(new InvokeCommand({ FunctionName: 'echo2' }));
  assert.equal(Buffer.from(empty.Payload ?? []).toString(), '{}');
});

test('init failures reach the first invocation as Runtime.* errors with an INIT_REPORT line', async (t) => {
  const { client } = await startWorld(t);
  await deploy(client, 'nohandler', { 'index.js': 'exports.other = async () => 1;\n' });
  const missing = await invoke(client, 'nohandler');
  assert.equal(missing.functionError, 'Unhandled');
  assert.equal((missing.json as { errorType: string }).errorType, 'Runtime.HandlerNotFound');
  assert.match(missing.log, /INIT_REPORT Init Duration: \d+\.\d\d ms\tPhase: init\tStatus: error\tError Type: Runtime\.HandlerNotFound/);

  await deploy(client, 'noimport', { 'index.js': "require('no-such-module');\nexports.handler = async () => 1;\n" });
  assert.equal(((await invoke(client, 'noimport')).json as { errorType: string }).errorType, 'Runtime.ImportModuleError');

  await deploy(client, 'syntax', { 'index.js': 'exports.handler = async () => {;\n' });
  assert.equal(((await invoke(client, 'syntax')).json as { errorType: string }).errorType, 'Runtime.UserCodeSyntaxError');
});

test('an init that outlasts the init timeout is reported as a timeout', async (t) => {
  const { client } = await startWorld(t, { env: { KINDLING_INIT_TIMEOUT_MS: '500' } });
  await deploy(client, 'slowinit', { 'index.mjs': 'await new Promise((r) => setTimeout(r, 3000));\nexport const handler = async () => 1;\n' });
  const out = await invoke(client, 'slowinit');
  assert.equal(out.functionError, 'Unhandled');
  assert.equal((out.json as { errorType: string }).errorType, 'Sandbox.Timedout');
  assert.match(out.log, /INIT_REPORT Init Duration: \d+\.\d\d ms\tPhase: init\tStatus: timeout/);
});

test('new code and new settings are served right after an update; old environments drain', async (t) => {
  const { client } = await startWorld(t);
  await deploy(client, 'changing', { 'index.mjs': 'export const handler = async () => ({ v: 1, m: process.env.MODE ?? null });\n' });
  assert.deepEqual((await invoke(client, 'changing')).json, { v: 1, m: null });
  await client.send(new UpdateFunctionCodeCommand({ FunctionName: 'changing', ZipFile: await zipOf({ 'index.mjs': 'export const handler = async () => ({ v: 2, m: process.env.MODE ?? null });\n' }) }));
  await waitActive(client, 'changing');
  assert.deepEqual((await invoke(client, 'changing')).json, { v: 2, m: null });
  await client.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'changing', Environment: { Variables: { MODE: 'set' } } }));
  await waitActive(client, 'changing');
  assert.deepEqual((await invoke(client, 'changing')).json, { v: 2, m: 'set' });
});

test('a qualifier picks the version; an alias shows in the invoked ARN and X-Amz-Executed-Version names the version', async (t) => {
  const { client } = await startWorld(t);
  await deploy(client, 'q', { 'index.mjs': 'export const handler = async (e, c) => ({ arn: c.invokedFunctionArn, v: c.functionVersion });\n' });
  await client.send(new PublishVersionCommand({ FunctionName: 'q' }));
  await client.send(new CreateAliasCommand({ FunctionName: 'q', Name: 'live', FunctionVersion: '1' }));
  const viaAlias = await invoke(client, 'q:live');
  assert.equal(viaAlias.executedVersion, '1');
  assert.deepEqual(viaAlias.json, { arn: functionArn('q', 'live'), v: '1' });
  const viaVersion = await invoke(client, 'q', {}, { Qualifier: '1' });
  assert.deepEqual(viaVersion.json, { arn: functionArn('q', '1'), v: '1' });
  assert.match(viaVersion.log, /START RequestId: [0-9a-f-]+ Version: 1\n/);
});

test('the client context reaches the handler decoded; DryRun answers 204 without running anything', async (t) => {
  const { client } = await startWorld(t);
  await deploy(client, 'ctx', { 'index.mjs': 'let runs = 0;\nexport const handler = async (e, c) => ({ custom: c.clientContext?.custom ?? null, runs: ++runs });\n' });
  const clientContext = Buffer.from(JSON.stringify({ custom: { foo: 'bar' }, client: {}, env: {} })).toString('base64');
  const out = await invoke(client, 'ctx', {}, { ClientContext: clientContext });
  assert.deepEqual(out.json, { custom: { foo: 'bar' }, runs: 1 });
  const dry = await client.send(new InvokeCommand({ FunctionName: 'ctx', InvocationType: 'DryRun' }));
  assert.equal(dry.StatusCode, 204);
  assert.deepEqual((await invoke(client, 'ctx')).json, { custom: null, runs: 2 });
});

test('concurrent invocations of one version run in separate environments and a second wave reuses them', async (t) => {
  const { client } = await startWorld(t);
  await deploy(client, 'par', {
    'index.mjs': "import { randomUUID } from 'node:crypto';\nconst id = randomUUID();\nexport const handler = async (e) => { await new Promise((r) => setTimeout(r, Math.max(0, e.until - Date.now()))); return id; };\n",
  }, { Timeout: 10 });
  // Every request of a wave holds its environment until one shared moment, so none can finish before the last one
  // has been placed (a request waiting for its own cold start would take an environment released meanwhile).
  const wave = async () => {
    const until = Date.now() + 4_000;
    const outs = await Promise.all([1, 2, 3].map(() => invoke(client, 'par', { until })));
    for (const o of outs) assert.equal(o.functionError, undefined, o.text);
    return outs.map((o) => o.json as string);
  };
  const first = await wave();
  assert.equal(new Set(first).size, 3, 'three environments');
  const second = await wave();
  assert.deepEqual(new Set(second), new Set(first), 'the same three environments, warm');
});

test('a callback-style CommonJS handler answers through its callback', async (t) => {
  const { client } = await startWorld(t);
  await deploy(client, 'cb', { 'index.js': 'exports.handler = (event, context, callback) => { setTimeout(() => callback(null, { got: event.x }), 10); };\n' });
  assert.deepEqual((await invoke(client, 'cb', { x: 7 })).json, { got: 7 });
});
