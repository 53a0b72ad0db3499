/**
 * What a function cannot do, tried by real functions deployed and invoked through the AWS SDK on the bubblewrap
 * sandbox: each handler attempts the forbidden thing and returns what it observed (error codes, listings); the
 * test asserts on that and, where the host can tell, on the host's side too (connections accepted, uids seen).
 */
import assert from 'node:assert/strict';
import { existsSync, lstatSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { GetFunctionCommand } from '@aws-sdk/client-lambda';
import { startWorld } from '../compat/fixtures.js';
import { deploy, invoke } from '../compat/invoke-support.js';
import {
  countingTcpServer,
  entriesOf,
  environmentProcesses,
  atGate,
  GATE_SOURCE,
  hostProcesses,
  inSandboxUidRange,
  INSIDE_GID,
  INSIDE_UID,
  instanceOf,
  newEnvironment,
  openGate,
} from './isolation-support.js';

/** 1 CPU: probes run after init, when the quota applies; at 128 MB (7% of a CPU) they would only be slower. */
const PROBE = { MemorySize: 1769, Timeout: 30 };
const TEST_TIMEOUT_MS = 60_000;

/** Handler prelude: `attempt(fn)` runs fn and returns { ok, value } or { ok: false, code }. */
const PRELUDE = `
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
const attempt = (fn) => { try { return { ok: true, value: fn() }; } catch (e) { return { ok: false, code: e.code ?? String(e) }; } };
const read = (p) => attempt(() => (fs.statSync(p).isDirectory() ? fs.readdirSync(p) : fs.readFileSync(p, 'utf8').slice(0, 64)));
const tryConnect = (options) => new Promise((resolve) => {
  const socket = net.connect(options);
  const timer = setTimeout(() => { socket.destroy(); resolve('TIMEOUT'); }, 3000);
  socket.once('connect', () => { clearTimeout(timer); socket.destroy(); resolve('CONNECTED'); });
  socket.once('error', (e) => { clearTimeout(timer); resolve(e.code ?? String(e)); });
});
${GATE_SOURCE}
`;

type Attempt = { ok: true; value: unknown } | { ok: false; code: string };

function failedWith(result: Attempt | undefined, codes: string[], what: string): void {
  assert.ok(result, `${what}: no result`);
  assert.ok(!result.ok && codes.includes(result.code), `${what}: expected ${codes.join(' or ')}, got ${JSON.stringify(result)}`);
}

test('the code is read-only, /tmp is writable, and /tmp survives into a warm invocation', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const { client } = await startWorld(t);
  await deploy(client, 'writer', {
    'index.mjs': `${PRELUDE}
export const handler = async (event) => ({
  task: attempt(() => fs.writeFileSync('/var/task/planted.js', 'x')),
  taskReplace: attempt(() => fs.writeFileSync('/var/task/index.mjs', 'x')),
  taskDir: attempt(() => fs.mkdirSync('/var/task/planted')),
  rootDir: attempt(() => fs.writeFileSync('/planted', 'x')),
  usr: attempt(() => fs.writeFileSync('/usr/bin/planted', 'x')),
  runtime: attempt(() => fs.writeFileSync('/var/runtime/planted', 'x')),
  etc: attempt(() => fs.writeFileSync('/etc/passwd', 'x')),
  tmp: event.note === undefined ? null : attempt(() => fs.writeFileSync('/tmp/note', event.note)),
  note: read('/tmp/note'),
  own: read('/var/task/index.mjs').ok,
});
`,
  }, PROBE);

  const first = (await invoke(client, 'writer', { note: 'kept' })).json as Record<string, Attempt | boolean | null>;
  assert.equal(first.own, true, 'the function can read its own code (the failures below are not a broken filesystem)');
  for (const key of ['task', 'taskReplace', 'taskDir', 'rootDir', 'usr', 'runtime', 'etc']) {
    failedWith(first[key] as Attempt, ['EROFS'], `writing (${key})`);
  }
  assert.deepEqual(first.tmp, { ok: true }, 'writing /tmp works');
  assert.deepEqual(first.note, { ok: true, value: 'kept' });

  const second = (await invoke(client, 'writer', {})).json as Record<string, Attempt | boolean | null>;
  assert.deepEqual(second.note, { ok: true, value: 'kept' }, '/tmp content survives into the warm invocation');
});

