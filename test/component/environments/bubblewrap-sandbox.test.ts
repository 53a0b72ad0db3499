// The bubblewrap backend with real processes, namespaces and cgroups. Needs root, bwrap, socat and cgroups: elsewhere
// the tests skip, except in CI (root there), where a missing prerequisite is a failure.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { test, type TestContext } from 'node:test';
import type { CgroupDriver } from '../../../src/environments/cgroups/cgroup-driver.js';
import { createCgroupDriver } from '../../../src/environments/cgroups/create-cgroup-driver.js';
import { BubblewrapSandbox } from '../../../src/environments/isolation/bubblewrap.js';
import { createSandbox } from '../../../src/environments/isolation/create-sandbox.js';
import {
  sandboxInstanceId,
  SandboxError,
  type Sandbox,
  type SandboxProcess,
  type SandboxSpec,
} from '../../../src/environments/sandbox.js';
import { UidPool } from '../../../src/environments/uid-pool.js';

const has = (program: string): boolean => spawnSync('sh', ['-c', `command -v ${program}`]).status === 0;
const unavailable =
  process.getuid?.() !== 0
    ? 'needs root (cgroups, setpriv)'
    : !has('bwrap') || !has('socat') || !has('setpriv')
      ? 'needs bwrap, socat and setpriv (apt-get install bubblewrap socat util-linux)'
      : undefined;

function bwrapTest(name: string, body: (t: TestContext) => Promise<void>): void {
  const skip = process.env.CI === 'true' ? false : (unavailable ?? false);
  test(name, { skip }, async (t) => {
    if (unavailable !== undefined) assert.fail(`bubblewrap tests cannot run: ${unavailable}`);
    await body(t);
  });
}

const LIMITS = { memoryMb: 128, cpuQuota: 0.1, pidsMax: 64, tmpMb: 16 };

interface Started {
  environment: SandboxProcess;
  /** Everything written to stdout / stderr until the streams end. */
  output: Promise<{ stdout: string; stderr: string }>;
  /** Resolves with stdout so far once it matches. */
  waitForStdout(pattern: RegExp): Promise<string>;
}

interface World {
  dataDir: string;
  codeDir: string;
  instanceId: string;
  sandbox: Sandbox;
  uids: UidPool;
  cgroups: CgroupDriver;
  start(overrides: Partial<SandboxSpec>, sandbox?: Sandbox): Promise<Started>;
  /** An HTTP server on a Unix socket in its own 0700 directory under socketRoot, as the Runtime API listens. */
  listen(id: string, sandbox?: Sandbox): Promise<{ socket: string; urls: string[] }>;
}

async function makeWorld(t: TestContext): Promise<World> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'kindling-bwrap-data-')); // 0700, as a data dir may be
  const codeDir = await fs.mkdtemp(path.join(os.tmpdir(), 'kindling-bwrap-code-'));
  await fs.chmod(codeDir, 0o755);
  await fs.writeFile(path.join(codeDir, 'index.js'), 'exports.handler = async () => 1;\n');
  const instanceId = sandboxInstanceId(dataDir);
  const cgroups = createCgroupDriver(instanceId);
  const uids = new UidPool({ startAt: randomBytes(4).readUInt32BE() });
  const sandbox = new BubblewrapSandbox({ instanceId, cgroups, uids });
  const servers: http.Server[] = [];
  t.after(async () => {
    await sandbox.close();
    for (const server of servers) server.close();
    await fs.rm(dataDir, { recursive: true, force: true });
    await fs.rm(codeDir, { recursive: true, force: true });
  });
  let count = 0;
  return {
    dataDir,
    codeDir,
    instanceId,
    sandbox,
    uids,
    cgroups,
    async start(overrides, target = sandbox) {
      const environment = await target.start({
        id: `env-${++count}`,
        codeDir,
        command: ['/usr/bin/true'],
        env: { PATH: '/usr/bin:/bin' },
        limits: LIMITS,
        ...overrides,
      });
      let stdout = '';
      let stderr = '';
      environment.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      environment.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const ended = (stream: NodeJS.ReadableStream) => new Promise((resolve) => stream.once('end', resolve));
      const output = Promise.all([ended(environment.stdout), ended(environment.stderr)]).then(() => ({ stdout, stderr }));
      return {
        environment,
        output,
        async waitForStdout(pattern) {
          const deadline = Date.now() + 10_000;
          while (!pattern.test(stdout)) {
            if (Date.now() > deadline) assert.fail(`stdout never matched ${pattern}: ${stdout} / ${stderr}`);
            await delay(5);
          }
          return stdout;
        },
      };
    },
    async listen(id, target = sandbox) {
      const dir = path.join(target.socketRoot, id);
      await fs.mkdir(dir, { recursive: true, mode: 0o700 });
      const socket = path.join(dir, 'rapi.sock');
      const urls: string[] = [];
      const server = http.createServer((request, response) => {
        urls.push(request.url ?? '');
        response.end(`hello from ${request.url}`);
      });
      servers.push(server);
      await new Promise<void>((resolve) => server.listen(socket, resolve));
      return { socket, urls };
    },
  };
}

