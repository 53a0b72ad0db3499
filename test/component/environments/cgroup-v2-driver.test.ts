// The v2 driver against a fake cgroupfs: a temp directory tree with the kernel's files, where the test plays the
// kernel (populates a new cgroup's files, reports frozen state, empties cgroup.procs when its processes die).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { CgroupFs } from '../../../src/environments/cgroups/cgroup-fs.js';
import { CgroupV2Driver } from '../../../src/environments/cgroups/cgroup-v2.js';
import { SandboxError } from '../../../src/environments/sandbox.js';

interface FakeKernelOptions {
  /** Files a new cgroup gets besides the always-present ones; default: all of memory.peak, memory.swap.max, cgroup.kill. */
  optionalFiles?: readonly ('memory.peak' | 'memory.swap.max' | 'cgroup.kill')[];
  /** Report frozen state changes (false: a cgroup that never finishes freezing). */
  reportsFrozen?: boolean;
  settleTimeoutMs?: number;
}

interface World {
  ownDir: string;
  parentDir: string;
  driver: CgroupV2Driver;
  /** What a kernel does after mkdir: the cgroup's interface files appear. */
  populate(environmentId: string): Promise<string>;
  /** Starts a real process and lists it in the cgroup, as if it had joined it; its exit removes it from the list. */
  place(environmentId: string): Promise<ChildProcess>;
  read(file: string): Promise<string>;
}

async function makeWorld(t: TestContext, options: FakeKernelOptions = {}): Promise<World> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'kindling-cgv2-'));
  const ownDir = path.join(root, 'server.service');
  await fs.mkdir(ownDir);
  await fs.writeFile(path.join(ownDir, 'cgroup.controllers'), 'cpuset cpu io memory pids\n');
  await fs.writeFile(path.join(ownDir, 'cgroup.subtree_control'), '');
  const optional = options.optionalFiles ?? ['memory.peak', 'memory.swap.max', 'cgroup.kill'];
  const children: ChildProcess[] = [];
  /** cgroup dir → its member processes; cgroup.procs is rewritten from here whenever it changes. */
  const members = new Map<string, Set<ChildProcess>>();
  const inFlight = new Set<Promise<void>>();

  const cgroupFs = new CgroupFs({
    removeDir: async (dir) => {
      members.delete(dir);
      await Promise.all(inFlight); // a tick still writing into the directory would make it non-empty again
      await fs.rm(dir, { recursive: true });
    },
    settleTimeoutMs: options.settleTimeoutMs ?? 3000,
  });
  const driver = new CgroupV2Driver({ instanceId: 'abc123', ownDir, fs: cgroupFs });
  const parentDir = path.join(ownDir, 'kindling-abc123');

  // The kernel's asynchronous half: freezing settles later, cgroup.kill kills every member.
  const kernel = setInterval(() => {
    for (const dir of members.keys()) {
      const tick = kernelTick(dir).catch(() => undefined);
      inFlight.add(tick);
      void tick.finally(() => inFlight.delete(tick));
    }
  }, 3);
  async function kernelTick(dir: string): Promise<void> {
    const freeze = (await fs.readFile(path.join(dir, 'cgroup.freeze'), 'utf8')).trim();
    if (options.reportsFrozen !== false && (freeze === '0' || freeze === '1')) {
      await writeAtomically(path.join(dir, 'cgroup.events'), `populated 1\nfrozen ${freeze}\n`);
    }
    const kill = await fs.readFile(path.join(dir, 'cgroup.kill'), 'utf8').catch(() => '');
    if (kill.trim() === '1') {
      await writeAtomically(path.join(dir, 'cgroup.kill'), '');
      for (const child of members.get(dir) ?? []) child.kill('SIGKILL');
    }
  }
  /** Writes are chained per directory and read the membership when they run, so the last one always wins. */
  const procsWrites = new Map<string, Promise<void>>();
  function writeProcs(dir: string): Promise<void> {
    const write = (procsWrites.get(dir) ?? Promise.resolve()).then(async () => {
      const pids = [...(members.get(dir) ?? [])].map((child) => `${child.pid}\n`).join('');
      await writeAtomically(path.join(dir, 'cgroup.procs'), pids).catch(() => undefined);
    });
    procsWrites.set(dir, write);
    return write;
  }
  t.after(async () => {
    clearInterval(kernel);
    for (const child of children) child.kill('SIGKILL');
    await Promise.all(inFlight);
    await fs.rm(root, { recursive: true, force: true });
  });

  return {
    ownDir,
    parentDir,
    driver,
    async populate(environmentId) {
      const dir = path.join(parentDir, environmentId);
      const files: Record<string, string> = {
        'memory.max': 'max\n',
        'memory.current': '4096\n',
        'memory.events': 'low 0\nhigh 0\nmax 3\noom 2\noom_kill 2\noom_group_kill 0\n',
        'cpu.max': 'max 100000\n',
        'cpu.stat': 'usage_usec 1234\nuser_usec 1000\nsystem_usec 234\n',
        'pids.max': 'max\n',
        'cgroup.freeze': '0\n',
        'cgroup.events': 'populated 0\nfrozen 0\n',
        'cgroup.procs': '',
      };
      if (optional.includes('memory.peak')) files['memory.peak'] = '8192\n';
      if (optional.includes('memory.swap.max')) files['memory.swap.max'] = 'max\n';
      if (optional.includes('cgroup.kill')) files['cgroup.kill'] = '';
      for (const [name, content] of Object.entries(files)) await fs.writeFile(path.join(dir, name), content);
      members.set(dir, new Set());
      return dir;
    },
    async place(environmentId) {
      const dir = path.join(parentDir, environmentId);
      const child = spawn('sleep', ['30'], { stdio: 'ignore' });
      children.push(child);
      await new Promise((resolve) => child.once('spawn', resolve));
      members.get(dir)?.add(child);
      await writeProcs(dir);
      child.once('exit', () => {
        members.get(dir)?.delete(child);
        void writeProcs(dir);
      });
      return child;
    },
    read: (file) => fs.readFile(file, 'utf8'),
  };
}

