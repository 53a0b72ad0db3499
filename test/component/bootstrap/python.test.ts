// The python3.11 bootstrap (src/environments/bootstrap/python) against a fake Runtime API. Tests that exercise the
// wire run twice: over TCP (AWS_LAMBDA_RUNTIME_API) and over a Unix socket (_KINDLING_RUNTIME_API_SOCKET).
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import {
  FIXTURES,
  FUNCTION_ARN,
  nextPostOf,
  parseJson,
  startFakeRuntimeApi,
  startRuntime,
  type FakeRuntimeApi,
  type Posted,
  type RuntimeProcess,
} from './python-harness.js';
import { ADDRESS_BESIDE_SOCKET, laterBridge, over, TRANSPORTS, untilFileExists, type Transport } from './runtime-api-transport.js';

const TIMEOUT = { timeout: 15_000 };

async function world(
  t: TestContext,
  fixture: string,
  handler: string,
  env?: Record<string, string>,
  transport: Transport = 'tcp',
): Promise<{ api: FakeRuntimeApi; runtime: RuntimeProcess; invoke(event: Parameters<FakeRuntimeApi['enqueue']>[0]): Promise<Posted> }> {
  const api = await startFakeRuntimeApi(t, transport);
  const runtime = startRuntime(t, { api, fixture, handler, ...(env ? { env } : {}) });
  return {
    api,
    runtime,
    invoke(event) {
      api.enqueue(event);
      return nextPostOf(api, runtime);
    },
  };
}

/** The frames of a posted stackTrace, checked to be strings. */
function frames(body: Record<string, unknown>): string[] {
  const trace = body['stackTrace'];
  assert.ok(Array.isArray(trace) && trace.every((f) => typeof f === 'string'), `stackTrace: ${JSON.stringify(trace)}`);
  return trace as string[];
}

for (const transport of TRANSPORTS) {
  test(`a dict result is posted to /response as JSON${over(transport)}`, TIMEOUT, async (t) => {
    const { invoke } = await world(t, 'echo', 'app.handler', undefined, transport);

    const post = await invoke({ requestId: 'req-1', payload: '{"n":1,"text":"héllo"}' });

    assert.equal(post.path, '/2018-06-01/runtime/invocation/req-1/response');
    assert.equal(post.headers['content-type'], 'application/json');
    assert.deepEqual(parseJson(post.body), { received: { n: 1, text: 'héllo' }, requestId: 'req-1' });
  });
}

test('a handler returning None answers null', TIMEOUT, async (t) => {
  const { invoke } = await world(t, 'echo', 'app.nothing');

  const post = await invoke({ requestId: 'req-none' });

  assert.equal(post.path, '/2018-06-01/runtime/invocation/req-none/response');
  assert.equal(post.body, 'null');
});

test('a handler inside a package is found through pkg.sub.mod.handler', TIMEOUT, async (t) => {
  const { invoke } = await world(t, 'package', 'pkg.sub.mod.handler');

  const post = await invoke({ requestId: 'req-pkg' });

  assert.deepEqual(parseJson(post.body), { module: 'pkg.sub.mod' });
});

for (const transport of TRANSPORTS) {
  test(`the context carries the invocation headers and the function environment${over(transport)}`, TIMEOUT, async (t) => {
    const { invoke } = await world(t, 'context', 'app.handler', undefined, transport);
    const deadline = Date.now() + 30_000;

    const post = await invoke({
      requestId: 'req-ctx',
      headers: {
        'Lambda-Runtime-Deadline-Ms': String(deadline),
        'Lambda-Runtime-Invoked-Function-Arn': `${FUNCTION_ARN}:live`,
        'Lambda-Runtime-Trace-Id': 'Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1',
        'Lambda-Runtime-Cognito-Identity': '{"cognitoIdentityId":"id-1","cognitoIdentityPoolId":"pool-1"}',
        'Lambda-Runtime-Aws-Tenant-Id': 'tenant-7',
      },
    });
    const context = parseJson(post.body);

    const remaining = context['remaining_ms'] as number;
    assert.ok(remaining > 20_000 && remaining <= 30_000, `remaining ${remaining}`);
    delete context['remaining_ms'];
    assert.deepEqual(context, {
      aws_request_id: 'req-ctx',
      invoked_function_arn: `${FUNCTION_ARN}:live`,
      function_name: 'py-fn',
      function_version: '$LATEST',
      memory_limit_in_mb: '128',
      log_group_name: '/aws/lambda/py-fn',
      log_stream_name: '2026/01/02/[$LATEST]0123456789abcdef0123456789abcdef',
      identity: ['id-1', 'pool-1'],
      client_context: null,
      tenant_id: 'tenant-7',
      trace_id: 'Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1',
    });
  });
}