const sh = (script: string, ...args: string[]): string[] => ['/bin/sh', '-c', script, 'sh', ...args];

/** The host uids (real, effective, saved, fs) of a host pid. */
async function hostUids(pid: number): Promise<number[]> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8');
  return (/^Uid:\s+(.*)$/m.exec(status)?.[1] ?? '').trim().split(/\s+/).map(Number);
}

/** Host pids whose argv is exactly `argv`. */
async function findProcesses(argv: string[]): Promise<number[]> {
  const wanted = `${argv.join('\0')}\0`;
  const found: number[] = [];
  for (const name of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const cmdline = await fs.readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '');
    if (cmdline === wanted) found.push(Number(name));
  }
  return found;
}

async function processesOfUid(uid: number): Promise<number[]> {
  const found: number[] = [];
  for (const name of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const uids = await hostUids(Number(name)).catch((): number[] => []);
    if (uids.includes(uid)) found.push(Number(name));
  }
  return found;
}

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await delay(5);
  }
}

const PYTHON = '/usr/bin/python3.11';

bwrapTest('the command sees exactly spec.env and none of the server\'s variables', async (t) => {
  process.env.KINDLING_SERVER_MARKER = 'must-not-leak';
  t.after(() => delete process.env.KINDLING_SERVER_MARKER);
  const world = await makeWorld(t);
  const envs: Record<string, string>[] = [
    { PATH: '/usr/bin:/bin', AWS_REGION: 'us-east-1', WITH_SPACES: 'a  b "c"' },
    { PATH: '/usr/bin', PWD: '/opt', LAMBDA_TASK_ROOT: '/var/task' },
  ];
  for (const env of envs) {
    const { environment, output } = await world.start({ command: ['/usr/bin/env'], env });
    assert.equal((await environment.exited).code, 0);
    const lines = (await output).stdout.trim().split('\n').sort();
    assert.deepEqual(lines, Object.entries(env).map(([key, value]) => `${key}=${value}`).sort());
  }
});

bwrapTest('the command runs as uid 993 inside and as an unprivileged host uid outside', async (t) => {
  const world = await makeWorld(t);
  const marker = `1000.${randomBytes(3).readUIntBE(0, 3)}`;
  const started = await world.start({ command: sh('id -u; id -g; id -un; exec sleep "$1"', marker) });
  assert.equal(await started.waitForStdout(/sbx_user1051\n/), '993\n990\nsbx_user1051\n');
  const [inner] = await findProcesses(['sleep', marker]);
  assert.ok(inner !== undefined && inner !== started.environment.pid, 'the inner process is visible from the host');
  const [uid, ...others] = await hostUids(inner);
  assert.ok(uid !== undefined && uid >= 200_000 && uid <= 299_999, `host uid ${uid}`);
  assert.deepEqual(others, [uid, uid, uid]);
  assert.deepEqual(await hostUids(started.environment.pid), [uid, uid, uid, uid]);
});