/** Kernel files never show a half-written state; a plain writeFile would (truncate, then write). */
async function writeAtomically(file: string, content: string): Promise<void> {
  const temporary = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  await fs.writeFile(temporary, content);
  await fs.rename(temporary, file);
}

function exitOf(child: ChildProcess): Promise<NodeJS.Signals | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.signalCode);
  return new Promise((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
}

test('the instance parent is created under the own cgroup with memory, cpu and pids delegated to its children', async (t) => {
  const world = await makeWorld(t);
  await world.driver.createInstanceParent();
  assert.equal((await fs.stat(world.parentDir)).isDirectory(), true);
  assert.equal(await world.read(path.join(world.ownDir, 'cgroup.subtree_control')), '+memory +cpu +pids');
  assert.equal(await world.read(path.join(world.parentDir, 'cgroup.subtree_control')), '+memory +cpu +pids');
  await world.driver.createInstanceParent(); // idempotent
});

test('an environment is a child of the instance parent whose only procs file is its own cgroup.procs', async (t) => {
  const world = await makeWorld(t);
  await world.driver.createInstanceParent();
  const cgroup = await world.driver.createEnvironment('env-1');
  assert.deepEqual(cgroup.procsFiles, [path.join(world.parentDir, 'env-1', 'cgroup.procs')]);
  assert.deepEqual(await world.driver.listEnvironments(), ['env-1']);
  await assert.rejects(world.driver.createEnvironment('env-1'), (error: unknown) => {
    return error instanceof SandboxError && error.code === 'ERR_SANDBOX_CGROUP';
  });
});

test('the memory limit is written to memory.max and swap is switched off', async (t) => {
  const world = await makeWorld(t);
  await world.driver.createInstanceParent();
  const cgroup = await world.driver.createEnvironment('env-1');
  const dir = await world.populate('env-1');
  await cgroup.setMemoryLimit(128 * 1024 * 1024);
  assert.equal(await world.read(path.join(dir, 'memory.max')), String(128 * 1024 * 1024));
  assert.equal(await world.read(path.join(dir, 'memory.swap.max')), '0');
});

test('without swap accounting no memory.swap.max is written', async (t) => {
  const world = await makeWorld(t, { optionalFiles: [] });
  await world.driver.createInstanceParent();
  const cgroup = await world.driver.createEnvironment('env-1');
  const dir = await world.populate('env-1');
  await cgroup.setMemoryLimit(64 * 1024 * 1024);
  assert.equal(await world.read(path.join(dir, 'memory.max')), String(64 * 1024 * 1024));
  await assert.rejects(fs.access(path.join(dir, 'memory.swap.max')), { code: 'ENOENT' });
});

test('cpu.max holds the quota per 100 ms period, "max" when unthrottled, and at least 1 ms', async (t) => {
  const world = await makeWorld(t);
  await world.driver.createInstanceParent();
  const cgroup = await world.driver.createEnvironment('env-1');
  const dir = await world.populate('env-1');
  await cgroup.setCpuQuota(0.5);
  assert.equal(await world.read(path.join(dir, 'cpu.max')), '50000 100000');
  await cgroup.setCpuQuota(2);
  assert.equal(await world.read(path.join(dir, 'cpu.max')), '200000 100000');
  await cgroup.setCpuQuota(0.0001);
  assert.equal(await world.read(path.join(dir, 'cpu.max')), '1000 100000');
  await cgroup.setCpuQuota('unthrottled');
  assert.equal(await world.read(path.join(dir, 'cpu.max')), 'max 100000');
});

test('pids.max, the memory peak, OOM kills and CPU usage are read from their files', async (t) => {
  const world = await makeWorld(t);
  await world.driver.createInstanceParent();
  const cgroup = await world.driver.createEnvironment('env-1');
  const dir = await world.populate('env-1');
  await cgroup.setPidsMax(64);
  assert.equal(await world.read(path.join(dir, 'pids.max')), '64');
  assert.equal(await cgroup.peakMemoryBytes(), 8192);
  assert.equal(await cgroup.oomKills(), 2);
  assert.equal(await cgroup.cpuUsageUs(), 1234);
});

test('the memory peak falls back to memory.current on kernels without memory.peak', async (t) => {
  const world = await makeWorld(t, { optionalFiles: [] });
  await world.driver.createInstanceParent();
  const cgroup = await world.driver.createEnvironment('env-1');
  await world.populate('env-1');
  assert.equal(await cgroup.peakMemoryBytes(), 4096);
});

test('freeze resolves once cgroup.events reports frozen, and thaw once it reports thawed', async (t) => {
  const world = await makeWorld(t);
  await world.driver.createInstanceParent();
  const cgroup = await world.driver.createEnvironment('env-1');
  const dir = await world.populate('env-1');
  await cgroup.freeze();
  assert.equal(await world.read(path.join(dir, 'cgroup.freeze')), '1');
  assert.match(await world.read(path.join(dir, 'cgroup.events')), /^frozen 1$/m);
  await cgroup.thaw();
  assert.equal(await world.read(path.join(dir, 'cgroup.freeze')), '0');
  assert.match(await world.read(path.join(dir, 'cgroup.events')), /^frozen 0$/m);
});

test('freeze fails with ERR_SANDBOX_CGROUP when the kernel never reports the cgroup frozen', async (t) => {
  const world = await makeWorld(t, { reportsFrozen: false, settleTimeoutMs: 100 });
  await world.driver.createInstanceParent();
  const cgroup = await world.driver.createEnvironment('env-1');
  await world.populate('env-1');
  await assert.rejects(cgroup.freeze(), (error: unknown) => error instanceof SandboxError && error.code === 'ERR_SANDBOX_CGROUP');
});

test('killAll writes cgroup.kill and waits until the cgroup is empty', async (t) => {
  const world = await makeWorld(t);
  await world.driver.createInstanceParent();
  const cgroup = await world.driver.createEnvironment('env-1');
  await world.populate('env-1');
  const first = await world.place('env-1');
  const second = await world.place('env-1');
  assert.equal((await cgroup.pids()).length, 2);
  await cgroup.killAll();
  assert.deepEqual(await cgroup.pids(), []);
  assert.equal(await exitOf(first), 'SIGKILL');
  assert.equal(await exitOf(second), 'SIGKILL');
});

test('without cgroup.kill every listed pid is sent SIGKILL until the cgroup is empty', async (t) => {
  const world = await makeWorld(t, { optionalFiles: [] });
  await world.driver.createInstanceParent();
  const cgroup = await world.driver.createEnvironment('env-1');
  await world.populate('env-1');
  const first = await world.place('env-1');
  const second = await world.place('env-1');
  await cgroup.killAll();
  assert.deepEqual(await cgroup.pids(), []);
  assert.equal(await exitOf(first), 'SIGKILL');
  assert.equal(await exitOf(second), 'SIGKILL');
});

test('destroy kills the members and removes the child; a second destroy does nothing', async (t) => {
  const world = await makeWorld(t);
  await world.driver.createInstanceParent();
  const cgroup = await world.driver.createEnvironment('env-1');
  const dir = await world.populate('env-1');
  const member = await world.place('env-1');
  await cgroup.destroy();
  assert.equal(await exitOf(member), 'SIGKILL');
  await assert.rejects(fs.access(dir), { code: 'ENOENT' });
  await cgroup.destroy();
  assert.deepEqual(await world.driver.listEnvironments(), []);
});

test('reapStale removes this instance\'s leftover children, keeps the named ones, and never touches another instance', async (t) => {
  const world = await makeWorld(t);
  await world.driver.createInstanceParent();
  for (const id of ['old-1', 'old-2', 'live-1']) {
    await world.driver.createEnvironment(id);
    await world.populate(id);
  }
  const straggler = await world.place('old-1');
  const other = new CgroupV2Driver({ instanceId: 'other9', ownDir: world.ownDir, fs: new CgroupFs() });
  await other.createInstanceParent();
  await other.createEnvironment('old-1');

  const reaped = await world.driver.reapStale(new Set(['live-1']));
  assert.deepEqual(reaped.sort(), ['old-1', 'old-2']);
  assert.equal(await exitOf(straggler), 'SIGKILL');
  assert.deepEqual(await world.driver.listEnvironments(), ['live-1']);
  assert.deepEqual(await other.listEnvironments(), ['old-1']);
});

test('the instance parent is removed only once it has no children left', async (t) => {
  const world = await makeWorld(t);
  await world.driver.createInstanceParent();
  const cgroup = await world.driver.createEnvironment('env-1');
  await world.populate('env-1');
  await world.driver.removeInstanceParent();
  assert.equal((await fs.stat(world.parentDir)).isDirectory(), true);
  await cgroup.destroy();
  await world.driver.removeInstanceParent();
  await assert.rejects(fs.access(world.parentDir), { code: 'ENOENT' });
});
