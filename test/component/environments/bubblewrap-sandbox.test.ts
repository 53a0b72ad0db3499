// The bubblewrap backend with real processes, namespaces and cgroups: confinement, limits, freezing, cleanup.
// The Runtime API socket and its bridge: bubblewrap-sandbox-runtime-api.test.ts.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { createCgroupDriver } from '../../../src/environments/cgroups/create-cgroup-driver.js';
import { BubblewrapSandbox } from '../../../src/environments/isolation/bubblewrap.js';
import { SandboxError } from '../../../src/environments/sandbox.js';
import { UidPool } from '../../../src/environments/uid-pool.js';
import {
  bwrapTest,
  findProcesses,
  hostUids,
  LIMITS,
  makeWorld,
  processesOfUid,
  PYTHON,
  sh,
  until,
} from './bubblewrap-sandbox-world.js';

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
