/**
 * Pre-warmed sandboxes (issue 4 item 6) through the SDK: a cold start that takes a spare serves the function's own
 * code, environment and settings (never those of anything before), is reported as pre-warmed (GET /kindling/stats),
 * keeps the init-error behaviour, sees /var/task read-only; NODE_OPTIONS and custom runtimes start cold; Python too;
 * KINDLING_PREWARM=0 disables it.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { LambdaClient, Runtime } from '@aws-sdk/client-lambda';
import { publishLayer, startWorld } from './fixtures.js';
import { deploy, invoke, parseReport } from './invoke-support.js';

interface Stats {
  starts: { warm: number; 'pre-warmed': number; cold: number };
  spares: { ready: number; starting: number; perKey: number; keys: { key: string; ready: number }[] };
}

async function stats(url: string): Promise<Stats> {
  const res = await fetch(`${url}/kindling/stats`);
  assert.equal(res.status, 200);
  return (await res.json()) as Stats;
}

/** Waits (bounded) until the spare key has a ready sandbox. */
async function spareReady(url: string, key: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const s = await stats(url);
    if (s.spares.keys.some((k) => k.key === key && k.ready > 0)) return;
    assert.ok(Date.now() < deadline, `no ready spare for ${key}: ${JSON.stringify(s.spares)}`);
    await delay(25);
  }
}

/** A server whose nodejs20.x/128/512 (or given) key has a ready spare: one function started once makes it wanted. */
async function primed(t: TestContext, options: { runtime?: Runtime; handler?: string; sources?: Record<string, string>; env?: Record<string, string> } = {}): Promise<{ client: LambdaClient; url: string }> {
  const { server, client } = await startWorld(t, { env: { KINDLING_AUTH: 'none', ...options.env } });
  const runtime: Runtime = options.runtime ?? 'nodejs20.x';
  const sources = options.sources ?? { 'index.mjs': "export const handler = async () => 'first';" };
  await deploy(client, 'first', sources, { Runtime: runtime, Handler: options.handler ?? 'index.handler', Environment: { Variables: { FIRST_SECRET: 'from-first' } } });
  const first = await invoke(client, 'first');
  assert.equal(first.functionError, undefined, first.text);
  await spareReady(server.url, `${runtime}/128/512`);
  return { client, url: server.url };
}

const PROBE = `
import { writeFileSync, readdirSync } from 'node:fs';
export const handler = async (event, context) => {
  let write;
  try { writeFileSync('/var/task/x', 'x'); write = 'written'; } catch (e) { write = e.code; }
  return {
    name: context.functionName, memory: context.memoryLimitInMB, stream: context.logStreamName, version: context.functionVersion,
    env: { ...process.env }, cwd: process.cwd(), files: readdirSync('.'), write, heap: process.execArgv,
  };
};
`;