test('the trace id of one invocation does not leak into the next, and a past deadline leaves 0 ms', TIMEOUT, async (t) => {
  const { invoke } = await world(t, 'context', 'app.handler');
  await invoke({ requestId: 'req-a', headers: { 'Lambda-Runtime-Trace-Id': 'Root=1-aaaaaaaa-000000000000000000000001' } });

  const post = await invoke({ requestId: 'req-b', headers: { 'Lambda-Runtime-Deadline-Ms': String(Date.now() - 1_000) } });

  const context = parseJson(post.body);
  assert.equal(context['trace_id'], null);
  assert.equal(context['remaining_ms'], 0);
  assert.deepEqual(context['identity'], [null, null]);
});

test('the raw JSON client context becomes client_context.client, .custom and .env', TIMEOUT, async (t) => {
  const { invoke } = await world(t, 'context', 'app.handler');
  const clientContext = {
    client: { installation_id: 'inst-1', app_title: 'Shop' },
    custom: { cart: 'c-9' },
    env: { locale: 'de_DE' },
  };

  const post = await invoke({ requestId: 'req-cc', headers: { 'Lambda-Runtime-Client-Context': JSON.stringify(clientContext) } });

  assert.deepEqual(parseJson(post.body)['client_context'], {
    installation_id: 'inst-1',
    app_title: 'Shop',
    custom: { cart: 'c-9' },
    env: { locale: 'de_DE' },
  });
});

for (const transport of TRANSPORTS) {
  test(`module state survives from one invocation to the next in the same process, on one kept-alive connection`
    + `${over(transport)}`, TIMEOUT, async (t) => {
    const { api, invoke, runtime } = await world(t, 'state', 'app.handler', undefined, transport);

    const first = parseJson((await invoke({ requestId: 'req-1' })).body);
    const second = parseJson((await invoke({ requestId: 'req-2' })).body);

    assert.deepEqual(first, { invocations: 1, pid: runtime.pid });
    assert.deepEqual(second, { invocations: 2, pid: runtime.pid });
    assert.equal(api.connections, 1);
  });
}

for (const transport of TRANSPORTS) {
  test(`a raised exception is posted to /error with message, type, request id and the user frames${over(transport)}`, TIMEOUT, async (t) => {
    const { invoke } = await world(t, 'errors', 'app.fail', undefined, transport);

    const post = await invoke({ requestId: 'req-err' });

    assert.equal(post.path, '/2018-06-01/runtime/invocation/req-err/error');
    assert.equal(post.headers['lambda-runtime-function-error-type'], 'Exception');
    const body = parseJson(post.body);
    assert.deepEqual(Object.keys(body), ['errorMessage', 'errorType', 'requestId', 'stackTrace']);
    assert.equal(body['errorMessage'], 'boom');
    assert.equal(body['errorType'], 'Exception');
    assert.equal(body['requestId'], 'req-err');
    assert.deepEqual(frames(body), [`  File "${FIXTURES}/errors/app.py", line 9, in fail\n    raise Exception("boom")\n`]);
  });
}