bwrapTest('/var/task is read-only and /tmp is writable up to tmpMb', async (t) => {
  const world = await makeWorld(t);
  const script = [
    'cat /var/task/index.js',
    'touch /var/task/new 2>&1',
    'touch /new 2>&1',
    'echo written > /tmp/a && cat /tmp/a',
    'dd if=/dev/zero of=/tmp/big bs=1M count=16 status=none',
    'du -k /tmp/big',
  ].join('; ');
  const { environment, output } = await world.start({ command: sh(script), limits: { ...LIMITS, tmpMb: 4 } });
  await environment.exited;
  const { stdout, stderr } = await output;
  assert.match(stdout, /^exports\.handler/);
  assert.match(stdout, /touch: cannot touch '\/var\/task\/new': Read-only file system/);
  assert.match(stdout, /touch: cannot touch '\/new': Read-only file system/);
  assert.match(stdout, /^written$/m);
  assert.match(stderr, /No space left on device/);
  assert.ok(Number(/^(\d+)\s+\/tmp\/big$/m.exec(stdout)?.[1]) <= 4096, stdout);
});

bwrapTest('the host\'s /etc/shadow, /root, data directory and other sockets are not visible', async (t) => {
  const world = await makeWorld(t);
  const script = 'for p in /var/task /etc/passwd /etc/shadow /root /home "$1" /run/kindling /work /sys; do [ -e "$p" ] && echo "$p"; done; true';
  const { environment, output } = await world.start({ command: sh(script, world.dataDir) });
  await environment.exited;
  assert.equal((await output).stdout, '/var/task\n/etc/passwd\n');
});

bwrapTest('ps inside sees only the sandbox\'s own processes', async (t) => {
  const world = await makeWorld(t);
  const { environment, output } = await world.start({ command: ['ps', '-e', '-o', 'pid=,comm='] });
  await environment.exited;
  const processes = (await output).stdout.trim().split('\n').map((line) => line.trim().split(/\s+/));
  assert.deepEqual(processes, [['1', 'bwrap'], ['2', 'ps']]);
});

bwrapTest('a memory hog past memoryMb is OOM-killed and exited says so', async (t) => {
  const world = await makeWorld(t);
  const { environment } = await world.start({
    command: [PYTHON, '-c', 'b = []\nwhile True: b.append(bytearray(1 << 20))'],
    limits: { ...LIMITS, memoryMb: 48 },
  });
  assert.deepEqual(await environment.exited, { code: 137, signal: null, oomKilled: true });
  const peak = await environment.maxMemoryUsedBytes();
  assert.ok(peak > 24 * 1024 * 1024 && peak <= 48 * 1024 * 1024, `peak ${peak}`);
});

bwrapTest('a fork bomb is stopped by pidsMax and the host can still fork', async (t) => {
  const world = await makeWorld(t);
  const { environment, output } = await world.start({
    id: 'forker',
    command: sh('f() { f | f & }; f; while :; do sleep 30 >/dev/null 2>&1 & done'),
    limits: { ...LIMITS, pidsMax: 16 },
  });
  assert.equal((await environment.exited).code, 2); // dash gives up when fork(2) fails
  assert.match((await output).stderr, /Cannot fork/);
  assert.ok((await world.cgroups.openEnvironment('forker').pids()).length <= 16);
  assert.equal(spawnSync('/bin/true').status, 0);
  await environment.destroy();
  assert.deepEqual(await world.cgroups.listEnvironments(), []);
});

bwrapTest('a TCP port on the host\'s 127.0.0.1 cannot be reached from inside', async (t) => {
  const world = await makeWorld(t);
  let connections = 0;
  const server = net.createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const { port } = server.address() as net.AddressInfo;
  const probe = [
    'import socket, sys',
    'try:',
    '    socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2); print("connected")',
    'except OSError as error:',
    '    print(type(error).__name__)',
  ].join('\n');
  const { environment, output } = await world.start({ command: [PYTHON, '-c', probe, String(port)] });
  await environment.exited;
  assert.equal((await output).stdout, 'ConnectionRefusedError\n');
  assert.equal(connections, 0);
});

