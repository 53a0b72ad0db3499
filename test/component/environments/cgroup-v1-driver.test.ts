// The v1 driver on this machine's real cgroupfs (hybrid layout). Needs root and a v1 memory hierarchy: elsewhere the
// tests skip, except in CI (root there), where a missing prerequisite is a failure.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { test, type TestContext } from 'node:test';
import type { EnvironmentCgroup } from '../../../src/environments/cgroups/cgroup-driver.js';
import { readCgroupLayout, type CgroupLayout } from '../../../src/environments/cgroups/cgroup-layout.js';
import { CgroupV1Driver, KEEP_FROZEN_CGROUP } from '../../../src/environments/cgroups/cgroup-v1.js';

const layout: CgroupLayout = readCgroupLayout();
const unavailable =
  process.getuid?.() !== 0
    ? 'needs root to create cgroups'
    : layout.controllers.memory?.version !== 'v1'
      ? 'needs a cgroup v1 memory hierarchy'
      : undefined;

/** Skips with the reason outside CI; in CI (CI=true, root) the prerequisites must hold. */
function v1Test(name: string, body: (t: TestContext) => Promise<void>): void {
  const skip = process.env.CI === 'true' ? false : (unavailable ?? false);
  test(name, { skip }, async (t) => {
    if (unavailable !== undefined) assert.fail(`cgroup v1 tests cannot run: ${unavailable}`);
    await body(t);
  });
}

function ownDir(controller: 'memory' | 'cpu' | 'cpuacct' | 'pids' | 'freezer'): string {
  const placement = layout.controllers[controller];
  if (placement?.version !== 'v1') throw new Error(`no v1 ${controller} hierarchy`);
  return placement.dir;
}

interface World {
  driver: CgroupV1Driver;
  instanceId: string;
  /** Starts argv with its pid written to every procs file first (what the sandbox's wrapper shell does). */
  spawnIn(cgroup: EnvironmentCgroup, argv: string[]): ChildProcess;
}

async function makeWorld(t: TestContext): Promise<World> {
  const instanceId = `t${randomBytes(5).toString('hex')}`;
  const driver = new CgroupV1Driver({
    instanceId,
    ownDirs: {
      memory: ownDir('memory'),
      cpu: ownDir('cpu'),
      cpuacct: ownDir('cpuacct'),
      pids: ownDir('pids'),
      freezer: ownDir('freezer'),
    },
  });
  await driver.createInstanceParent();
  const children: ChildProcess[] = [];
  t.after(async () => {
    for (const child of children) child.kill('SIGKILL');
    await driver.reapStale();
    await driver.removeInstanceParent();
  });
  return {
    driver,
    instanceId,
    spawnIn(cgroup, argv) {
      const join = 'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 125; shift; n=$((n-1)); done; exec "$@"';
      const child = spawn('/bin/sh', ['-c', join, 'join', String(cgroup.procsFiles.length), ...cgroup.procsFiles, ...argv], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      return child;
    },
  };
}

function outcome(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal, stderr })));
}

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await delay(5);
  }
}

const read = async (file: string): Promise<string> => (await fs.readFile(file, 'utf8')).trim();

v1Test('an environment is a child of kindling-<instance> in the memory, cpu, cpuacct, pids and freezer hierarchies', async (t) => {
  const { driver, instanceId, spawnIn } = await makeWorld(t);
  const cgroup = await driver.createEnvironment('env-1');
  const controllers = ['memory', 'cpu', 'cpuacct', 'pids', 'freezer'] as const;
  const dirs = [...new Set(controllers.map((c) => path.join(ownDir(c), `kindling-${instanceId}`, 'env-1')))];
  assert.deepEqual([...cgroup.procsFiles].sort(), dirs.map((dir) => path.join(dir, 'cgroup.procs')).sort());

  const child = spawnIn(cgroup, ['sleep', '30']);
  await assert.rejects(driver.createEnvironment('env-1'), { code: 'ERR_SANDBOX_CGROUP' });
  // The wrapper joins every hierarchy before it exec's the command.
  const cmdline = () => fs.readFile(`/proc/${child.pid}/cmdline`, 'utf8').catch(() => '');
  await until(async () => (await cmdline()) === 'sleep\x0030\x00', 'the process joined and exec\'d');
  assert.ok((await cgroup.pids()).includes(child.pid ?? -1));
  const membership = await fs.readFile(`/proc/${child.pid}/cgroup`, 'utf8');
  for (const controller of controllers) {
    const line = membership.split('\n').find((l) => l.split(':')[1]?.split(',').includes(controller));
    assert.match(line ?? '', new RegExp(`/kindling-${instanceId}/env-1$`), controller);
  }
});

