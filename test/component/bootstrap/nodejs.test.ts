// The nodejs20.x bootstrap (src/environments/bootstrap/nodejs) run as a plain child process against a fake Runtime API.
// Tests that exercise the wire run twice: over TCP (AWS_LAMBDA_RUNTIME_API) and over a Unix socket
// (_KINDLING_RUNTIME_API_SOCKET); the rest use TCP.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FAKE_FUNCTION_ARN as ARN, FakeRuntimeApi, type Posted } from './fake-runtime-api.js';
import { ADDRESS_BESIDE_SOCKET, laterBridge, over, TRANSPORTS, untilFileExists, type Transport } from './runtime-api-transport.js';

const BOOTSTRAP = fileURLToPath(new URL('../../../src/environments/bootstrap/nodejs/index.mjs', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../../fixtures/functions/node/', import.meta.url));
const TIMEOUT = { timeout: 10_000 };
const STREAM = '2026/01/02/[$LATEST]0123456789abcdef0123456789abcdef';
const ISO = String.raw`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z`;

interface Exit { code: number | null; signal: NodeJS.Signals | null }

interface Runtime {
  api: FakeRuntimeApi;
  exited: Promise<Exit>;
  /** Invokes and resolves with the answer, or rejects if the runtime exits first. */
  invoke(payload?: unknown, headers?: Record<string, string>): Promise<Posted>;
  /** Resolves with the init error, or rejects if the runtime exits without posting one. */
  initError(): Promise<Posted>;
  /** Stops the runtime and returns its stdout lines (complete: read until the pipe closed). */
  stop(): Promise<string[]>;
}

async function startRuntime(
  t: TestContext,
  options: { fixture: string; handler: string; env?: Record<string, string>; transport?: Transport; taskRoot?: string },
): Promise<Runtime> {
  const api = new FakeRuntimeApi();
  const apiEnv = await api.listen(options.transport);
  const dir = options.taskRoot ?? `${FIXTURES}${options.fixture}`;
  const child = spawn(process.execPath, [BOOTSTRAP], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      _HANDLER: options.handler,
      LAMBDA_TASK_ROOT: dir,
      ...apiEnv,
      AWS_LAMBDA_FUNCTION_NAME: 'fixture-fn',
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
      AWS_LAMBDA_LOG_GROUP_NAME: '/aws/lambda/fixture-fn',
      AWS_LAMBDA_LOG_STREAM_NAME: STREAM,
      AWS_REGION: 'us-east-1',
      TZ: ':UTC',
      ...options.env,
    },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s; });
  child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
  const exited = new Promise<Exit>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    await api.close();
  });
  const orExit = async (answer: Promise<Posted>, what: string): Promise<Posted> => {
    const early = exited.then((e) => {
      throw new Error(`runtime exited (${e.code ?? e.signal}) before ${what}; stderr: ${stderr}; stdout: ${stdout}`);
    });
    return Promise.race([answer, early]);
  };
  return {
    api,
    exited,
    invoke: (payload = {}, headers = {}) => orExit(api.enqueue(JSON.stringify(payload), headers).answer, 'answering'),
    initError: () => orExit(api.waitFor((p) => p.kind === 'init-error'), 'posting an init error'),
    async stop() {
      child.kill('SIGTERM');
      await exited;
      return stdout.split('\n').filter((line) => line !== '');
    },
  };
}

function json(p: Posted): unknown {
  return JSON.parse(p.body);
}

function assertResponse(p: Posted, expected: unknown): void {
  assert.equal(p.kind, 'response', p.body);
  assert.equal(p.headers['content-type'], 'application/json');
  assert.deepEqual(json(p), expected);
}

function assertError(p: Posted, errorType: string, errorMessage: string | RegExp): { trace: string[] } {
  assert.equal(p.kind, 'error', p.body);
  assert.equal(p.headers['lambda-runtime-function-error-type'], errorType);
  const body = json(p) as { errorType: string; errorMessage: string; trace: string[] };
  assert.deepEqual(Object.keys(body), ['errorType', 'errorMessage', 'trace']);
  assert.equal(body.errorType, errorType);
  if (typeof errorMessage === 'string') assert.equal(body.errorMessage, errorMessage);
  else assert.match(body.errorMessage, errorMessage);
  return body;
}

