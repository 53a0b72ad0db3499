// The Runtime API socket of the bubblewrap backend: owned by the environment's uid, visible inside at
// /run/rapi/<name>, and bridged to 127.0.0.1:9001 by socat, waited for or started in the background.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { createCgroupDriver } from '../../../src/environments/cgroups/create-cgroup-driver.js';
import { BubblewrapSandbox } from '../../../src/environments/isolation/bubblewrap.js';
import { createSandbox } from '../../../src/environments/isolation/create-sandbox.js';
import { runtimeApiSocketInside, SandboxError } from '../../../src/environments/sandbox.js';
import { bwrapTest, hostUids, LIMITS, makeWorld, PYTHON, sh } from './bubblewrap-sandbox-world.js';

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

bwrapTest('with the bridge waited for, the command still sees exactly spec.env, whatever the names', async (t) => {
  const world = await makeWorld(t);
  const { socket } = await world.listen('env-1');
  // Names a supervisor script might use for its own variables: the command must get them untouched.
  const env = { PATH: '/usr/bin:/bin', i: 'one', t: 'two', local: 'three', state: 'four', now: 'five' };
  const { environment, output } = await world.start({ id: 'env-1', command: ['/usr/bin/env'], env, runtimeApiSocket: socket });
  assert.equal((await environment.exited).code, 0);
  const lines = (await output).stdout.trim().split('\n').sort();
  assert.deepEqual(lines, Object.entries(env).map(([key, value]) => `${key}=${value}`).sort());
});

/** Talks HTTP/1.0 to the Runtime API over the socket inside, then over 127.0.0.1:9001 (retried until socat listens). */
const BOTH_WAYS = [
  'import socket, sys, time',
  'def get(sock, path):',
  '    sock.sendall(f"GET {path} HTTP/1.0\\r\\n\\r\\n".encode())',
  '    data = b""',
  '    while chunk := sock.recv(4096): data += chunk',
  '    return data.split(b"\\r\\n\\r\\n", 1)[1].decode()',
  'unix = socket.socket(socket.AF_UNIX)',
  'unix.connect(sys.argv[1])',
  'print(get(unix, "/over-unix"))',
  'for attempt in range(500):',
  '    try:',
  '        tcp = socket.create_connection(("127.0.0.1", 9001))',
  '        break',
  '    except ConnectionRefusedError:',
  '        time.sleep(0.01)',
  'print(get(tcp, "/over-tcp"))',
].join('\n');

bwrapTest("with runtimeApiBridge 'background' the command reaches the socket inside at once and 127.0.0.1:9001 still answers", async (t) => {
  const world = await makeWorld(t);
  const { socket, urls } = await world.listen('env-1');
  assert.equal(runtimeApiSocketInside(socket), '/run/rapi/rapi.sock');
  const { environment, output } = await world.start({
    id: 'env-1',
    command: [PYTHON, '-c', BOTH_WAYS, runtimeApiSocketInside(socket)],
    runtimeApiSocket: socket,
    runtimeApiBridge: 'background',
  });
  assert.equal((await environment.exited).code, 0, (await output).stderr);
  assert.equal((await output).stdout, 'hello from /over-unix\nhello from /over-tcp\n');
  assert.deepEqual(urls, ['/over-unix', '/over-tcp']);
});

bwrapTest("'wait' starts the command only once the bridge listens, 'background' at once", async (t) => {
  const world = await makeWorld(t);
  // A bridge that never listens tells the two apart.
  const instanceId = `nobridge${randomBytes(4).toString('hex')}`;
  const broken = new BubblewrapSandbox({
    instanceId,
    cgroups: createCgroupDriver(instanceId),
    uids: world.uids,
    programsInside: { socat: '/usr/bin/false' },
  });
  t.after(() => broken.close());
  const waiting = await world.listen('env-1', broken);
  const waited = await world.start({ id: 'env-1', command: sh('echo ran'), runtimeApiSocket: waiting.socket }, broken);
  assert.equal((await waited.environment.exited).code, 70);
  assert.deepEqual(await waited.output, { stdout: '', stderr: 'kindling: the Runtime API bridge (socat) exited\n' });

  const background = await world.listen('env-2', broken);
  const started = await world.start(
    { id: 'env-2', command: sh('echo ran'), runtimeApiSocket: background.socket, runtimeApiBridge: 'background' },
    broken,
  );
  assert.equal((await started.environment.exited).code, 0);
  assert.equal((await started.output).stdout, 'ran\n');
  await assert.rejects(
    world.start({ id: 'env-3', runtimeApiBridge: 'later' as 'wait' }),
    (error: unknown) => error instanceof SandboxError && error.code === 'ERR_SANDBOX_INVALID_SPEC',
  );
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