bwrapTest('the Runtime API socket answers inside at 127.0.0.1:9001 and belongs to the environment uid', async (t) => {
  const world = await makeWorld(t);
  const sandbox = createSandbox('bubblewrap', { dataDir: world.dataDir }); // resolves socat and sleep itself
  t.after(() => sandbox.close());
  assert.equal(sandbox.runtimeApiTransport, 'unix');
  assert.equal(sandbox.socketRoot, `/run/kindling/${world.instanceId}`);
  assert.equal(sandbox.runtimeApiAddress('/ignored.sock'), '127.0.0.1:9001');
  const { socket, urls } = await world.listen('env-1', sandbox);
  const get = `import urllib.request; print(urllib.request.urlopen("http://127.0.0.1:9001/x?y=1").read().decode())`;
  const started = await world.start(
    { id: 'env-1', command: sh(`${PYTHON} -c '${get}' && exec sleep 30`), runtimeApiSocket: socket },
    sandbox,
  );
  assert.equal(await started.waitForStdout(/\n/), 'hello from /x?y=1\n');
  assert.deepEqual(urls, ['/x?y=1']);
  const [uid] = await hostUids(started.environment.pid);
  const dir = await fs.stat(path.dirname(socket));
  assert.equal(dir.uid, uid);
  assert.equal(dir.mode & 0o777, 0o700);
  assert.equal((await fs.stat(socket)).uid, uid);
  const peak = await started.environment.maxMemoryUsedBytes();
  assert.ok(peak > 0 && peak <= LIMITS.memoryMb * 1024 * 1024, `peak ${peak}`);
});

bwrapTest('another environment\'s socket directory is neither visible nor accessible', async (t) => {
  const world = await makeWorld(t);
  const a = await world.listen('env-a');
  const b = await world.listen('env-b');
  const first = await world.start({ id: 'env-a', command: ['sleep', '30'], runtimeApiSocket: a.socket });
  const second = await world.start({
    id: 'env-b',
    command: sh('ls -A /run/rapi; ls -A /run; [ -e "$1" ] && echo "sees $1"; true', a.socket),
    runtimeApiSocket: b.socket,
  });
  await second.environment.exited;
  assert.equal((await second.output).stdout, 'rapi.sock\nrapi\n');
  const [uidA] = await hostUids(first.environment.pid);
  const dirA = await fs.stat(path.dirname(a.socket));
  const dirB = await fs.stat(path.dirname(b.socket));
  assert.equal(dirA.uid, uidA);
  assert.notEqual(dirA.uid, dirB.uid); // 0700 each: one uid cannot enter the other's directory
  assert.equal(dirA.mode & 0o777, 0o700);
});

bwrapTest('freeze stops a busy loop from using CPU, thaw resumes it, and a frozen environment can be destroyed', async (t) => {
  const world = await makeWorld(t);
  const { environment } = await world.start({ command: sh('while :; do :; done') });
  await until(async () => (await environment.cpuTimeUs()) > 30_000, 'the loop has run');
  await environment.freeze();
  const frozenAt = await environment.cpuTimeUs();
  await delay(300); // a window in which an unfrozen loop would burn up to 300 ms of CPU
  assert.equal(await environment.cpuTimeUs(), frozenAt);
  await environment.thaw();
  await until(async () => (await environment.cpuTimeUs()) > frozenAt + 30_000, 'the loop runs again');
  await environment.freeze();
  await environment.destroy();
  assert.equal((await environment.exited).code, 137);
  assert.deepEqual(await world.cgroups.listEnvironments(), []);
});

bwrapTest('setCpuThrottled(true) holds a busy loop to its cpuQuota', async (t) => {
  const world = await makeWorld(t);
  const { environment } = await world.start({ command: sh('while :; do :; done'), limits: { ...LIMITS, cpuQuota: 0.1 } });
  await until(async () => (await environment.cpuTimeUs()) > 30_000, 'the loop has run unthrottled');
  await environment.setCpuThrottled(true);
  const startUs = await environment.cpuTimeUs();
  const startedAt = process.hrtime.bigint();
  await delay(1000);
  const usedUs = (await environment.cpuTimeUs()) - startUs;
  const elapsedUs = Number(process.hrtime.bigint() - startedAt) / 1000;
  assert.ok(usedUs / elapsedUs < 0.15, `used ${Math.round((usedUs / elapsedUs) * 100)}% of a CPU`);
  assert.ok(usedUs > 0, 'the throttled loop still runs');
});