test('a pre-warmed start serves the function its own code, environment and settings, read-only, with Init Duration', async (t) => {
  const { client, url } = await primed(t);
  const before = await stats(url);
  await deploy(client, 'probe', { 'index.mjs': PROBE }, { Environment: { Variables: { MINE: 'probe' } } });
  const out = await invoke(client, 'probe');
  assert.equal(out.functionError, undefined, out.text);
  const body = out.json as { name: string; memory: string; stream: string; version: string; env: Record<string, string>; cwd: string; files: string[]; write: string; heap: string[] };
  assert.equal(body.name, 'probe');
  assert.equal(body.memory, '128');
  assert.equal(body.version, '$LATEST');
  assert.equal(body.env.AWS_LAMBDA_LOG_STREAM_NAME, body.stream);
  assert.match(body.stream, /^\d{4}\/\d\d\/\d\d\/\[\$LATEST\][0-9a-f]{32}$/);
  assert.equal(body.env.MINE, 'probe');
  assert.equal(body.env._HANDLER, 'index.handler');
  assert.equal(body.env.AWS_LAMBDA_FUNCTION_NAME, 'probe');
  assert.equal(body.env.AWS_LAMBDA_INITIALIZATION_TYPE, 'on-demand');
  assert.equal(body.env.AWS_LAMBDA_RUNTIME_API, '127.0.0.1:9001');
  assert.equal(body.env.FIRST_SECRET, undefined, 'nothing of another function');
  assert.equal(body.env._KINDLING_BINDING, undefined, 'the platform\'s own variables are gone');
  assert.equal(body.env._KINDLING_RUNTIME_API_SOCKET, undefined);
  assert.equal(body.cwd, '/var/task');
  assert.deepEqual(body.files, ['index.mjs']);
  assert.equal(body.write, 'EROFS', '/var/task is read-only inside');
  assert.deepEqual(body.heap, ['--max-semi-space-size=2', '--max-old-space-size=115']);
  const report = parseReport(out.log, out.requestId!);
  assert.ok(report.initMs !== undefined, 'a pre-warmed start is still an init: Init Duration');

  const after = await stats(url);
  assert.equal(after.starts['pre-warmed'], before.starts['pre-warmed'] + 1, JSON.stringify(after));
  assert.equal(after.starts.cold, before.starts.cold);
  const warm = await invoke(client, 'probe');
  assert.equal(parseReport(warm.log, warm.requestId!).initMs, undefined);
  assert.equal((await stats(url)).starts.warm, after.starts.warm + 1);
});

test('a pre-warmed start keeps the init errors: Runtime.ImportModuleError with INIT_REPORT, then a fresh environment', async (t) => {
  const { client, url } = await primed(t);
  await deploy(client, 'broken', { 'index.mjs': "import 'does-not-exist';\nexport const handler = async () => 1;" });
  const out = await invoke(client, 'broken');
  assert.equal(out.functionError, 'Unhandled');
  assert.equal((out.json as { errorType: string }).errorType, 'Runtime.ImportModuleError');
  assert.match(out.log, /INIT_REPORT Init Duration: \d+\.\d\d ms\tPhase: init\tStatus: error\tError Type: Runtime.ImportModuleError/);
  assert.equal((await stats(url)).starts['pre-warmed'], 1);
  await deploy(client, 'missing', { 'index.mjs': 'export const other = 1;' });
  await spareReady(url, 'nodejs20.x/128/512');
  const missing = await invoke(client, 'missing');
  assert.equal((missing.json as { errorType: string }).errorType, 'Runtime.HandlerNotFound');
  assert.equal((await stats(url)).starts['pre-warmed'], 2);
});

test('a pre-warmed start binds the merged layers at /opt: NODE_PATH finds their packages', async (t) => {
  const { client, url } = await primed(t);
  const layer = await publishLayer(client, 'greeting', 'hello from the layer');
  await deploy(client, 'layered', { 'index.js': "exports.handler = async () => ({ greeting: require('greeting'), opt: require('fs').readdirSync('/opt') });" }, {
    Handler: 'index.handler',
    Layers: [layer.LayerVersionArn!],
  });
  const out = await invoke(client, 'layered');
  assert.equal(out.functionError, undefined, out.text);
  assert.deepEqual(out.json, { greeting: 'hello from the layer', opt: ['nodejs'] });
  assert.equal((await stats(url)).starts['pre-warmed'], 1);
});

test('functions with NODE_OPTIONS, custom runtimes and other memory sizes start cold', async (t) => {
  const { client, url } = await primed(t);
  await deploy(client, 'opts', { 'index.mjs': 'export const handler = async () => process.execArgv;' }, { Environment: { Variables: { NODE_OPTIONS: '--max-old-space-size=100' } } });
  await deploy(client, 'custom', { bootstrap: '#!/bin/sh\nexit 3\n' }, { Runtime: 'provided.al2023', Handler: 'x' });
  await deploy(client, 'big', { 'index.mjs': "export const handler = async () => 'big';" }, { MemorySize: 256 });
  const before = await stats(url);
  const opts = await invoke(client, 'opts');
  assert.deepEqual(opts.json, [], 'NODE_OPTIONS sets the heap: no flags of ours');
  await invoke(client, 'custom');
  assert.equal((await invoke(client, 'big')).json, 'big');
  const after = await stats(url);
  assert.equal(after.starts['pre-warmed'], before.starts['pre-warmed'], JSON.stringify(after));
  assert.equal(after.starts.cold, before.starts.cold + 3);
  assert.ok(after.spares.keys.some((k) => k.key === 'nodejs20.x/128/512' && k.ready === 1), 'the spare is still there');
});