v1Test('the memory limit also caps memory+swap, and an allocation past it is OOM-killed and counted', async (t) => {
  const { driver, spawnIn } = await makeWorld(t);
  const cgroup = await driver.createEnvironment('env-1');
  const limit = 32 * 1024 * 1024;
  await cgroup.setMemoryLimit(limit);
  const memoryDir = path.dirname(cgroup.procsFiles.find((f) => f.startsWith(ownDir('memory'))) ?? '');
  assert.equal(await read(path.join(memoryDir, 'memory.limit_in_bytes')), String(limit));
  assert.equal(await read(path.join(memoryDir, 'memory.memsw.limit_in_bytes')), String(limit));
  assert.equal(await cgroup.oomKills(), 0);

  const hog = spawnIn(cgroup, ['/usr/bin/python3.11', '-c', 'b = []\nwhile True: b.append(bytearray(1 << 20))']);
  const result = await outcome(hog);
  assert.equal(result.signal, 'SIGKILL');
  assert.equal(await cgroup.oomKills(), 1);
  const peak = await cgroup.peakMemoryBytes();
  assert.ok(peak > limit / 2 && peak <= limit, `peak ${peak}`);

  // Raising the limit later has to lift memsw first (the kernel keeps limit <= memsw at every step).
  await cgroup.setMemoryLimit(2 * limit);
  assert.equal(await read(path.join(memoryDir, 'memory.limit_in_bytes')), String(2 * limit));
  assert.equal(await read(path.join(memoryDir, 'memory.memsw.limit_in_bytes')), String(2 * limit));
});

v1Test('the CPU quota is written per 100 ms period and -1 means unthrottled', async (t) => {
  const { driver } = await makeWorld(t);
  const cgroup = await driver.createEnvironment('env-1');
  const cpuDir = path.dirname(cgroup.procsFiles.find((f) => f.startsWith(`${ownDir('cpu')}/`)) ?? '');
  await cgroup.setCpuQuota(0.25);
  assert.equal(await read(path.join(cpuDir, 'cpu.cfs_period_us')), '100000');
  assert.equal(await read(path.join(cpuDir, 'cpu.cfs_quota_us')), '25000');
  await cgroup.setCpuQuota('unthrottled');
  assert.equal(await read(path.join(cpuDir, 'cpu.cfs_quota_us')), '-1');
});

v1Test('pids.max makes forks past the limit fail', async (t) => {
  const { driver, spawnIn } = await makeWorld(t);
  const cgroup = await driver.createEnvironment('env-1');
  await cgroup.setPidsMax(4);
  const forker = spawnIn(cgroup, ['/bin/sh', '-c', 'for i in 1 2 3 4 5 6 7 8; do sleep 30 >/dev/null 2>&1 & done']);
  const result = await outcome(forker);
  assert.match(result.stderr, /fork/i);
  assert.ok((await cgroup.pids()).length <= 4);
});

v1Test('freeze stops CPU usage until thaw', async (t) => {
  const { driver, spawnIn } = await makeWorld(t);
  const cgroup = await driver.createEnvironment('env-1');
  spawnIn(cgroup, ['/bin/sh', '-c', 'while :; do :; done']);
  await until(async () => (await cgroup.cpuUsageUs()) > 20_000, 'the loop has run');
  await cgroup.freeze();
  const freezerDir = path.dirname(cgroup.procsFiles.find((f) => f.startsWith(ownDir('freezer'))) ?? '');
  assert.equal(await read(path.join(freezerDir, 'freezer.state')), 'FROZEN');
  const frozenAt = await cgroup.cpuUsageUs();
  await delay(200); // a window in which an unfrozen loop would use ~200 ms of CPU
  assert.equal(await cgroup.cpuUsageUs(), frozenAt);
  await cgroup.thaw();
  await until(async () => (await cgroup.cpuUsageUs()) > frozenAt + 20_000, 'the loop runs again');
});

