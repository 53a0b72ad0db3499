/** The pre-warm binding endpoint (binding-gate.ts): answered once, the runtime endpoints closed until then. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RuntimeApiError } from '../../../src/runtime-api/errors.js';
import { event, json, makeRuntimeApi, RuntimeClient } from './runtime-client.js';

const BINDING = '/kindling/binding';

test('the binding request waits until bind(); then it is 403, and the runtime goes on as any other', async (t) => {
  const { api } = await makeRuntimeApi(t, 'unix', { binding: true });
  const runtime = new RuntimeClient(t, api);
  const waiting = runtime.request('GET', BINDING);
  await api.awaitingBinding;
  const settings = Buffer.from(JSON.stringify({ env: { A: '1' } }));
  api.bind(settings);
  const answer = await waiting;
  assert.equal(answer.status, 200);
  assert.deepEqual(json(answer), { env: { A: '1' } });
  assert.throws(() => api.bind(settings), (e: unknown) => e instanceof RuntimeApiError && e.code === 'ERR_RUNTIME_API_INVALID_TRANSITION');
  const again = await runtime.request('GET', BINDING);
  assert.equal(again.status, 403, 'nothing reads the settings twice');
  assert.equal((json(again) as { errorType: string }).errorType, 'AlreadyBound');

  const outcome = api.invoke(event('r1'));
  const next = await runtime.next();
  assert.equal(next.status, 200);
  assert.deepEqual(await api.initialized, { kind: 'ready' });
  assert.equal((await runtime.respond('r1', '"ok"')).status, 202);
  assert.equal((await outcome).kind, 'response');
});

test('before binding, /next and /init/error are refused and do not settle initialized', async (t) => {
  const { api } = await makeRuntimeApi(t, 'unix', { binding: true });
  const runtime = new RuntimeClient(t, api);
  const next = await runtime.next();
  assert.equal(next.status, 403);
  assert.equal((json(next) as { errorType: string }).errorType, 'NotBound');
  assert.equal((await runtime.initError('{}')).status, 403);
  let settled = false;
  void api.initialized.then(() => (settled = true), () => (settled = true));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(settled, false);
  assert.throws(() => api.bind(Buffer.from('{}')), 'no binding request waits');
});

test('an ordinary listener knows no binding endpoint, and closing a waiting one tells the runtime to exit', async (t) => {
  const { api: plain } = await makeRuntimeApi(t);
  assert.equal((await new RuntimeClient(t, plain).request('GET', BINDING)).status, 404);
  await assert.rejects(plain.awaitingBinding);

  const { api } = await makeRuntimeApi(t, 'unix', { binding: true });
  const waiting = new RuntimeClient(t, api).request('GET', BINDING);
  await api.awaitingBinding;
  await api.close();
  assert.equal((await waiting).status, 500);
});