test('python3.11 pre-warmed: the handler sees its own environment and code', async (t) => {
  const { client, url } = await primed(t, { runtime: 'python3.11', handler: 'app.handler', sources: { 'app.py': "def handler(e, c):\n    return 'first'\n" } });
  const probe = [
    'import os',
    'def handler(event, context):',
    "    try:\n        open('/var/task/x', 'w')\n        write = 'written'\n    except OSError as e:\n        write = e.errno",
    "    return {'name': context.function_name, 'memory': context.memory_limit_in_mb, 'stream': context.log_stream_name,",
    "            'env': dict(os.environ), 'cwd': os.getcwd(), 'files': sorted(os.listdir('.')), 'write': write}",
  ].join('\n');
  await deploy(client, 'pyprobe', { 'lambda_function.py': `${probe}\n`, 'helper.py': 'X = 1\n' }, { Runtime: 'python3.11', Handler: 'lambda_function.handler', Environment: { Variables: { MINE: 'py' } } });
  const out = await invoke(client, 'pyprobe');
  assert.equal(out.functionError, undefined, out.text);
  const body = out.json as { name: string; memory: string; stream: string; env: Record<string, string>; cwd: string; files: string[]; write: number };
  assert.equal(body.name, 'pyprobe');
  assert.equal(body.memory, '128');
  assert.equal(body.env.AWS_LAMBDA_LOG_STREAM_NAME, body.stream);
  assert.equal(body.env.MINE, 'py');
  assert.equal(body.env.FIRST_SECRET, undefined);
  assert.equal(body.env._KINDLING_BINDING, undefined);
  assert.equal(body.cwd, '/var/task');
  assert.deepEqual(body.files, ['helper.py', 'lambda_function.py']);
  assert.equal(body.write, 30, 'EROFS');
  assert.equal((await stats(url)).starts['pre-warmed'], 1);
});

test('python3.11 pre-warmed: an import error is Runtime.ImportModuleError with INIT_REPORT', async (t) => {
  const { client, url } = await primed(t, { runtime: 'python3.11', handler: 'app.handler', sources: { 'app.py': "def handler(e, c):\n    return 'first'\n" } });
  await deploy(client, 'pybroken', { 'app.py': 'import does_not_exist\n' }, { Runtime: 'python3.11', Handler: 'app.handler' });
  const out = await invoke(client, 'pybroken');
  assert.equal(out.functionError, 'Unhandled');
  assert.deepEqual(out.json, {
    errorMessage: "Unable to import module 'app': No module named 'does_not_exist'",
    errorType: 'Runtime.ImportModuleError',
    requestId: '',
    stackTrace: [],
  });
  assert.match(out.log, /INIT_REPORT Init Duration: \d+\.\d\d ms\tPhase: init\tStatus: error\tError Type: Runtime.ImportModuleError/);
  assert.equal((await stats(url)).starts['pre-warmed'], 1);
});

test('KINDLING_PREWARM=0 keeps no spares: every start is cold', async (t) => {
  const { server, client } = await startWorld(t, { env: { KINDLING_AUTH: 'none', KINDLING_PREWARM: '0' } });
  await deploy(client, 'a', { 'index.mjs': "export const handler = async () => 'a';" });
  await deploy(client, 'b', { 'index.mjs': "export const handler = async () => 'b';" });
  await invoke(client, 'a');
  await invoke(client, 'b');
  const s = await stats(server.url);
  assert.deepEqual(s.starts, { warm: 0, 'pre-warmed': 0, cold: 2 });
  assert.equal(s.spares.perKey, 0);
  assert.deepEqual(s.spares.keys, []);
});
