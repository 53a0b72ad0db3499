import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RuntimeApiError } from '../../../src/runtime-api/errors.js';
import { event, json, makeRuntimeApi, payloadOf, RuntimeClient, TRANSPORTS, until } from './runtime-client.js';

for (const transport of TRANSPORTS) {
  test(`over ${transport}, a runtime loops next → response → next and each event carries every header`, async (t) => {
    const { api } = await makeRuntimeApi(t, transport);
    if (transport === 'tcp') assert.match(api.address, /^127\.0\.0\.1:\d+$/);
    const runtime = new RuntimeClient(t, api);

    const first = event('11111111-aaaa-bbbb-cccc-000000000001', {
      deadlineMs: 1_542_409_706_888,
      invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:f:prod',
      payload: Buffer.from('{"hello":"world"}'),
      traceId: 'Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1',
      clientContext: '{"custom":{"foo":"bar"},"client":{"installation_id":"i"},"env":{"locale":"en"}}',
      cognitoIdentity: '{"cognitoIdentityId":"id","cognitoIdentityPoolId":"pool"}',
      tenantId: 'tenant-7',
    });
    const firstOutcome = api.invoke(first);
    const delivered = await runtime.next();
    assert.equal(delivered.status, 200);
    assert.deepEqual(delivered.body, first.payload);
    const h = delivered.headers;
    assert.equal(h['lambda-runtime-aws-request-id'], first.requestId);
    assert.equal(h['lambda-runtime-deadline-ms'], '1542409706888');
    assert.equal(h['lambda-runtime-invoked-function-arn'], 'arn:aws:lambda:us-east-1:123456789012:function:f:prod');
    assert.equal(h['lambda-runtime-trace-id'], first.traceId);
    assert.equal(h['lambda-runtime-client-context'], first.clientContext, 'raw JSON, not base64');
    assert.equal(h['lambda-runtime-cognito-identity'], first.cognitoIdentity);
    assert.equal(h['lambda-runtime-aws-tenant-id'], 'tenant-7');
    assert.equal(h['content-type'], 'application/json');
    assert.equal(h['content-length'], String(first.payload.length));

    const accepted = await runtime.respond(first.requestId, '{"ok":1}');
    assert.equal(accepted.status, 202);
    assert.deepEqual(json(accepted), { status: 'OK' });
    assert.deepEqual(await firstOutcome, { kind: 'response', payload: Buffer.from('{"ok":1}'), contentType: 'application/json' });

    const secondNext = runtime.next();
    await api.whenIdle();
    const secondOutcome = api.invoke(event('req-2', { payload: Buffer.from('[2]') }));
    const second = await secondNext;
    assert.equal(second.headers['lambda-runtime-aws-request-id'], 'req-2');
    assert.deepEqual(second.body, Buffer.from('[2]'));
    assert.equal((await runtime.respond('req-2', 'null')).status, 202);
    assert.deepEqual(payloadOf(await secondOutcome), Buffer.from('null'));
  });
}

test('optional event headers are left out when they are empty or absent', async (t) => {
  const { api } = await makeRuntimeApi(t);
  const runtime = new RuntimeClient(t, api);
  const outcome = api.invoke(event('plain', { traceId: '', clientContext: undefined, tenantId: '' }));
  const delivered = await runtime.next();
  for (const name of ['trace-id', 'client-context', 'cognito-identity', 'aws-tenant-id']) {
    assert.equal(delivered.headers[`lambda-runtime-${name}`], undefined, name);
  }
  assert.equal(delivered.headers['lambda-runtime-aws-request-id'], 'plain');
  await runtime.respond('plain', '1');
  assert.equal((await outcome).kind, 'response');
});

test('the first /next settles initialized as ready and makes the runtime idle', async (t) => {
  const { api } = await makeRuntimeApi(t);
  const runtime = new RuntimeClient(t, api);
  assert.equal(api.state, 'initializing');
  assert.equal(api.idle, false);
  const pending = runtime.next();
  assert.deepEqual(await api.initialized, { kind: 'ready' });
  await api.whenIdle();
  assert.equal(api.idle, true);
  assert.equal(api.state, 'idle');
  await api.whenIdle(); // already idle: resolves at once
  const outcome = api.invoke(event('r'));
  assert.equal(api.idle, false);
  assert.equal((await pending).status, 200);
  await runtime.respond('r', '{}');
  await outcome;
});

test('an invocation made before the runtime calls /next is delivered at its first /next', async (t) => {
  const { api } = await makeRuntimeApi(t);
  const runtime = new RuntimeClient(t, api);
  const outcome = api.invoke(event('queued'));
  assert.equal(api.state, 'initializing');
  const delivered = await runtime.next();
  assert.deepEqual(await api.initialized, { kind: 'ready' });
  assert.equal(delivered.headers['lambda-runtime-aws-request-id'], 'queued');
  await runtime.respond('queued', '"done"');
  assert.deepEqual(payloadOf(await outcome), Buffer.from('"done"'));
});