test("the server's data directory, another function's code, /etc/shadow and /root are out of reach", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const { client, server } = await startWorld(t);
  await deploy(client, 'other', { 'index.mjs': 'export const handler = async () => "secret of other";\n' });
  const sha = (await client.send(new GetFunctionCommand({ FunctionName: 'other' }))).Configuration?.CodeSha256;
  assert.ok(sha);
  const otherTree = path.join(server.dataDir, 'code', 'trees', Buffer.from(sha, 'base64').toString('hex'));
  assert.ok(existsSync(path.join(otherTree, 'index.mjs')), `the host path of the other function's code is right: ${otherTree}`);

  await deploy(client, 'snoop', {
    'index.mjs': `${PRELUDE}
export const handler = async (event) => {
  const out = {};
  for (const p of event.paths) out[p] = read(p);
  return { out, own: read('/var/task/index.mjs').ok, top: fs.readdirSync('/').sort(), var: fs.readdirSync('/var').sort() };
};
`,
  }, PROBE);
  const hostPaths = [
    server.dataDir,
    path.join(server.dataDir, 'kindling.db'),
    path.join(server.dataDir, 'code', 'trees'),
    otherTree,
    path.join(otherTree, 'index.mjs'),
    // Guesses at other ways up and out of the sandbox.
    `/proc/1/root${otherTree}`,
    `/proc/self/root${otherTree}`,
    `/var/task/../..${otherTree}`,
    `/proc/${process.pid}/root/`,
    `/proc/${process.pid}/cwd`,
    '/run/kindling',
  ];
  const parent = path.dirname(server.dataDir);
  const out = await invoke(client, 'snoop', { paths: [...hostPaths, parent, '/etc/shadow', '/root', '/home'] });
  const seen = out.json as { out: Record<string, Attempt>; own: boolean; top: string[]; var: string[] };
  assert.equal(seen.own, true, 'the function can read its own code');
  for (const p of hostPaths) failedWith(seen.out[p], ['ENOENT'], `reading ${p}`);
  // The data dir's parent may be /tmp, which exists inside as the sandbox's own empty tmpfs.
  const listing = seen.out[parent];
  assert.ok(!listing?.ok || !(listing.value as string[]).includes(path.basename(server.dataDir)), `${parent} lists the data dir inside`);
  failedWith(seen.out['/etc/shadow'], ['ENOENT', 'EACCES'], 'reading /etc/shadow');
  failedWith(seen.out['/root'], ['ENOENT', 'EACCES'], 'listing /root');
  failedWith(seen.out['/home'], ['ENOENT', 'EACCES'], 'listing /home');
  const rootEntries = new Set(['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32', 'usr', 'etc', 'var', 'opt', 'tmp', 'proc', 'dev', 'run']);
  assert.deepEqual(seen.top.filter((name) => !rootEntries.has(name)), [], `unexpected entries in the sandbox's /: ${seen.top.join(' ')}`);
  assert.deepEqual(seen.var, ['runtime', 'task']);
});

