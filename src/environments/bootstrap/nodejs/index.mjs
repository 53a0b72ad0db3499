// Kindling's runtime for nodejs20.x. Started inside the sandbox as `/usr/bin/node [heap flags] /var/runtime/index.mjs`
// with cwd /var/task and Lambda's environment (LAMBDA_REFERENCE §4.1); imports only node: builtins and its own files.
//
// The Runtime API is reached over the Unix socket named by _KINDLING_RUNTIME_API_SOCKET when the platform sets it
// (the variable is removed from the environment at once), else over TCP at AWS_LAMBDA_RUNTIME_API.
//
// Init: patch the console, install globalThis.awslambda, load _HANDLER from LAMBDA_TASK_ROOT. A load failure is logged
// as "Uncaught Exception", posted to /runtime/init/error and ends the process (129; 128 for an unhandled rejection),
// as Lambda's runtime does; the platform reports it to the pending invoke.
// Then: GET /next → run the handler → POST the answer → GET /next, one invocation at a time.
//
// Pre-warmed (_KINDLING_BINDING=1): started before any function was chosen, with an empty /var/task and an environment
// that holds nothing of a function. It waits at GET /kindling/binding until the platform has bound a function's code at
// /var/task and /opt and answers with the function's environment; that environment then replaces ours entirely and
// init goes on as above.
import { awaitBridge, portOf } from './bridge.mjs';
import { functionSettings } from './context.mjs';
import { setLogContext, patchConsole } from './console-patch.mjs';
import { errorTypeHeader, formatForLog, NodeJsExit, toErrorPayload, UnhandledPromiseRejection } from './errors.mjs';
import { loadHandler, warmUpLoaders } from './handler-loader.mjs';
import { Invocation, runBeforeExitAction, STREAMING } from './invocation.mjs';
import { RuntimeClient } from './runtime-client.mjs';

const EXIT_UNCAUGHT_EXCEPTION = 129;
const EXIT_UNHANDLED_REJECTION = 128;
const EXIT_RUNTIME_API_GONE = 1;

const env = process.env;
// The platform's own channel to the Runtime API: read once, then removed before any user code runs, so that the
// function (and every process it starts) sees only AWS_LAMBDA_RUNTIME_API, as on Lambda.
const socketPath = env._KINDLING_RUNTIME_API_SOCKET;
delete env._KINDLING_RUNTIME_API_SOCKET;
const prewarmed = env._KINDLING_BINDING === '1';
delete env._KINDLING_BINDING;
// The 127.0.0.1 bridge is starting beside us (bridge.mjs): its port, to wait for before the first invocation.
const bridgePort = env._KINDLING_AWAIT_BRIDGE === '1' ? portOf(env.AWS_LAMBDA_RUNTIME_API) : undefined;
delete env._KINDLING_AWAIT_BRIDGE;
if (!socketPath && !env.AWS_LAMBDA_RUNTIME_API) {
  process.stderr.write('[runtime] AWS_LAMBDA_RUNTIME_API is not set\n');
  process.exit(EXIT_RUNTIME_API_GONE);
}
const client = new RuntimeClient(socketPath ? { socketPath } : { address: env.AWS_LAMBDA_RUNTIME_API });
/** The function's context settings, read from the environment once it is the function's. */
let settings;

/** The invocation uncaught errors are reported against; undefined during init (they go to /init/error). */
let currentRequestId;
let initializing = true;
let dying = false;

/** What init does before loading the handler, once the environment is the function's. */
function prepareInit() {
  settings = functionSettings(env);
  patchConsole(env.AWS_LAMBDA_LOG_FORMAT, env.AWS_LAMBDA_LOG_LEVEL);
  if (env.AWS_LAMBDA_NODEJS_NO_GLOBAL_AWSLAMBDA !== 'true' && env.AWS_LAMBDA_NODEJS_NO_GLOBAL_AWSLAMBDA !== '1') {
    globalThis.awslambda = {
      /** Marks a streaming handler; invoking one answers Runtime.StreamingNotSupported until streaming is served. */
      streamifyResponse(handler) {
        handler[STREAMING] = 'response';
        return handler;
      },
    };
  }
}