v1Test('killAll empties a cgroup whose processes keep forking, and destroy removes it from every hierarchy', async (t) => {
  const { driver, spawnIn } = await makeWorld(t);
  const cgroup = await driver.createEnvironment('env-1');
  await cgroup.setPidsMax(64);
  spawnIn(cgroup, ['/bin/sh', '-c', 'while :; do sleep 30 >/dev/null 2>&1 & done']);
  await until(async () => (await cgroup.pids()).length > 10, 'the forker has children');
  await cgroup.killAll();
  assert.deepEqual(await cgroup.pids(), []);
  await cgroup.destroy();
  for (const file of cgroup.procsFiles) await assert.rejects(fs.access(path.dirname(file)), { code: 'ENOENT' });
  await cgroup.destroy();
});

v1Test("reapStale kills and removes this instance's leftover children and leaves other instances alone", async (t) => {
  const world = await makeWorld(t);
  const other = await makeWorld(t);
  const stale = await world.driver.createEnvironment('stale-1');
  const straggler = outcome(world.spawnIn(stale, ['sleep', '30']));
  await until(async () => (await stale.pids()).length === 1, 'the straggler joined');
  await other.driver.createEnvironment('stale-1');

  const restarted = new CgroupV1Driver({
    instanceId: world.instanceId,
    ownDirs: {
      memory: ownDir('memory'),
      cpu: ownDir('cpu'),
      cpuacct: ownDir('cpuacct'),
      pids: ownDir('pids'),
      freezer: ownDir('freezer'),
    },
  });
  assert.deepEqual(await restarted.reapStale(), ['stale-1']);
  assert.equal((await straggler).signal, 'SIGKILL');
  assert.deepEqual(await world.driver.listEnvironments(), []);
  assert.deepEqual(await other.driver.listEnvironments(), ['stale-1']);
});

v1Test('the instance keeps an empty _keep-frozen freezer child frozen, which is no environment and goes with the parent', async (t) => {
  const { driver, instanceId } = await makeWorld(t);
  const parent = path.join(ownDir('freezer'), `kindling-${instanceId}`);
  const keepFrozen = path.join(parent, KEEP_FROZEN_CGROUP);
  assert.equal(await read(path.join(keepFrozen, 'freezer.state')), 'FROZEN');
  await driver.createInstanceParent(); // idempotent, as after a restart that finds it left by a crash
  assert.equal(await read(path.join(keepFrozen, 'freezer.state')), 'FROZEN');

  const cgroup = await driver.createEnvironment('env-1');
  await cgroup.freeze();
  await cgroup.thaw();
  assert.deepEqual(await driver.listEnvironments(), ['env-1']);
  assert.deepEqual(await driver.reapStale(), ['env-1']);
  assert.equal(await read(path.join(keepFrozen, 'freezer.state')), 'FROZEN');
  assert.deepEqual(await driver.listEnvironments(), []);

  await driver.removeInstanceParent();
  await assert.rejects(fs.access(parent), { code: 'ENOENT' });
  for (const file of cgroup.procsFiles) await assert.rejects(fs.access(path.dirname(path.dirname(file))), { code: 'ENOENT' });
});

v1Test('freeze and thaw settle on kept descriptors, and destroy releases them', async (t) => {
  const { driver, spawnIn } = await makeWorld(t);
  const cgroup = await driver.createEnvironment('env-1');
  const child = spawnIn(cgroup, ['sleep', '30']);
  await until(async () => (await cgroup.pids()).includes(child.pid ?? -1), 'the process joined');
  const freezerDir = path.dirname(cgroup.procsFiles.find((f) => f.startsWith(ownDir('freezer'))) ?? '');
  const openFds = async () => {
    const fds = await fs.readdir('/proc/self/fd');
    const targets = await Promise.all(fds.map((fd) => fs.readlink(`/proc/self/fd/${fd}`).catch(() => '')));
    return targets.filter((target) => target.startsWith(freezerDir));
  };
  for (let round = 0; round < 3; round++) {
    await cgroup.freeze();
    assert.equal(await read(path.join(freezerDir, 'freezer.state')), 'FROZEN');
    await cgroup.thaw();
    assert.equal(await read(path.join(freezerDir, 'freezer.state')), 'THAWED');
  }
  assert.equal((await openFds()).length, 1, 'one descriptor, reused');
  assert.ok((await cgroup.peakMemoryBytes()) > 0);
  await cgroup.destroy();
  assert.deepEqual(await openFds(), []);
});