test("the process list inside shows only the sandbox's own processes, all as sbx_user1051, naming no host path", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const { client, server } = await startWorld(t);
  await deploy(client, 'ps', {
    'index.mjs': `${PRELUDE}
export const handler = async () => ({
  self: process.pid,
  procs: fs.readdirSync('/proc').filter((n) => /^\\d+$/.test(n)).map((pid) => {
    const status = attempt(() => fs.readFileSync('/proc/' + pid + '/status', 'utf8'));
    const cmd = attempt(() => fs.readFileSync('/proc/' + pid + '/cmdline', 'utf8'));
    return { pid: Number(pid), uid: status.ok ? Number(/^Uid:\\s+(\\d+)/m.exec(status.value)?.[1]) : status.code, cmd: cmd.ok ? cmd.value.split('\\0').join(' ').trim() : cmd.code };
  }),
});
`,
  }, PROBE);
  const seen = (await invoke(client, 'ps', {})).json as { self: number; procs: { pid: number; uid: number | string; cmd: string }[] };
  const pids = seen.procs.map((p) => p.pid);
  assert.ok(pids.includes(seen.self), 'the function sees itself');
  // bwrap's init, the supervisor's socat (and a fork of it per Runtime API connection), the runtime.
  assert.ok(seen.procs.length >= 2 && seen.procs.length <= 8, `processes inside: ${JSON.stringify(seen.procs)}`);
  assert.ok(!pids.includes(process.pid), `the server's pid ${process.pid} is visible inside`);
  assert.ok(Math.max(...pids) < 100, `pids inside are the namespace's own: ${pids.join(' ')}`);
  for (const p of seen.procs) {
    assert.equal(p.uid, INSIDE_UID, `process ${p.pid} (${p.cmd}) runs as ${p.uid} inside`);
    assert.ok(!/kindling\.ts|tsx|--test|run-tests/.test(p.cmd), `a host process is visible inside: ${p.cmd}`);
    // bwrap (pid 1 inside) takes its options through a pipe: no host path, code hash or instance id shows.
    assert.ok(!p.cmd.includes(server.dataDir) && !/\/work\/|\/run\/kindling|trees\/[0-9a-f]{64}/.test(p.cmd), `a command line inside names host paths: ${p.cmd}`);
  }
  const hostPids = new Set((await hostProcesses()).map((p) => p.pid));
  assert.ok(hostPids.size > seen.procs.length + 10, 'the host has many more processes than the sandbox shows');
});

test("the network reaches neither Kindling's API, nor the host's loopback, nor another environment's Runtime API", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const { client, server } = await startWorld(t);
  const instance = instanceOf(server.dataDir);
  const loopback = await countingTcpServer(t, '127.0.0.1');
  const anyAddress = await countingTcpServer(t, '0.0.0.0');
  const hostAddress = Object.values(os.networkInterfaces())
    .flat()
    .find((a) => a !== undefined && a.family === 'IPv4' && !a.internal)?.address;

  await deploy(client, 'held', { 'index.mjs': `${PRELUDE}\nexport const handler = async () => ({ passed: await gate(20000) });\n` }, PROBE);
  await deploy(client, 'probe', {
    'index.mjs': `${PRELUDE}
export const handler = async (e) => ({
  api: await tryConnect({ host: '127.0.0.1', port: e.apiPort }),
  loopback: await tryConnect({ host: '127.0.0.1', port: e.loopbackPort }),
  hostAddress: e.hostAddress ? await tryConnect({ host: e.hostAddress, port: e.anyPort }) : null,
  otherSocket: await tryConnect({ path: e.otherSocket }),
  otherSocketVisible: fs.existsSync(e.otherSocket),
  socketRoot: read(e.socketRoot),
  ownRuntimeApi: await tryConnect({ host: '127.0.0.1', port: 9001 }),
  rapi: fs.readdirSync('/run/rapi'),
  interfaces: Object.keys(os.networkInterfaces()),
});
`,
  }, PROBE);

  const held = invoke(client, 'held', {});
  const heldEnv = await newEnvironment(instance, []);
  const [socketName] = await entriesOf(path.join(instance.socketRoot, heldEnv));
  assert.ok(socketName, `no socket in ${heldEnv}'s directory`);
  const otherSocket = path.join(instance.socketRoot, heldEnv, socketName);
  assert.ok(lstatSync(otherSocket).isSocket(), 'the other environment is listening on its socket meanwhile');

  const apiPort = Number(new URL(server.url).port);
  const out = await invoke(client, 'probe', {
    apiPort, loopbackPort: loopback.port, hostAddress, anyPort: anyAddress.port, otherSocket, socketRoot: instance.socketRoot,
  });
  const seen = out.json as Record<string, unknown>;
  assert.equal(seen.api, 'ECONNREFUSED', "Kindling's own API port is closed inside (the sandbox has its own loopback)");
  assert.equal(seen.loopback, 'ECONNREFUSED', "a host loopback port is closed inside");
  if (hostAddress !== undefined) assert.equal(seen.hostAddress, 'ENETUNREACH', `the host's address ${hostAddress} is unreachable`);
  assert.equal(seen.otherSocket, 'ENOENT', "another environment's Runtime API socket path does not exist inside");
  assert.equal(seen.otherSocketVisible, false);
  failedWith(seen.socketRoot as Attempt, ['ENOENT'], 'listing the socket root');
  assert.equal(seen.ownRuntimeApi, 'CONNECTED', 'its own Runtime API answers (the probes above are not a dead network stack)');
  assert.deepEqual(seen.rapi, ['rapi.sock'], 'only its own socket is bound inside');
  assert.deepEqual(seen.interfaces, ['lo']);
  assert.equal(loopback.accepted(), 0, 'the host loopback server was never reached');
  assert.equal(anyAddress.accepted(), 0, 'the host wildcard server was never reached');

  await openGate(instance, heldEnv);
  assert.deepEqual((await held).json, { passed: true });
});

