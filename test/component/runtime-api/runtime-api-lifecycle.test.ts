import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { RuntimeApiError } from '../../../src/runtime-api/errors.js';
import { createRuntimeApi } from '../../../src/runtime-api/server.js';
import { event, json, makeRuntimeApi, RuntimeClient, until } from './runtime-client.js';

const IMPORT_ERROR = '{"errorType":"Runtime.ImportModuleError","errorMessage":"Cannot find module \'x\'","trace":[]}';

function isCode(code: string) {
  return (e: unknown) => e instanceof RuntimeApiError && e.code === code;
}

test('an init error settles initialized with its type and body, and later /next and invoke() are refused', async (t) => {
  const { api } = await makeRuntimeApi(t);
  const runtime = new RuntimeClient(t, api);
  const idle = api.whenIdle();
  const reply = await runtime.initError(IMPORT_ERROR, { 'lambda-runtime-function-error-type': 'Runtime.ImportModuleError' });
  assert.equal(reply.status, 202);
  assert.deepEqual(json(reply), { status: 'OK' });
  assert.deepEqual(await api.initialized, { kind: 'init-error', errorType: 'Runtime.ImportModuleError', payload: Buffer.from(IMPORT_ERROR) });
  assert.equal(api.state, 'init-error');
  assert.equal((await runtime.next()).status, 403);
  assert.equal((await runtime.initError(IMPORT_ERROR)).status, 403);
  assert.throws(() => api.invoke(event('x')), isCode('ERR_RUNTIME_API_INIT_FAILED'));
  await assert.rejects(idle, isCode('ERR_RUNTIME_API_INIT_FAILED'), 'a runtime that failed init will never be idle');
  await assert.rejects(api.whenIdle(), isCode('ERR_RUNTIME_API_INIT_FAILED'));
});

test('an init error with an empty body is synthesised from its header type', async (t) => {
  const { api } = await makeRuntimeApi(t);
  const runtime = new RuntimeClient(t, api);
  assert.equal((await runtime.initError('', { 'lambda-runtime-function-error-type': 'Runtime.HandlerNotFound' })).status, 202);
  const init = await api.initialized;
  assert.equal(init.kind, 'init-error');
  assert.equal(init.kind === 'init-error' && init.errorType, 'Runtime.HandlerNotFound');
  const payload = init.kind === 'init-error' ? (JSON.parse(init.payload.toString()) as { errorType: string }) : undefined;
  assert.equal(payload?.errorType, 'Runtime.HandlerNotFound');
});

test('an init error while an invocation waits settles initialized and leaves the invocation to the caller', async (t) => {
  const { api } = await makeRuntimeApi(t);
  const runtime = new RuntimeClient(t, api);
  const outcome = api.invoke(event('waiting'));
  await runtime.initError(IMPORT_ERROR);
  assert.equal((await api.initialized).kind, 'init-error');
  api.abandon();
  await assert.rejects(outcome, isCode('ERR_RUNTIME_API_ABANDONED'));
});

test('an init error after the first /next is refused with 403 and initialized stays ready', async (t) => {
  const { api } = await makeRuntimeApi(t);
  const runtime = new RuntimeClient(t, api);
  const outcome = api.invoke(event('r'));
  await runtime.next();
  const refused = await runtime.initError(IMPORT_ERROR);
  assert.equal(refused.status, 403);
  assert.equal((json(refused) as { errorType: string }).errorType, 'InvalidStateTransition');
  assert.deepEqual(await api.initialized, { kind: 'ready' });
  await runtime.respond('r', '1');
  assert.equal((await outcome).kind, 'response');
});