bwrapTest('destroy leaves no cgroup, no process of the uid and no socket directory, and frees the uid', async (t) => {
  const world = await makeWorld(t);
  const { socket } = await world.listen('env-1');
  const started = await world.start({ id: 'env-1', command: sh('echo up; exec sleep 30'), runtimeApiSocket: socket });
  await started.waitForStdout(/up/);
  const [uid] = await hostUids(started.environment.pid);
  assert.ok(uid !== undefined && uid !== 0 && world.uids.isAllocated(uid));
  assert.ok((await processesOfUid(uid)).length >= 2);
  assert.deepEqual(await world.cgroups.listEnvironments(), ['env-1']);

  await started.environment.destroy();
  assert.equal((await started.environment.exited).oomKilled, false);
  assert.deepEqual(await world.cgroups.listEnvironments(), []);
  assert.deepEqual(await processesOfUid(uid), []); // zombies included: bwrap reaped its namespace's init
  await assert.rejects(fs.access(path.dirname(socket)), { code: 'ENOENT' });
  assert.equal(world.uids.isAllocated(uid), false);
  await started.environment.destroy();
});

bwrapTest("reapStale removes a previous run's cgroups, processes and socket directories of the same instance only", async (t) => {
  const world = await makeWorld(t);
  // The previous run: an environment cgroup with a process in it and its socket directory, then a crash.
  await world.sandbox.reapStale(); // creates the instance's directories and cgroup parent
  const stale = await world.cgroups.createEnvironment('stale-1');
  const join = 'for f in "$@"; do echo $$ > "$f"; done; exec sleep 300';
  const straggler = spawn('/bin/sh', ['-c', join, 'join', ...stale.procsFiles], { stdio: 'ignore' });
  const killed = new Promise((resolve) => straggler.once('exit', (_code, signal) => resolve(signal)));
  await until(async () => (await stale.pids()).length === 1, 'the straggler joined');
  await fs.mkdir(path.join(world.sandbox.socketRoot, 'stale-1'), { mode: 0o700 });
  // Another server on the same machine, with an environment of the same name.
  const otherId = `other${randomBytes(4).toString('hex')}`;
  const other = createCgroupDriver(otherId);
  await other.createInstanceParent();
  await other.createEnvironment('stale-1');
  t.after(async () => {
    await other.reapStale();
    await other.removeInstanceParent();
  });

  const restarted = new BubblewrapSandbox({
    instanceId: world.instanceId,
    cgroups: createCgroupDriver(world.instanceId),
    uids: new UidPool(),
  });
  assert.equal(await restarted.reapStale(), 1);
  assert.equal(await killed, 'SIGKILL');
  assert.deepEqual(await world.cgroups.listEnvironments(), []);
  await assert.rejects(fs.access(path.join(world.sandbox.socketRoot, 'stale-1')), { code: 'ENOENT' });
  assert.deepEqual(await other.listEnvironments(), ['stale-1']);
});

bwrapTest('start refuses a code directory the uid cannot reach, a socket outside socketRoot, and an id already running', async (t) => {
  const world = await makeWorld(t);
  const hidden = path.join(world.dataDir, 'code');
  await fs.mkdir(hidden, { mode: 0o755 });
  await assert.rejects(
    world.start({ codeDir: hidden }),
    (error: unknown) => error instanceof SandboxError && error.code === 'ERR_SANDBOX_PATH_INACCESSIBLE',
  );
  await assert.rejects(
    world.start({ runtimeApiSocket: path.join(world.dataDir, 'rapi.sock') }),
    (error: unknown) => error instanceof SandboxError && error.code === 'ERR_SANDBOX_INVALID_SPEC',
  );
  assert.deepEqual(await world.cgroups.listEnvironments(), []);
  const running = await world.start({ id: 'twice', command: sh('echo up; exec sleep 30') });
  await running.waitForStdout(/up/);
  await assert.rejects(
    world.start({ id: 'twice' }),
    (error: unknown) => error instanceof SandboxError && error.code === 'ERR_SANDBOX_INVALID_SPEC',
  );
  assert.equal((await world.cgroups.openEnvironment('twice').pids()).length > 0, true, 'the first one still runs');
});