/**
 * Pre-warmed, before waiting: what a fresh process pays the first time, paid now rather than in the function's Init
 * Duration (measured: about 6 ms of 12): the loaders' first file, the HTTP client's first answers, the stdio streams
 * (created on first access).
 */
async function warmUp() {
  await warmUpLoaders();
  await client.warmUp();
  void process.stdout.writable;
  void process.stderr.writable;
}

/** Pre-warmed: waits for the function, then takes on its environment and its code's directory. */
async function awaitBinding() {
  let bound;
  try {
    await warmUp();
    bound = await client.binding();
  } catch (error) {
    process.stderr.write(`[runtime] ${error?.stack ?? error}\n`);
    process.exit(EXIT_RUNTIME_API_GONE);
  }
  // Exactly the function's environment; keys the spare already has with the same value are left alone (each write
  // of process.env is a setenv(3)).
  const wanted = bound.env;
  for (const key of Object.keys(env)) if (!Object.hasOwn(wanted, key)) delete env[key];
  for (const [key, value] of Object.entries(wanted)) if (env[key] !== value) env[key] = value;
  // The cwd is still the empty directory the code was mounted over.
  process.chdir(env.LAMBDA_TASK_ROOT ?? '/var/task');
}

process.on('uncaughtException', (error) => die('Uncaught Exception', error, EXIT_UNCAUGHT_EXCEPTION));
process.on('unhandledRejection', (reason, promise) => {
  const error = new UnhandledPromiseRejection(reason, promise);
  die('Unhandled Promise Rejection', error, EXIT_UNHANDLED_REJECTION);
});
process.on('beforeExit', () => {
  // During init the loop only drains when the handler module awaits (top level) something that can never settle.
  if (initializing) {
    initializing = false;
    const error = new NodeJsExit('The handler module\'s top-level await never settled: the event loop is empty');
    die('Uncaught Exception', error, EXIT_UNCAUGHT_EXCEPTION);
    return;
  }
  runBeforeExitAction();
});

main();

async function main() {
  if (prewarmed) await awaitBinding();
  prepareInit();
  let handler;
  try {
    handler = await loadHandler(env.LAMBDA_TASK_ROOT ?? process.cwd(), env._HANDLER);
  } catch (error) {
    die('Uncaught Exception', error, EXIT_UNCAUGHT_EXCEPTION);
    return;
  }
  if (bridgePort !== undefined && !(await awaitBridge(bridgePort))) {
    process.stderr.write(`[runtime] nothing listens on 127.0.0.1:${bridgePort}: function code cannot reach AWS_LAMBDA_RUNTIME_API\n`);
  }
  initializing = false;
  try {
    for (;;) {
      const next = await client.next();
      const headers = next.headers;
      currentRequestId = headers['lambda-runtime-aws-request-id'];
      if (currentRequestId === undefined) throw new Error('GET /next answered without Lambda-Runtime-Aws-Request-Id');
      setLogContext(currentRequestId, headers['lambda-runtime-aws-tenant-id']);
      const traceId = headers['lambda-runtime-trace-id'];
      if (traceId === undefined) delete env._X_AMZN_TRACE_ID;
      else env._X_AMZN_TRACE_ID = traceId;
      const invocation = new Invocation(client, settings, next);
      invocation.run(handler, next.body);
      await invocation.finished;
    }
  } catch (error) {
    // The Runtime API is gone (or broke the protocol): nothing to report to; the platform sees the exit.
    process.stderr.write(`[runtime] ${error?.stack ?? error}\n`);
    process.exit(EXIT_RUNTIME_API_GONE);
  }
}

/**
 * Logs `<label> \t{…}`, posts the error for the current invocation (or as the init error) and exits. The exit comes
 * after the post whatever its outcome: the platform learns of the failure from the post, or from the exit.
 */
function die(label, error, exitCode) {
  if (dying) return;
  dying = true;
  console.error(label, formatForLog(error));
  const payload = toErrorPayload(error);
  const type = errorTypeHeader(payload.errorType);
  const posting = currentRequestId === undefined
    ? client.postInitError(payload, type)
    : client.postError(currentRequestId, payload, type);
  posting.then(() => process.exit(exitCode), () => process.exit(exitCode));
}