// ── Loading handlers ────────────────────────────────────────────────────────────────────────────────────────────

for (const transport of TRANSPORTS) {
  test(`a CommonJS async handler answers its JSON result on one kept-alive connection, and module state survives between `
    + `invocations${over(transport)}`, TIMEOUT, async (t) => {
    const rt = await startRuntime(t, { transport, fixture: 'cjs', handler: 'index.handler' });
    assertResponse(await rt.invoke({ n: 1 }), { count: 1, event: { n: 1 } });
    assertResponse(await rt.invoke({ n: 2 }), { count: 2, event: { n: 2 } });
    assert.equal(rt.api.posted.length, 2);
    // GET /next, POST, GET /next, POST, GET /next: all on one kept-alive connection.
    assert.equal(rt.api.connections, 1);
  });
}

test('a .mjs handler is loaded as an ES module', TIMEOUT, async (t) => {
  const rt = await startRuntime(t, { fixture: 'esm-mjs', handler: 'app.handler' });
  assertResponse(await rt.invoke({ a: 'b' }), { loadedAs: 'esm', event: { a: 'b' } });
});

test('a .js handler under a package.json with "type": "module" is imported as an ES module', TIMEOUT, async (t) => {
  const rt = await startRuntime(t, { fixture: 'esm-js', handler: 'index.handler' });
  assertResponse(await rt.invoke(), { loadedAs: 'esm' });
});

test('a .cjs handler is loaded when no extensionless, .js or .mjs file matches', TIMEOUT, async (t) => {
  const rt = await startRuntime(t, { fixture: 'cjs', handler: 'other.handler' });
  assertResponse(await rt.invoke(), { loadedAs: 'cjs' });
});

test('a handler in a subdirectory and a nested export are resolved', TIMEOUT, async (t) => {
  const deep = await startRuntime(t, { fixture: 'cjs', handler: 'nested/sub/deep.handler' });
  assertResponse(await deep.invoke(), { file: 'nested/sub/deep.js' });
  const nested = await startRuntime(t, { fixture: 'cjs', handler: 'index.ns.fn' });
  assertResponse(await nested.invoke(), 'nested export');
});

test('a handler module found only through NODE_PATH (a layer) is loaded', TIMEOUT, async (t) => {
  const rt = await startRuntime(t, { fixture: 'cjs', handler: 'layered.handler', env: { NODE_PATH: `${FIXTURES}layer-lib` } });
  assertResponse(await rt.invoke(), 'from NODE_PATH');
});

test('an ES module handler with top-level await is ready before the first invocation', TIMEOUT, async (t) => {
  const rt = await startRuntime(t, { fixture: 'esm-mjs', handler: 'tla.handler' });
  assertResponse(await rt.invoke(), 'ready after top-level await');
});

// ── Completion rules ────────────────────────────────────────────────────────────────────────────────────────────

for (const transport of TRANSPORTS) {
  test(`a callback result waits for the event loop to drain by default${over(transport)}`, TIMEOUT, async (t) => {
    const rt = await startRuntime(t, { transport, fixture: 'cjs', handler: 'index.callbackWaits' });
    // The result object is serialised when it is sent: the pending timer has run by then.
    assertResponse(await rt.invoke(), { timerFired: true });
  });
}

test('a callback result is sent at once when callbackWaitsForEmptyEventLoop is false', TIMEOUT, async (t) => {
  const rt = await startRuntime(t, { fixture: 'cjs', handler: 'index.callbackNoWait' });
  assertResponse(await rt.invoke(), { timerFired: false });
});

test('a sync handler that returns a value without calling back answers null once the loop drains', TIMEOUT, async (t) => {
  const rt = await startRuntime(t, { fixture: 'cjs', handler: 'index.syncValue' });
  const answer = await rt.invoke();
  assert.equal(answer.body, 'null');
  assert.equal(answer.kind, 'response');
});