test('a running function is never host root: its processes run as one uid of the sandbox range, 993 inside', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const { client, server } = await startWorld(t);
  const instance = instanceOf(server.dataDir);
  await deploy(client, 'whoami', {
    'index.mjs': `${PRELUDE}
export const handler = async () => {
  const passed = await gate(20000);
  return { passed, uid: process.getuid(), euid: process.geteuid(), gid: process.getgid(), user: os.userInfo().username, home: os.userInfo().homedir };
};
`,
  }, PROBE);

  const pending = invoke(client, 'whoami', {});
  const envId = await newEnvironment(instance, []);
  await atGate(instance, envId);
  await openGateAfter(async () => {
    const processes = await environmentProcesses(instance, envId);
    assert.ok(processes.length >= 3, `the environment's processes on the host: ${JSON.stringify(processes)}`);
    for (const p of processes) {
      assert.ok(!p.uids.includes(0), `process ${p.pid} (${p.cmdline}) runs as host root: ${p.uids.join(' ')}`);
      for (const uid of p.uids) assert.ok(inSandboxUidRange(uid), `process ${p.pid} (${p.cmdline}) has uid ${uid} outside the sandbox range`);
    }
    const uids = new Set(processes.flatMap((p) => p.uids));
    assert.equal(uids.size, 1, `one uid per environment: ${[...uids].join(' ')}`);
    const [uid] = [...uids];
    // Scanned the other way round: every host process with that uid is the environment's.
    const withUid = (await hostProcesses()).filter((p) => p.uids.includes(uid!));
    assert.deepEqual(withUid.map((p) => p.pid).sort(), processes.map((p) => p.pid).sort());
  }, () => openGate(instance, envId));
  const inside = (await pending).json as Record<string, unknown>;
  assert.deepEqual(inside, { passed: true, uid: INSIDE_UID, euid: INSIDE_UID, gid: INSIDE_GID, user: 'sbx_user1051', home: '/home/sbx_user1051' });
});

/** Runs the checks, then always opens the gate (a failed check must not leave the invocation hanging). */
async function openGateAfter(checks: () => Promise<void>, open: () => Promise<void>): Promise<void> {
  try {
    await checks();
  } finally {
    await open();
  }
}