test('a custom exception class is reported by its name, with every user frame', TIMEOUT, async (t) => {
  const { invoke } = await world(t, 'errors', 'app.custom');

  const post = await invoke({ requestId: 'req-custom' });

  assert.equal(post.headers['lambda-runtime-function-error-type'], 'InsufficientFunds');
  const body = parseJson(post.body);
  assert.equal(body['errorType'], 'InsufficientFunds');
  assert.equal(body['errorMessage'], 'balance too low');
  const trace = frames(body);
  assert.equal(trace.length, 2);
  assert.match(trace[0] ?? '', /app\.py", line 13, in custom\n {4}withdraw\(event\)\n$/);
  assert.match(trace[1] ?? '', /app\.py", line 17, in withdraw\n/);
});

test('an unserialisable result is reported as Runtime.MarshalError', TIMEOUT, async (t) => {
  const { invoke } = await world(t, 'errors', 'app.unserialisable');

  const post = await invoke({ requestId: 'req-marshal' });

  assert.equal(post.path, '/2018-06-01/runtime/invocation/req-marshal/error');
  assert.equal(post.headers['lambda-runtime-function-error-type'], 'Runtime.MarshalError');
  assert.deepEqual(parseJson(post.body), {
    errorMessage: 'Unable to marshal response: Object of type set is not JSON serializable',
    errorType: 'Runtime.MarshalError',
    requestId: 'req-marshal',
    stackTrace: [],
  });
});

test('an event that is not JSON is reported as Runtime.UnmarshalError', TIMEOUT, async (t) => {
  const { invoke } = await world(t, 'echo', 'app.handler');

  const post = await invoke({ requestId: 'req-bad', payload: '{not json' });

  const body = parseJson(post.body);
  assert.equal(body['errorType'], 'Runtime.UnmarshalError');
  assert.match(body['errorMessage'] as string, /^Unable to unmarshal input: Expecting property name/);
});

test('sys.exit in a handler ends the process with its code and posts nothing', TIMEOUT, async (t) => {
  const { api, runtime } = await world(t, 'errors', 'app.exits');
  api.enqueue({ requestId: 'req-exit' });

  const { code } = await runtime.exited;

  assert.equal(code, 7);
  assert.equal(api.nextCount, 1);
});

for (const transport of TRANSPORTS) {
  test(`a connection the Runtime API closed between requests is reopened${over(transport)}`, TIMEOUT, async (t) => {
    const { api, invoke } = await world(t, 'state', 'app.handler', undefined, transport);
    api.dropConnectionsAfterNext = true;

    const first = await invoke({ requestId: 'req-1' });
    const second = await invoke({ requestId: 'req-2' });

    assert.equal(first.path, '/2018-06-01/runtime/invocation/req-1/response');
    assert.equal(parseJson(second.body)['invocations'], 2);
  });
}

for (const transport of TRANSPORTS) {
  test(`the runtime exits with 1 when the Runtime API goes away${over(transport)}`, TIMEOUT, async (t) => {
    const { api, runtime, invoke } = await world(t, 'state', 'app.handler', undefined, transport);
    await invoke({ requestId: 'req-1' });

    await api.close();
    const { code, stderr } = await runtime.exited;

    assert.equal(code, 1);
    assert.match(stderr, /^\[kindling\] GET \/2018-06-01\/runtime\/invocation\/next failed: /m);
  });
}

/** A function written for one test into its own task root. */
async function taskRootWith(t: TestContext, source: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kindling-py-task-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'app.py'), source);
  return dir;
}

const ENV_PROBE = `import os
import subprocess

AT_LOAD = os.environ.get("_KINDLING_RUNTIME_API_SOCKET")


class \u00dcberfehler(Exception):
    pass


def handler(event, context):
    child = subprocess.run(["/usr/bin/env"], capture_output=True, text=True, check=True).stdout.splitlines()
    return {
        "at_load": AT_LOAD,
        "at_invoke": os.environ.get("_KINDLING_RUNTIME_API_SOCKET"),
        "in_environb": b"_KINDLING_RUNTIME_API_SOCKET" in os.environb,
        "child_sees_socket": any(line.startswith("_KINDLING_RUNTIME_API_SOCKET=") for line in child),
        "child_sees_address": any(line.startswith("AWS_LAMBDA_RUNTIME_API=") for line in child),
        "runtime_api": os.environ.get("AWS_LAMBDA_RUNTIME_API"),
    }


def fails_oddly(event, context):
    raise \u00dcberfehler("odd")
`;