test('close() ends a waiting /next with 500, fails what is pending, removes the socket, and can be repeated', async (t) => {
  const { api, socketPath } = await makeRuntimeApi(t);
  assert.ok(socketPath);
  const runtime = new RuntimeClient(t, api);
  const waiting = runtime.next();
  await api.whenIdle();
  const closing = api.close();
  const ended = await waiting;
  assert.equal(ended.status, 500);
  assert.equal(ended.headers.connection, 'close');
  await closing;
  await api.close();
  await assert.rejects(fs.stat(socketPath), { code: 'ENOENT' });
  assert.equal(api.state, 'closed');
  assert.throws(() => api.invoke(event('late')), isCode('ERR_RUNTIME_API_CLOSED'));
  await assert.rejects(api.whenIdle(), isCode('ERR_RUNTIME_API_CLOSED'));
});

test('close() rejects an open invocation, a pending initialized and whenIdle() waiters', async (t) => {
  const { api } = await makeRuntimeApi(t, 'tcp');
  const outcome = api.invoke(event('open'));
  const idle = api.whenIdle();
  await api.close();
  await assert.rejects(outcome, isCode('ERR_RUNTIME_API_CLOSED'));
  await assert.rejects(api.initialized, isCode('ERR_RUNTIME_API_CLOSED'));
  await assert.rejects(idle, isCode('ERR_RUNTIME_API_CLOSED'));
});

test('close() cuts a runtime that is in the middle of sending its answer', async (t) => {
  const { api } = await makeRuntimeApi(t);
  const runtime = new RuntimeClient(t, api);
  const outcome = api.invoke(event('slow'));
  await runtime.next();
  const req = runtime.open('POST', '/2018-06-01/runtime/invocation/slow/response', { 'content-length': '10' });
  const failed = new Promise((resolve) => req.once('error', resolve));
  req.write('12345');
  await until(() => api.state === 'answering', 'the answer to start');
  await api.close();
  await failed;
  await assert.rejects(outcome, isCode('ERR_RUNTIME_API_CLOSED'));
});

test('the socket file is created with mode 0600 by default', async (t) => {
  const { socketPath } = await makeRuntimeApi(t);
  assert.ok(socketPath);
  const stat = await fs.stat(socketPath);
  assert.ok(stat.isSocket());
  assert.equal(stat.mode & 0o777, 0o600);
});

test('unknown paths get 404 and wrong methods 405, both as JSON', async (t) => {
  const { api } = await makeRuntimeApi(t);
  const runtime = new RuntimeClient(t, api);
  const unknown = [
    '/',
    '/2018-06-01/runtime/invocation',
    '/2018-06-01/runtime/invocation/id/other',
    '/2018-06-01/runtime/restore/next',
    '/2020-01-01/extension/register',
  ];
  for (const p of unknown) {
    const reply = await runtime.request('GET', p);
    assert.equal(reply.status, 404, p);
    assert.equal(reply.headers['content-type'], 'application/json');
    assert.equal(typeof (json(reply) as { errorType: unknown }).errorType, 'string');
  }
  const wrong = [
    ['POST', '/2018-06-01/runtime/invocation/next', 'GET'],
    ['GET', '/2018-06-01/runtime/invocation/id/response', 'POST'],
    ['PUT', '/2018-06-01/runtime/invocation/id/error', 'POST'],
    ['GET', '/2018-06-01/runtime/init/error', 'POST'],
  ] as const;
  for (const [method, p, allowed] of wrong) {
    const reply = await runtime.request(method, p);
    assert.equal(reply.status, 405, `${method} ${p}`);
    assert.equal(reply.headers.allow, allowed);
  }
  assert.equal(api.state, 'initializing', 'no refused request changed the state');
});

test('a socket path too long for sun_path is refused with a typed error', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'kd-rapi-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  await assert.rejects(createRuntimeApi({ listen: { socketPath: path.join(dir, 'x'.repeat(120)) } }), isCode('ERR_RUNTIME_API_LISTEN'));
});

test('listening on a socket path that is taken fails with a typed error', async (t) => {
  const { socketPath } = await makeRuntimeApi(t);
  assert.ok(socketPath);
  await assert.rejects(createRuntimeApi({ listen: { socketPath } }), isCode('ERR_RUNTIME_API_LISTEN'));
});
