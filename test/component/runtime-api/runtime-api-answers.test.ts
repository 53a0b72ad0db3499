import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { RuntimeApiError } from '../../../src/runtime-api/errors.js';
import type { InvocationOutcome, RuntimeApi } from '../../../src/runtime-api/server.js';
import { collect, event, json, makeRuntimeApi, payloadOf, RawConnection, RuntimeClient } from './runtime-client.js';

/** A runtime holding event `id`: the invocation is delivered and unanswered. */
async function delivered(t: TestContext, id = 'req-1'): Promise<{ api: RuntimeApi; runtime: RuntimeClient; outcome: Promise<InvocationOutcome> }> {
  const { api } = await makeRuntimeApi(t);
  const runtime = new RuntimeClient(t, api);
  const outcome = api.invoke(event(id));
  assert.equal((await runtime.next()).status, 200);
  return { api, runtime, outcome };
}

const NODE_ERROR = '{"errorType":"TypeError","errorMessage":"boom","trace":["TypeError: boom","    at handler"]}';

test('an answer for an unknown id gets 400 InvalidRequestID and the open invocation can still be answered', async (t) => {
  const { runtime, outcome } = await delivered(t);
  for (const reply of [await runtime.respond('req-2', '1'), await runtime.error('nope', '{}'), await runtime.respond('%E0%A4%A', '1')]) {
    assert.equal(reply.status, 400);
    assert.deepEqual(json(reply), { errorType: 'InvalidRequestID', errorMessage: 'Invalid request ID' });
  }
  assert.equal((await runtime.respond('req-1', '"right"')).status, 202);
  assert.deepEqual(payloadOf(await outcome), Buffer.from('"right"'));
});

test('a second answer for an answered id gets 403 and the caller keeps the first', async (t) => {
  const { runtime, outcome } = await delivered(t);
  assert.equal((await runtime.respond('req-1', '"first"')).status, 202);
  const again = await runtime.respond('req-1', '"second"');
  assert.equal(again.status, 403);
  assert.equal((json(again) as { errorType: string }).errorType, 'InvalidStateTransition');
  const errorAfter = await runtime.error('req-1', NODE_ERROR);
  assert.equal(errorAfter.status, 403);
  assert.deepEqual(await outcome, { kind: 'response', payload: Buffer.from('"first"'), contentType: 'application/json' });
});

test('an answer for the previous invocation after a new one was delivered gets 400', async (t) => {
  const { api, runtime, outcome } = await delivered(t, 'old');
  await runtime.respond('old', '1');
  await outcome;
  const next = api.invoke(event('new'));
  await runtime.next();
  assert.equal((await runtime.respond('old', '2')).status, 400);
  assert.equal((await runtime.respond('new', '3')).status, 202);
  assert.deepEqual(payloadOf(await next), Buffer.from('3'));
});

test('an error with a well-formed error-type header takes its type from the header and passes the body through', async (t) => {
  const { runtime, outcome } = await delivered(t);
  const reply = await runtime.error('req-1', NODE_ERROR, { 'lambda-runtime-function-error-type': 'Runtime.ImportModuleError' });
  assert.equal(reply.status, 202);
  assert.deepEqual(json(reply), { status: 'OK' });
  assert.deepEqual(await outcome, { kind: 'error', errorType: 'Runtime.ImportModuleError', payload: Buffer.from(NODE_ERROR) });
});

test('an error without a type header takes its type from the JSON body', async (t) => {
  const { runtime, outcome } = await delivered(t);
  assert.equal((await runtime.error('req-1', NODE_ERROR, { 'content-type': 'application/json' })).status, 202);
  assert.deepEqual(await outcome, { kind: 'error', errorType: 'TypeError', payload: Buffer.from(NODE_ERROR) });
});

for (const [header, body, bodyLabel, expected] of [
  ['Function.lowercase', NODE_ERROR, 'a TypeError body', 'Function.Unknown'],
  ['Function.', '{}', 'an empty object', 'Function.Unknown'],
  ['Error', NODE_ERROR, 'a TypeError body', 'TypeError'],
  ['Error', 'not json', 'a non-JSON body', 'Runtime.Unknown'],
  ['runtime.Lower', '{"errorType":7}', 'a non-string errorType', 'Runtime.Unknown'],
] as const) {
  test(`an error-type header "${header}" with ${bodyLabel} is reported as ${expected}`, async (t) => {
    const { runtime, outcome } = await delivered(t);
    assert.equal((await runtime.error('req-1', body, { 'lambda-runtime-function-error-type': header })).status, 202);
    assert.deepEqual(await outcome, { kind: 'error', errorType: expected, payload: Buffer.from(body) });
  });
}

test('an error with an empty body gets a payload synthesised from its type', async (t) => {
  const { runtime, outcome } = await delivered(t);
  assert.equal((await runtime.error('req-1', '', { 'lambda-runtime-function-error-type': 'Function.Crashed' })).status, 202);
  const result = await outcome;
  assert.equal(result.kind, 'error');
  assert.equal(result.errorType, 'Function.Crashed');
  const payload = JSON.parse(result.payload.toString()) as Record<string, unknown>;
  assert.equal(payload.errorType, 'Function.Crashed');
  assert.equal(typeof payload.errorMessage, 'string');
});

test('an error with neither header nor body is Runtime.Unknown', async (t) => {
  const { runtime, outcome } = await delivered(t);
  assert.equal((await runtime.error('req-1', '')).status, 202);
  const result = await outcome;
  assert.equal(result.kind === 'error' && result.errorType, 'Runtime.Unknown');
  assert.equal((JSON.parse(result.kind === 'error' ? result.payload.toString() : '{}') as { errorType: string }).errorType, 'Runtime.Unknown');
});