test('told that the 127.0.0.1 bridge is starting beside it, the runtime fetches no invocation before the bridge listens',
  TIMEOUT, async (t) => {
  const api = await startFakeRuntimeApi(t, 'unix');
  const taskRoot = await mkdtemp(path.join(os.tmpdir(), 'kindling-py-bridge-'));
  t.after(() => rm(taskRoot, { recursive: true, force: true }));
  const mark = path.join(taskRoot, 'loaded');
  await writeFile(path.join(taskRoot, 'app.py'), [
    'import os, time',
    `open(${JSON.stringify(mark)}, "w").write("loaded")`,
    'def handler(event, context):',
    '    return {"at": int(time.time() * 1000), "told": os.environ.get("_KINDLING_AWAIT_BRIDGE")}',
    '',
  ].join('\n'));
  const bridge = await laterBridge(t);
  const runtime = startRuntime(t, {
    api, fixture: '', taskRoot, handler: 'app.handler',
    env: { AWS_LAMBDA_RUNTIME_API: `127.0.0.1:${bridge.port}`, _KINDLING_AWAIT_BRIDGE: '1' },
  });
  api.enqueue({ requestId: 'req-bridge' });
  await untilFileExists(mark);
  // Loaded: a runtime that did not wait would ask for the invocation within milliseconds (this can only pass falsely).
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(api.nextCount, 0, 'no GET /next while the bridge is down');
  const listenedAt = await bridge.listen();
  const post = await nextPostOf(api, runtime);
  assert.equal(post.path, '/2018-06-01/runtime/invocation/req-bridge/response', post.body);
  const ran = parseJson(post.body) as { at: number; told: string | null };
  assert.ok(ran.at >= listenedAt, 'the handler ran after the bridge listened');
  assert.equal(ran.told, null, 'the variable is gone before user code runs');
});

test('the socket variable is gone before the handler loads, for the function and its child processes alike, '
  + 'while AWS_LAMBDA_RUNTIME_API stays', TIMEOUT, async (t) => {
  const api = await startFakeRuntimeApi(t, 'unix');
  const runtime = startRuntime(t, { api, fixture: '', taskRoot: await taskRootWith(t, ENV_PROBE), handler: 'app.handler' });
  api.enqueue({ requestId: 'req-env' });

  const post = await nextPostOf(api, runtime);

  assert.equal(post.path, '/2018-06-01/runtime/invocation/req-env/response');
  assert.deepEqual(parseJson(post.body), {
    at_load: null,
    at_invoke: null,
    in_environb: false,
    child_sees_socket: false,
    child_sees_address: true,
    runtime_api: ADDRESS_BESIDE_SOCKET,
  });
});

test('a request id is percent-encoded in the answer path, and an error type outside printable ASCII is sent with ? in '
  + 'its place', TIMEOUT, async (t) => {
  const api = await startFakeRuntimeApi(t);
  const runtime = startRuntime(t, { api, fixture: '', taskRoot: await taskRootWith(t, ENV_PROBE), handler: 'app.fails_oddly' });
  api.enqueue({ requestId: 'id/with space~é' });

  const post = await nextPostOf(api, runtime);

  assert.equal(post.path, '/2018-06-01/runtime/invocation/id%2Fwith%20space~%C3%A9/error');
  assert.equal(post.headers['lambda-runtime-function-error-type'], '?berfehler');
  assert.equal(parseJson(post.body)['errorType'], '\u00dcberfehler');
});

const STAMP = String.raw`(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z`;

test('log records carry level, UTC time and request id; print() output passes through raw', TIMEOUT, async (t) => {
  // A local zone other than UTC: the timestamps must still be UTC.
  const { invoke, runtime } = await world(t, 'logs', 'app.handler', { TZ: 'Asia/Tokyo' });

  await invoke({ requestId: 'req-log' });
  const { stdout } = await runtime.stop();

  const lines = stdout.split('\n');
  assert.equal(lines.length, 5, JSON.stringify(lines));
  assert.match(lines[0] ?? '', new RegExp(`^\\[WARNING\\]\\t${STAMP}\\t\\tloaded$`));
  assert.equal(lines[1], 'plain print line');
  const info = new RegExp(`^\\[INFO\\]\\t${STAMP}\\treq-log\\tinfo line$`).exec(lines[2] ?? '');
  assert.ok(info, lines[2]);
  const loggedAt = Date.parse(`${info[1]}Z`);
  assert.ok(Math.abs(loggedAt - Date.now()) < 60_000, `logged at ${info[1]}Z`);
  // A multi-line message stays one line: its newline becomes \r. The debug record is below INFO.
  assert.match(lines[3] ?? '', new RegExp(`^\\[WARNING\\]\\t${STAMP}\\treq-log\\tfirst\\rsecond$`));
  assert.equal(lines[4], '');
});