test('an async handler that returns undefined answers null', TIMEOUT, async (t) => {
  const rt = await startRuntime(t, { fixture: 'cjs', handler: 'index.undefinedResult' });
  assert.equal((await rt.invoke()).body, 'null');
});

test('only the first of succeed, fail and done counts, even when they are called detached from the context', TIMEOUT, async (t) => {
  const rt = await startRuntime(t, { fixture: 'cjs', handler: 'index.legacy' });
  const answer = await rt.invoke();
  assertResponse(answer, { via: 'succeed' });
  assertResponse(await rt.invoke(), { via: 'succeed' });
  assert.deepEqual(rt.api.posted.map((p) => p.kind), ['response', 'response']);
});

test('an async handler whose promise can never settle is answered with Runtime.NodeJsExit', TIMEOUT, async (t) => {
  const rt = await startRuntime(t, { fixture: 'cjs', handler: 'index.neverSettles' });
  assertError(await rt.invoke(), 'Runtime.NodeJsExit', /never will/);
});

test('a streaming handler is refused with Runtime.StreamingNotSupported instead of hanging', TIMEOUT, async (t) => {
  const rt = await startRuntime(t, { fixture: 'cjs', handler: 'index.streaming' });
  assertError(await rt.invoke(), 'Runtime.StreamingNotSupported', /not supported/);
});

// ── Context ─────────────────────────────────────────────────────────────────────────────────────────────────────

for (const transport of TRANSPORTS) {
  test(`the context carries the function settings, the request headers and the remaining time${over(transport)}`, TIMEOUT, async (t) => {
    const rt = await startRuntime(t, { transport, fixture: 'cjs', handler: 'index.contextDump' });
    const clientContext = { client: { installation_id: 'i-1' }, custom: { foo: 'bar' }, env: { locale: 'en' } };
    const identity = { cognitoIdentityId: 'id-1', cognitoIdentityPoolId: 'pool-1' };
    const traceId = 'Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1';
    const { id, answer } = rt.api.enqueue('{}', {
      'lambda-runtime-deadline-ms': String(Date.now() + 20_000),
      'lambda-runtime-client-context': JSON.stringify(clientContext),
      'lambda-runtime-cognito-identity': JSON.stringify(identity),
      'lambda-runtime-trace-id': traceId,
      'lambda-runtime-aws-tenant-id': 'tenant-7',
    });
    const dump = json(await answer) as { json: string; remainingMs: number; memoryType: string; traceId: string | null };
    // Key order as Lambda's JSON.stringify(context) shows it.
    assert.equal(dump.json, JSON.stringify({
      callbackWaitsForEmptyEventLoop: true,
      functionVersion: '$LATEST',
      functionName: 'fixture-fn',
      memoryLimitInMB: '256',
      logGroupName: '/aws/lambda/fixture-fn',
      logStreamName: STREAM,
      clientContext,
      identity,
      invokedFunctionArn: ARN,
      awsRequestId: id,
      tenantId: 'tenant-7',
    }));
    assert.equal(dump.memoryType, 'string');
    assert.ok(dump.remainingMs > 10_000 && dump.remainingMs <= 20_000, `remaining ${dump.remainingMs}`);
    assert.equal(dump.traceId, traceId);

    // Without the optional headers: no clientContext/identity/tenantId, and _X_AMZN_TRACE_ID is removed.
    const plain = json(await rt.invoke()) as { json: string; traceId: string | null };
    assert.deepEqual(Object.keys(JSON.parse(plain.json)), ['callbackWaitsForEmptyEventLoop', 'functionVersion', 'functionName',
      'memoryLimitInMB', 'logGroupName', 'logStreamName', 'invokedFunctionArn', 'awsRequestId']);
    assert.equal(plain.traceId, null);
  });
}

// ── Invoke errors ───────────────────────────────────────────────────────────────────────────────────────────────