test('the official Node client’s byte-exact requests are understood: error type from the body, X-Ray cause ignored', async (t) => {
  const { api } = await makeRuntimeApi(t);
  const conn = new RawConnection(t, api.address);
  const curlHead = (method: string, path: string) =>
    `${method} /2018-06-01/runtime/${path} HTTP/1.1\r\nHost: 127.0.0.1:9001\r\nUser-Agent: AWS_Lambda_Cpp/0.2.8\r\nAccept: */*\r\n`;

  const first = api.invoke(event('c4b1a7e2-0000-4000-8000-000000000001'));
  conn.write(curlHead('GET', 'invocation/next') + '\r\n');
  const next = await conn.readReply();
  assert.equal(next.status, 200);
  assert.match(next.head, /\r\nLambda-Runtime-Aws-Request-Id: c4b1a7e2-0000-4000-8000-000000000001\r\n/);
  const result = '{"statusCode":200}';
  conn.write(
    curlHead('POST', 'invocation/c4b1a7e2-0000-4000-8000-000000000001/response') +
      `content-type: application/json\r\nlambda-runtime-function-xray-error-cause: \r\nContent-Length: ${result.length}\r\n\r\n${result}`,
  );
  assert.equal((await conn.readReply()).status, 202);
  assert.deepEqual(payloadOf(await first), Buffer.from(result));

  conn.write(curlHead('GET', 'invocation/next') + '\r\n');
  await api.whenIdle();
  const second = api.invoke(event('c4b1a7e2-0000-4000-8000-000000000002'));
  assert.equal((await conn.readReply()).status, 200);
  const cause = '{"working_directory":"/var/task","exceptions":[{"type":"TypeError","message":"boom"}],"paths":[]}';
  conn.write(
    curlHead('POST', 'invocation/c4b1a7e2-0000-4000-8000-000000000002/error') +
      `lambda-runtime-function-xray-error-cause: ${cause}\r\nContent-Length: ${NODE_ERROR.length}\r\n\r\n${NODE_ERROR}`,
  );
  const accepted = await conn.readReply();
  assert.equal(accepted.status, 202);
  assert.equal(accepted.body.toString(), '{"status":"OK"}');
  assert.deepEqual(await second, { kind: 'error', errorType: 'TypeError', payload: Buffer.from(NODE_ERROR) });
});

test('a response mode other than streaming gets 400 InvalidFunctionResponseMode and the invocation stays open', async (t) => {
  const { runtime, outcome } = await delivered(t);
  const refused = await runtime.respond('req-1', '1', { 'lambda-runtime-function-response-mode': 'buffered' });
  assert.equal(refused.status, 400);
  assert.equal((json(refused) as { errorType: string }).errorType, 'InvalidFunctionResponseMode');
  assert.equal((await runtime.respond('req-1', '2')).status, 202);
  assert.deepEqual(payloadOf(await outcome), Buffer.from('2'));
});

test('a streamed response is collected whole with its content type', async (t) => {
  const { runtime, outcome } = await delivered(t);
  const req = runtime.open('POST', '/2018-06-01/runtime/invocation/req-1/response', {
    'lambda-runtime-function-response-mode': 'streaming',
    'content-type': 'application/octet-stream',
    trailer: 'Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body',
  });
  const reply = collect(req);
  req.write('part one, ');
  req.write('part two');
  req.end();
  assert.equal((await reply).status, 202);
  assert.deepEqual(await outcome, { kind: 'response', payload: Buffer.from('part one, part two'), contentType: 'application/octet-stream' });
});

test('a streamed response that fails midway reports the error from its trailers', async (t) => {
  const { runtime, outcome } = await delivered(t);
  const req = runtime.open('POST', '/2018-06-01/runtime/invocation/req-1/response', {
    'lambda-runtime-function-response-mode': 'streaming',
    trailer: 'Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body',
  });
  const reply = collect(req);
  req.write('partial output');
  const errorJson = '{"errorType":"Error","errorMessage":"mid-stream","trace":[]}';
  req.addTrailers({
    'Lambda-Runtime-Function-Error-Type': 'Error',
    'Lambda-Runtime-Function-Error-Body': Buffer.from(errorJson).toString('base64'),
  });
  req.end();
  assert.equal((await reply).status, 202);
  assert.deepEqual(await outcome, { kind: 'error', errorType: 'Error', payload: Buffer.from(errorJson) });
});

test('after abandon() the invocation rejects and a late answer for it gets 403', async (t) => {
  const { api, runtime, outcome } = await delivered(t);
  api.abandon();
  await assert.rejects(outcome, (e: unknown) => e instanceof RuntimeApiError && e.code === 'ERR_RUNTIME_API_ABANDONED');
  assert.equal((await runtime.respond('req-1', 'late')).status, 403);
  assert.equal((await runtime.error('req-1', NODE_ERROR)).status, 403);
  api.abandon(); // nothing open: no effect
  const next = api.invoke(event('after'));
  assert.equal((await runtime.next()).headers['lambda-runtime-aws-request-id'], 'after');
  assert.equal((await runtime.respond('after', '1')).status, 202);
  assert.equal((await next).kind, 'response');
});

test('abandon() drops an invocation that was never delivered', async (t) => {
  const { api } = await makeRuntimeApi(t);
  const runtime = new RuntimeClient(t, api);
  const outcome = api.invoke(event('never'));
  api.abandon();
  await assert.rejects(outcome, (e: unknown) => e instanceof RuntimeApiError && e.code === 'ERR_RUNTIME_API_ABANDONED');
  const pending = runtime.next();
  await api.whenIdle();
  const real = api.invoke(event('real'));
  assert.equal((await pending).headers['lambda-runtime-aws-request-id'], 'real');
  await runtime.respond('real', '1');
  await real;
});