test('an uncaught error is logged as one line, joined with \\r and indented with no-break spaces', TIMEOUT, async (t) => {
  const { invoke, runtime } = await world(t, 'errors', 'app.fail');

  await invoke({ requestId: 'req-err' });
  const { stdout } = await runtime.stop();

  const nbsp = '\u00a0';
  assert.equal(
    stdout,
    '[ERROR] Exception: boom\rTraceback (most recent call last):\r' +
      `${nbsp.repeat(2)}File "${FIXTURES}/errors/app.py", line 9, in fail\r${nbsp.repeat(4)}raise Exception("boom")\n`,
  );
});

test('the root logger starts at WARNING as on AWS; AWS_LAMBDA_LOG_LEVEL moves the threshold (TRACE meaning DEBUG)', TIMEOUT, async (t) => {
  const runs = await Promise.all(
    [undefined, 'warning', 'TRACE'].map((level) => world(t, 'logs', 'app.default_level', level ? { AWS_LAMBDA_LOG_LEVEL: level } : {})),
  );

  await Promise.all(runs.map((run, i) => run.invoke({ requestId: `req-${i}` })));
  const [plain, warning, trace] = (await Promise.all(runs.map((run) => run.runtime.stop()))).map((r) =>
    r.stdout.split('\n').map((line) => line.replace(/\t\S+\t/, '\t')),
  );

  assert.deepEqual(plain, ['[WARNING]\t\tloaded', '[WARNING]\treq-0\twarning without setLevel', '']);
  assert.deepEqual(warning, ['[WARNING]\t\tloaded', '[WARNING]\treq-1\twarning without setLevel', '']);
  assert.deepEqual(trace, [
    '[WARNING]\t\tloaded',
    '[DEBUG]\treq-2\tdebug without setLevel',
    '[INFO]\treq-2\tinfo without setLevel',
    '[WARNING]\treq-2\twarning without setLevel',
    '',
  ]);
});

test('AWS_LAMBDA_LOG_FORMAT=JSON writes each log record as one JSON object', TIMEOUT, async (t) => {
  const { invoke, runtime } = await world(t, 'logs', 'app.with_exception', {
    AWS_LAMBDA_LOG_FORMAT: 'JSON',
    AWS_LAMBDA_LOG_LEVEL: 'INFO',
  });

  await invoke({ requestId: 'req-json' });
  const { stdout } = await runtime.stop();

  const [loaded, failed, ...rest] = stdout.trimEnd().split('\n').map(parseJson);
  assert.equal(rest.length, 0);
  assert.deepEqual(Object.keys(loaded ?? {}), ['timestamp', 'level', 'message', 'logger', 'requestId']);
  assert.deepEqual({ ...loaded, timestamp: undefined }, { timestamp: undefined, level: 'WARNING', message: 'loaded', logger: 'root', requestId: '' });
  assert.match(String(loaded?.['timestamp']), new RegExp(`^${STAMP}$`));
  assert.equal(failed?.['level'], 'ERROR');
  assert.equal(failed?.['message'], 'failed');
  assert.equal(failed?.['logger'], 'payments');
  assert.equal(failed?.['requestId'], 'req-json');
  assert.equal(failed?.['errorType'], 'ValueError');
  assert.equal(failed?.['errorMessage'], 'bad value');
  assert.equal(failed?.['location'], `${FIXTURES}/logs/app.py:with_exception:27`);
  assert.equal(failed?.['orderId'], 42);
  assert.match(String((failed?.['stackTrace'] as string[])[0]), /app\.py", line 25, in with_exception/);
});

test('with AWS_LAMBDA_LOG_FORMAT=JSON an uncaught error is logged as one JSON object', TIMEOUT, async (t) => {
  const { invoke, runtime } = await world(t, 'errors', 'app.fail', { AWS_LAMBDA_LOG_FORMAT: 'JSON' });

  await invoke({ requestId: 'req-err' });
  const { stdout } = await runtime.stop();

  const lines = stdout.trimEnd().split('\n');
  assert.equal(lines.length, 1);
  const entry = parseJson(lines[0] ?? '');
  assert.match(String(entry['timestamp']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
  assert.deepEqual({ ...entry, timestamp: undefined, stackTrace: undefined }, {
    timestamp: undefined,
    log_level: 'ERROR',
    errorMessage: 'boom',
    errorType: 'Exception',
    requestId: 'req-err',
    stackTrace: undefined,
  });
});