for (const transport of TRANSPORTS) {
  test(`a thrown Error is posted with its name, message and stack lines, and logged as "Invoke Error"${over(transport)}`, TIMEOUT, async (t) => {
    const rt = await startRuntime(t, { transport, fixture: 'cjs', handler: 'index.throws' });
    const { id, answer } = rt.api.enqueue('{}');
    const body = assertError(await answer, 'Error', 'boom');
    assert.equal(body.trace[0], 'Error: boom');
    assert.match(body.trace[1] ?? '', /^ {4}at .*cjs\/index\.js:\d+:\d+/);
    const line = (await rt.stop()).find((l) => l.includes('Invoke Error'));
    assert.match(line ?? '', new RegExp(`^${ISO}\\t${id}\\tERROR\\tInvoke Error \\t\\{"errorType":"Error","errorMessage":"boom","stack":\\["Error: boom",`));
  });
}

test('a custom error class keeps its name as errorType', TIMEOUT, async (t) => {
  const rt = await startRuntime(t, { fixture: 'cjs', handler: 'index.customError' });
  const body = assertError(await rt.invoke(), 'ValidationError', 'field x is required');
  assert.equal(body.trace[0], 'ValidationError: field x is required');
});

test('a rejected non-Error value is reported with its typeof as errorType and an empty trace', TIMEOUT, async (t) => {
  const rt = await startRuntime(t, { fixture: 'cjs', handler: 'index.rejectsString' });
  assert.deepEqual(assertError(await rt.invoke(), 'string', 'nope').trace, []);
});

test('a result that cannot be serialised is reported as an error instead', TIMEOUT, async (t) => {
  const rt = await startRuntime(t, { fixture: 'cjs', handler: 'index.circular' });
  assertError(await rt.invoke(), 'TypeError', /circular/i);
});

test('an uncaught exception during an invocation is posted as its error and ends the process with 129', TIMEOUT, async (t) => {
  const rt = await startRuntime(t, { fixture: 'cjs', handler: 'index.uncaught' });
  assertError(await rt.api.enqueue('{}').answer, 'Error', 'late boom');
  assert.deepEqual(await rt.exited, { code: 129, signal: null });
  assert.ok((await rt.stop()).some((l) => l.includes('\tERROR\tUncaught Exception \t{"errorType":"Error"')));
});

test('an unhandled rejection during an invocation is posted as Runtime.UnhandledPromiseRejection and exits 128', TIMEOUT, async (t) => {
  const rt = await startRuntime(t, { fixture: 'cjs', handler: 'index.unhandledRejection' });
  assertError(await rt.api.enqueue('{}').answer, 'Runtime.UnhandledPromiseRejection', 'Error: floating');
  assert.deepEqual(await rt.exited, { code: 128, signal: null });
});

// ── Logs ────────────────────────────────────────────────────────────────────────────────────────────────────────

test('console methods print one line per call: ISO time, request id, level, formatted text with \\n as \\r', TIMEOUT, async (t) => {
  const rt = await startRuntime(t, { fixture: 'cjs', handler: 'index.logs' });
  const { id, answer } = rt.api.enqueue('{}');
  assertResponse(await answer, 'logged');
  const lines = await rt.stop();
  const expected = [
    [/^undefined\tINFO\tmodule loaded$/],
    [new RegExp(`^${id}\\tINFO\\tmulti\\rline 42$`)],
    [new RegExp(`^${id}\\tINFO\\tinfo formatted$`)],
    [new RegExp(`^${id}\\tWARN\\twarned$`)],
    [new RegExp(`^${id}\\tERROR\\tfailed TypeError: bad input\\r {4}at `)],
    [new RegExp(`^${id}\\tDEBUG\\tdebugged$`)],
    [new RegExp(`^${id}\\tTRACE\\ttraced$`)],
    [new RegExp(`^${id}\\tWARN\\t\\{ nested: \\{ ok: true \\} \\}$`)],
  ];
  assert.equal(lines.length, expected.length, lines.join('\n'));
  lines.forEach((line, i) => {
    const [time, ...rest] = line.split('\t');
    assert.match(time ?? '', new RegExp(`^${ISO}$`));
    assert.match(rest.join('\t'), expected[i]![0]!);
  });
});

