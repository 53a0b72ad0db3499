import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { FIXTURES, parseJson, startFakeRuntimeApi, startRuntime, type Posted } from './python-harness.js';
import { over, TRANSPORTS, type Transport } from './runtime-api-transport.js';

const TIMEOUT = { timeout: 15_000 };

interface InitFailure {
  post: Posted;
  body: Record<string, unknown>;
  code: number | null;
  stdout: string;
  nextCount: number;
}

/** Starts the runtime on a handler that cannot load and collects what it reported before exiting. */
async function failInit(t: TestContext, fixture: string, handler: string, transport: Transport = 'tcp'): Promise<InitFailure> {
  const api = await startFakeRuntimeApi(t, transport);
  const runtime = startRuntime(t, { api, fixture, handler });
  const [post, { code, stdout }] = await Promise.all([api.nextPost(), runtime.exited]);
  assert.equal(post.path, '/2018-06-01/runtime/init/error');
  const body = parseJson(post.body);
  assert.equal(post.headers['lambda-runtime-function-error-type'], body['errorType']);
  assert.equal(body['requestId'], '');
  return { post, body, code, stdout, nextCount: api.nextCount };
}

test('a handler without a dot is reported as Runtime.MalformedHandlerName and the runtime exits', TIMEOUT, async (t) => {
  const failure = await failInit(t, 'echo', 'app');

  assert.deepEqual(failure.body, {
    errorMessage: "Bad handler 'app': not enough values to unpack (expected 2, got 1)",
    errorType: 'Runtime.MalformedHandlerName',
    requestId: '',
    stackTrace: [],
  });
  assert.equal(failure.code, 1);
  assert.equal(failure.nextCount, 0);
  assert.equal(
    failure.stdout,
    "[ERROR] Runtime.MalformedHandlerName: Bad handler 'app': not enough values to unpack (expected 2, got 1)\r" +
      'Traceback (most recent call last):\n',
  );
});

test('a handler with an empty module or function part is malformed', TIMEOUT, async (t) => {
  const [noModule, noFunction] = await Promise.all([failInit(t, 'echo', '.handler'), failInit(t, 'echo', 'app.')]);

  assert.equal(noModule.body['errorType'], 'Runtime.MalformedHandlerName');
  assert.equal(noModule.body['errorMessage'], "Bad handler '.handler': empty module name");
  assert.equal(noFunction.body['errorType'], 'Runtime.MalformedHandlerName');
  assert.equal(noFunction.body['errorMessage'], "Bad handler 'app.': empty function name");
  assert.deepEqual([noModule.code, noFunction.code], [1, 1]);
});

for (const transport of TRANSPORTS) {
  test(`a module that does not exist is reported as Runtime.ImportModuleError${over(transport)}`, TIMEOUT, async (t) => {
    const failure = await failInit(t, 'echo', 'nowhere.handler', transport);

    assert.deepEqual(failure.body, {
      errorMessage: "Unable to import module 'nowhere': No module named 'nowhere'",
      errorType: 'Runtime.ImportModuleError',
      requestId: '',
      stackTrace: [],
    });
    assert.equal(failure.code, 1);
    assert.equal(failure.nextCount, 0);
  });
}

test('a module whose own import fails is reported as Runtime.ImportModuleError naming the dependency', TIMEOUT, async (t) => {
  const failure = await failInit(t, 'import-error', 'app.handler');

  assert.equal(failure.body['errorType'], 'Runtime.ImportModuleError');
  assert.equal(failure.body['errorMessage'], "Unable to import module 'app': No module named 'kindling_missing_dependency'");
  assert.equal(failure.code, 1);
});

test('a syntax error is reported as Runtime.UserCodeSyntaxError with the offending line', TIMEOUT, async (t) => {
  const failure = await failInit(t, 'syntax-error', 'app.handler');

  assert.equal(failure.body['errorType'], 'Runtime.UserCodeSyntaxError');
  assert.equal(failure.body['errorMessage'], "Syntax error in module 'app': expected ':' (app.py, line 1)");
  assert.deepEqual(failure.body['stackTrace'], [
    `  File "${FIXTURES}/syntax-error/app.py" Line 1\n    def handler(event, context)\n`,
  ]);
  assert.equal(failure.code, 1);
  assert.equal(failure.nextCount, 0);
});

test('a missing handler function is reported as Runtime.HandlerNotFound', TIMEOUT, async (t) => {
  const failure = await failInit(t, 'echo', 'app.nothing_here');

  assert.deepEqual(failure.body, {
    errorMessage: "Handler 'nothing_here' missing on module 'app'",
    errorType: 'Runtime.HandlerNotFound',
    requestId: '',
    stackTrace: [],
  });
  assert.equal(failure.code, 1);
});

test('an exception raised while the module loads is reported under its own class with the user frames', TIMEOUT, async (t) => {
  const failure = await failInit(t, 'raises-at-import', 'app.handler');

  assert.equal(failure.body['errorType'], 'RuntimeError');
  assert.equal(failure.body['errorMessage'], 'config missing');
  const trace = failure.body['stackTrace'] as string[];
  // importlib's frames lead into the module (as on Lambda); none of the runtime's own frames do.
  assert.match(trace[0] ?? '', /importlib\/__init__\.py", line \d+, in import_module\n/);
  assert.ok(!trace.some((f) => f.includes('kindling_runtime') || f.includes('bootstrap.py')), trace.join(''));
  assert.deepEqual(trace.slice(-2), [
    `  File "${FIXTURES}/raises-at-import/app.py", line 5, in <module>\n    CONFIG = load_config()\n`,
    `  File "${FIXTURES}/raises-at-import/app.py", line 2, in load_config\n    raise RuntimeError("config missing")\n`,
  ]);
  assert.match(failure.stdout, /^\[ERROR\] RuntimeError: config missing\rTraceback \(most recent call last\):\r/);
  assert.equal(failure.code, 1);
});

test('a handler module named after a built-in module is reported as Runtime.BuiltInModuleConflict', TIMEOUT, async (t) => {
  const failure = await failInit(t, 'echo', 'sys.exit');

  assert.equal(failure.body['errorType'], 'Runtime.BuiltInModuleConflict');
  assert.equal(failure.body['errorMessage'], 'Cannot use built-in module sys as a handler module');
  assert.equal(failure.code, 1);
});