test('an invocation made after the answer but before the next /next waits for that /next', async (t) => {
  const { api } = await makeRuntimeApi(t);
  const runtime = new RuntimeClient(t, api);
  const first = api.invoke(event('a'));
  await runtime.next();
  await runtime.respond('a', '1');
  await first;
  assert.equal(api.state, 'answered');
  const second = api.invoke(event('b'));
  assert.equal((await runtime.next()).headers['lambda-runtime-aws-request-id'], 'b');
  await runtime.respond('b', '2');
  assert.deepEqual(payloadOf(await second), Buffer.from('2'));
});

test('one keep-alive connection carries many invocations', async (t) => {
  const { api } = await makeRuntimeApi(t);
  const runtime = new RuntimeClient(t, api);
  const sockets = new Set<unknown>();
  for (let i = 0; i < 5; i++) {
    const outcome = api.invoke(event(`k-${i}`));
    const delivered = await runtime.next();
    const answered = await runtime.respond(`k-${i}`, String(i));
    sockets.add(delivered.socket).add(answered.socket);
    if (i > 0) assert.equal(delivered.reusedSocket, true);
    assert.equal(answered.reusedSocket, true);
    assert.deepEqual(payloadOf(await outcome), Buffer.from(String(i)));
  }
  assert.equal(sockets.size, 1);
});

test('URL-encoded request ids in answer paths are decoded', async (t) => {
  const { api } = await makeRuntimeApi(t);
  const runtime = new RuntimeClient(t, api);
  const id = 'odd id/with:%chars';
  const outcome = api.invoke(event(id));
  assert.equal((await runtime.next()).headers['lambda-runtime-aws-request-id'], id);
  // RuntimeClient encodeURIComponent()s the id, as aws-lambda-ric does.
  assert.equal((await runtime.respond(id, '"x"')).status, 202);
  assert.deepEqual(payloadOf(await outcome), Buffer.from('"x"'));
});

test('a /next while the delivered event is unanswered is refused with 403 and the event stays answerable', async (t) => {
  const { api } = await makeRuntimeApi(t);
  const runtime = new RuntimeClient(t, api);
  const outcome = api.invoke(event('open'));
  await runtime.next();
  const early = await runtime.next();
  assert.equal(early.status, 403);
  assert.equal((json(early) as { errorType: string }).errorType, 'InvalidStateTransition');
  assert.equal((await runtime.respond('open', '1')).status, 202);
  assert.equal((await outcome).kind, 'response');
});

test('a second invoke() while one is open throws, and one after the answer is accepted', async (t) => {
  const { api } = await makeRuntimeApi(t);
  const runtime = new RuntimeClient(t, api);
  const first = api.invoke(event('one'));
  assert.throws(() => api.invoke(event('two')), (e: unknown) => e instanceof RuntimeApiError && e.code === 'ERR_RUNTIME_API_BUSY');
  await runtime.next();
  await runtime.respond('one', '1');
  await first;
  const second = api.invoke(event('two'));
  await runtime.next();
  await runtime.respond('two', '2');
  assert.deepEqual(payloadOf(await second), Buffer.from('2'));
});

test('invoke() refuses a field a header cannot carry, before anything reaches the runtime', async (t) => {
  const { api } = await makeRuntimeApi(t);
  for (const bad of [{ clientContext: '{"a":"\u20ac"}' }, { traceId: 'Root=1\r\nX: y' }, { requestId: '' }]) {
    assert.throws(
      () => api.invoke(event('x', bad)),
      (e: unknown) => e instanceof RuntimeApiError && e.code === 'ERR_RUNTIME_API_INVALID_INVOCATION',
    );
  }
  assert.equal(api.state, 'initializing');
});

test('a runtime that leaves /next is no longer idle and the next invocation waits for its return', async (t) => {
  const { api } = await makeRuntimeApi(t);
  const leaving = new RuntimeClient(t, api);
  const req = leaving.open('GET', '/2018-06-01/runtime/invocation/next');
  req.on('error', () => undefined);
  req.end();
  await api.whenIdle();
  req.destroy();
  await until(() => !api.idle, 'the server to see the /next connection close');
  assert.equal(api.state, 'answered');
  const outcome = api.invoke(event('later'));
  const runtime = new RuntimeClient(t, api);
  assert.equal((await runtime.next()).headers['lambda-runtime-aws-request-id'], 'later');
  await runtime.respond('later', '0');
  assert.equal((await outcome).kind, 'response');
});