test('with AWS_LAMBDA_LOG_FORMAT=JSON, each call is a JSON object and AWS_LAMBDA_LOG_LEVEL filters', TIMEOUT, async (t) => {
  const rt = await startRuntime(t, {
    fixture: 'cjs', handler: 'index.logs', env: { AWS_LAMBDA_LOG_FORMAT: 'JSON', AWS_LAMBDA_LOG_LEVEL: 'warn' },
  });
  const { id, answer } = rt.api.enqueue('{}');
  assertResponse(await answer, 'logged');
  const records = (await rt.stop()).map((line) => JSON.parse(line) as Record<string, unknown>);
  for (const r of records) assert.match(String(r.timestamp), new RegExp(`^${ISO}$`));
  // INFO, DEBUG and TRACE calls (and the module's INFO line) are filtered out.
  assert.equal(records.length, 3, JSON.stringify(records));
  const [warned, failed, object] = records.map(({ timestamp: _time, ...rest }) => rest);
  assert.deepEqual(warned, { level: 'WARN', requestId: id, message: 'warned' });
  // Several arguments: util.format of them all, plus the first Error's fields at the top level.
  const { message, stackTrace, ...errorRest } = failed!;
  assert.match(String(message), /^failed TypeError: bad input\n {4}at /);
  assert.match(String((stackTrace as string[])[1]), /^ {4}at /);
  assert.deepEqual(errorRest, { level: 'ERROR', requestId: id, errorType: 'TypeError', errorMessage: 'bad input' });
  // A single argument stays a value.
  assert.deepEqual(object, { level: 'WARN', requestId: id, message: { nested: { ok: true } } });
});

// ── Init errors ─────────────────────────────────────────────────────────────────────────────────────────────────

const INIT_ERRORS: Array<{ title: string; handler: string; errorType: string; message: RegExp }> = [
  { title: 'a handler containing ".."', handler: '../cjs/index.handler', errorType: 'Runtime.MalformedHandlerName', message: /^Bad handler$/ },
  { title: 'a handler without a function part', handler: 'index', errorType: 'Runtime.MalformedHandlerName', message: /^Bad handler$/ },
  { title: 'a module that does not exist', handler: 'absent.handler', errorType: 'Runtime.ImportModuleError', message: /^Error: Cannot find module 'absent'/ },
  {
    title: 'a module whose dependency is missing', handler: 'missing-dep.handler', errorType: 'Runtime.ImportModuleError',
    message: /^Error: Cannot find module 'kindling-package-that-does-not-exist'/,
  },
  { title: 'a syntax error', handler: 'syntax.handler', errorType: 'Runtime.UserCodeSyntaxError', message: /^SyntaxError: / },
  {
    title: 'an export that does not exist', handler: 'index.absent', errorType: 'Runtime.HandlerNotFound',
    message: /^index\.absent is undefined or not exported$/,
  },
  {
    title: 'an export that is not a function', handler: 'index.notAFunction', errorType: 'Runtime.HandlerNotFound',
    message: /^index\.notAFunction is not a function$/,
  },
  { title: 'a module that throws while loading', handler: 'throws.handler', errorType: 'RangeError', message: /^thrown while loading$/ },
  { title: 'a top-level await that never settles', handler: 'unsettled.handler', errorType: 'Runtime.NodeJsExit', message: /top-level await/ },
];

for (const c of INIT_ERRORS) {
  test(`${c.title} is posted to /runtime/init/error as ${c.errorType} and the runtime exits`, TIMEOUT, async (t) => {
    const rt = await startRuntime(t, { fixture: 'init-errors', handler: c.handler });
    const posted = await rt.initError();
    assert.equal(posted.headers['lambda-runtime-function-error-type'], c.errorType);
    const body = json(posted) as { errorType: string; errorMessage: string; trace: string[] };
    assert.deepEqual(Object.keys(body), ['errorType', 'errorMessage', 'trace']);
    assert.equal(body.errorType, c.errorType);
    assert.match(body.errorMessage, c.message);
    assert.ok(Array.isArray(body.trace) && body.trace[0]?.startsWith(`${c.errorType}: `), body.trace[0]);
    assert.deepEqual(await rt.exited, { code: 129, signal: null });
    assert.equal(rt.api.nextCalls, 0);
  });
}

// ── Reaching the Runtime API ────────────────────────────────────────────────────────────────────────────────────

for (const transport of TRANSPORTS) {
  test(`an init error is posted to /runtime/init/error before the runtime exits${over(transport)}`, TIMEOUT, async (t) => {
    const rt = await startRuntime(t, { transport, fixture: 'init-errors', handler: 'throws.handler' });
    const posted = await rt.initError();
    assert.equal(posted.headers['lambda-runtime-function-error-type'], 'RangeError');
    assert.equal((json(posted) as { errorMessage: string }).errorMessage, 'thrown while loading');
    assert.deepEqual(await rt.exited, { code: 129, signal: null });
  });
}

const ENV_PROBE = `'use strict';
const { execFileSync } = require('node:child_process');
const atLoad = process.env._KINDLING_RUNTIME_API_SOCKET ?? null;
exports.handler = async () => {
  const childEnv = execFileSync('/usr/bin/env', { encoding: 'utf8' });
  return {
    atLoad,
    atInvoke: process.env._KINDLING_RUNTIME_API_SOCKET ?? null,
    childSeesSocket: /^_KINDLING_RUNTIME_API_SOCKET=/m.test(childEnv),
    childSeesAddress: /^AWS_LAMBDA_RUNTIME_API=/m.test(childEnv),
    runtimeApi: process.env.AWS_LAMBDA_RUNTIME_API,
  };
};
`;

test('the socket variable is gone before the handler loads, for the function and its child processes alike, '
  + 'while AWS_LAMBDA_RUNTIME_API stays', TIMEOUT, async (t) => {
  const taskRoot = await mkdtemp(path.join(os.tmpdir(), 'kindling-node-env-'));
  t.after(() => rm(taskRoot, { recursive: true, force: true }));
  await writeFile(path.join(taskRoot, 'index.js'), ENV_PROBE);
  const rt = await startRuntime(t, { transport: 'unix', fixture: '', taskRoot, handler: 'index.handler' });
  assertResponse(await rt.invoke(), {
    atLoad: null,
    atInvoke: null,
    childSeesSocket: false,
    childSeesAddress: true,
    runtimeApi: ADDRESS_BESIDE_SOCKET,
  });
});

test('told that the 127.0.0.1 bridge is starting beside it, the runtime fetches no invocation before the bridge listens',
  TIMEOUT, async (t) => {
  const taskRoot = await mkdtemp(path.join(os.tmpdir(), 'kindling-node-bridge-'));
  t.after(() => rm(taskRoot, { recursive: true, force: true }));
  const mark = path.join(taskRoot, 'loaded');
  await writeFile(path.join(taskRoot, 'index.js'), [
    `require('node:fs').writeFileSync(${JSON.stringify(mark)}, 'loaded');`,
    'exports.handler = async () => ({ at: Date.now(), told: process.env._KINDLING_AWAIT_BRIDGE ?? null });',
  ].join('\n'));
  const bridge = await laterBridge(t);
  const rt = await startRuntime(t, {
    transport: 'unix', fixture: '', taskRoot, handler: 'index.handler',
    env: { AWS_LAMBDA_RUNTIME_API: `127.0.0.1:${bridge.port}`, _KINDLING_AWAIT_BRIDGE: '1' },
  });
  const answer = rt.invoke();
  await untilFileExists(mark);
  // Loaded: a runtime that did not wait would fetch the invocation within milliseconds (this can only pass falsely).
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(rt.api.connections, 0, 'no request to the Runtime API while the bridge is down');
  const listenedAt = await bridge.listen();
  const p = await answer;
  assert.equal(p.kind, 'response', p.body);
  const ran = json(p) as { at: number; told: string | null };
  assert.ok(ran.at >= listenedAt, 'the handler ran after the bridge listened');
  assert.equal(ran.told, null, 'the variable is gone before user code runs');
});

for (const transport of TRANSPORTS) {
  test(`the runtime exits when the Runtime API goes away${over(transport)}`, TIMEOUT, async (t) => {
    const rt = await startRuntime(t, { transport, fixture: 'cjs', handler: 'index.handler' });
    assertResponse(await rt.invoke(), { count: 1, event: {} });
    await rt.api.close();
    assert.deepEqual(await rt.exited, { code: 1, signal: null });
  });
}
