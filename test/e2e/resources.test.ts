/**
 * Resource limits of an execution environment, exercised by real functions through the AWS SDK on the bubblewrap
 * sandbox: fork bombs stop at pids.max, /tmp stops at EphemeralStorage, CPU is a share proportional to memory. The
 * handler measures from inside; the host checks its side (cgroup counters, leftover processes, a server that
 * still answers). Running out of memory is covered by test/compat/invoke-node.test.ts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { startWorld } from '../compat/fixtures.js';
import { deploy, invoke, parseReport } from '../compat/invoke-support.js';
import {
  assertGone,
  atGate,
  cgroupEnvironments,
  environmentProcesses,
  instanceCgroupDirs,
  instanceOf,
  newEnvironment,
  openGate,
  uidsOfEnvironment,
  waitFor,
} from './isolation-support.js';

const TEST_TIMEOUT_MS = 60_000;
/** pidsMax the server gives every environment (execution-environment.ts). */
const PIDS_MAX = 1024;

const HELLO = { 'index.mjs': 'export const handler = async () => "still here";\n' };

/** The environment's cgroup v1 directory of one controller (`pids`, `cpuacct`…). */
function controllerDir(parents: readonly string[], controller: string, envId: string): string {
  const parent = parents.find((dir) => dir.startsWith(`/sys/fs/cgroup/${controller}/`));
  assert.ok(parent, `no ${controller} cgroup among ${parents.join(' ')}`);
  return path.join(parent, envId);
}

/** v1 pids.events: `max N`, how many forks the limit refused. */
async function forksRefused(pidsDir: string): Promise<number> {
  return Number(/^max (\d+)$/m.exec(await readFile(path.join(pidsDir, 'pids.events'), 'utf8'))?.[1] ?? 0);
}

/** Python handler prelude: the gate (see GATE_SOURCE) and a forked child that sleeps. */
const PY_PRELUDE = `import errno, os, subprocess, threading, time

def gate(limit_s):
    with open('/tmp/gate', 'w') as f:
        f.write('wait')
    end = time.time() + limit_s
    while True:
        with open('/tmp/gate') as f:
            if f.read() == 'go':
                return True
        if time.time() > end:
            return False
        time.sleep(0.01)

def fork_child():
    pid = os.fork()
    if pid == 0:
        try:
            time.sleep(120)
        finally:
            os._exit(0)
`;

/**
 * Fills pids.max the fast way, then forks: threads count as tasks against pids.max as processes do, and a thread
 * costs ~1 ms to start where a fork costs 20–40 ms on this kind of host (a loop of 1000 forks would take half a
 * minute). The children it forks first are real processes that must die with the environment.
 */
const FORK_LOOP = `${PY_PRELUDE}
release = threading.Event()

def handler(event, context):
    started = time.time()
    for _ in range(event['children']):
        fork_child()
    threads = 0
    thread_error = None
    while threads < 4 * ${PIDS_MAX}:
        try:
            threading.Thread(target=release.wait, daemon=True).start()
        except RuntimeError as e:
            thread_error = str(e)
            break
        threads += 1
    try:
        fork_child()
        fork_error = None
    except OSError as e:
        fork_error = errno.errorcode.get(e.errno, str(e.errno))
    ms = int((time.time() - started) * 1000)
    passed = gate(20)
    release.set()
    return {'threads': threads, 'threadError': thread_error, 'forkError': fork_error, 'ms': ms, 'passed': passed}
`;
const CHILDREN = 20;

test('processes and threads stop at pids.max, fork fails with EAGAIN, and nothing of it outlives the environment', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const { client, server } = await startWorld(t, { env: { KINDLING_KEEP_ALIVE_MS: '1000' } });
  const instance = instanceOf(server.dataDir);
  await deploy(client, 'forker', { 'index.py': FORK_LOOP }, { Runtime: 'python3.11', MemorySize: 1769, Timeout: 50 });

  const pending = invoke(client, 'forker', { children: CHILDREN });
  const envId = await newEnvironment(instance, []);
  const parents = await instanceCgroupDirs(process.pid, instance);
  await atGate(instance, envId, 30_000);
  const uids = await uidsOfEnvironment(instance, envId);
  const pidsDir = controllerDir(parents, 'pids', envId);
  const current = Number(await readFile(path.join(pidsDir, 'pids.current'), 'utf8'));
  assert.ok(current <= PIDS_MAX && current > PIDS_MAX - 16, `pids.current ${current} at the limit ${PIDS_MAX}`);
  assert.ok((await forksRefused(pidsDir)) > 0, 'the kernel refused tasks at pids.max');
  assert.ok((await environmentProcesses(instance, envId)).length > CHILDREN, 'the forked children run meanwhile');
  await openGate(instance, envId);

  const out = await pending;
  assert.equal(out.functionError, undefined, out.text);
  const seen = out.json as { threads: number; threadError: string | null; forkError: string | null; ms: number; passed: boolean };
  t.diagnostic(`${CHILDREN} children and ${seen.threads} threads in ${seen.ms} ms, then: ${seen.threadError}; fork: ${seen.forkError}`);
  assert.equal(seen.threadError, "can't start new thread");
  assert.equal(seen.forkError, 'EAGAIN');
  assert.equal(seen.passed, true);
  assert.ok(seen.threads > PIDS_MAX - CHILDREN - 32 && seen.threads < PIDS_MAX, `started ${seen.threads} threads`);

  assert.equal(spawnSync('/bin/true').status, 0, 'the host can still start processes');
  await deploy(client, 'after', HELLO);
  assert.equal((await invoke(client, 'after')).json, 'still here', 'the server answers afterwards');
  // Idle past KINDLING_KEEP_ALIVE_MS, the environment is reclaimed with its children (frozen meanwhile).
  await assertGone(instance, parents, envId, uids);
});

/**
 * The bomb starts with FREE_TASKS left under pids.max (threads hold the rest), so it reaches the limit in about a
 * hundred forks rather than a thousand — seconds, not half a minute, on a host where a fork costs 20–40 ms.
 */
const FREE_TASKS = 100;
const BOMB = `${PY_PRELUDE}
slots = threading.Semaphore(0)

def handler(event, context):
    threads = 0
    while True:
        try:
            threading.Thread(target=slots.acquire, daemon=True).start()
        except RuntimeError:
            break
        threads += 1
    baseline = threading.active_count()
    slots.release(${FREE_TASKS})
    while threading.active_count() > baseline - ${FREE_TASKS}:
        time.sleep(0.01)
    gate(20)
    # dash will not call a function named ':', hence 'f'.
    subprocess.Popen(['/bin/sh', '-c', 'f() { f & f & }; f'], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(120)
`;

test('a shell fork bomb is stopped by pids.max, its invocation times out cleanly, and the host and server carry on', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const { client, server } = await startWorld(t);
  const instance = instanceOf(server.dataDir);
  await deploy(client, 'bomb', { 'index.py': BOMB }, { Runtime: 'python3.11', MemorySize: 1769, Timeout: 15 });

  const pending = invoke(client, 'bomb', {});
  const envId = await newEnvironment(instance, []);
  const parents = await instanceCgroupDirs(process.pid, instance);
  await atGate(instance, envId);
  const uids = await uidsOfEnvironment(instance, envId);
  const pidsDir = controllerDir(parents, 'pids', envId);
  const refusedBefore = await forksRefused(pidsDir);
  const bombed = Date.now();
  await openGate(instance, envId);
  // pids.current is read in the same probe: once the invocation times out, the cgroup is gone.
  const current = await waitFor(
    'the fork bomb to hit pids.max',
    async () => ((await forksRefused(pidsDir).catch(() => 0)) > refusedBefore ? Number(await readFile(path.join(pidsDir, 'pids.current'), 'utf8')) : undefined),
    12_000,
  );
  t.diagnostic(`the fork bomb hit pids.max within ${Date.now() - bombed} ms`);
  assert.ok(current <= PIDS_MAX, `pids.current ${current} over the limit`);

  const out = await pending;
  assert.equal(out.functionError, 'Unhandled');
  assert.equal((out.json as { errorType: string }).errorType, 'Sandbox.Timedout');
  assert.equal(parseReport(out.log, out.requestId!).status, 'timeout');
  await assertGone(instance, parents, envId, uids);
  assert.equal(spawnSync('/bin/true').status, 0, 'the host can still start processes');
  await deploy(client, 'after', HELLO);
  assert.equal((await invoke(client, 'after')).json, 'still here', 'the server answers afterwards');
});

test('/tmp stops at EphemeralStorage with ENOSPC', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const { client } = await startWorld(t);
  // Deviation from Lambda (README): /tmp is a tmpfs, so what it holds counts toward the function's memory limit;
  // hence MemorySize 1024 for a 512 MB /tmp.
  await deploy(client, 'filler', {
    'index.mjs': `import fs from 'node:fs';
export const handler = async () => {
  const chunk = Buffer.alloc(1024 * 1024, 7);
  const fd = fs.openSync('/tmp/fill', 'w');
  let written = 0;
  let failure = null;
  try {
    while (written < 600 * 1024 * 1024) written += fs.writeSync(fd, chunk);
  } catch (e) {
    failure = e.code ?? String(e);
  }
  fs.closeSync(fd);
  const fsStats = fs.statfsSync('/tmp');
  fs.unlinkSync('/tmp/fill');
  return { written, failure, sizeBytes: fsStats.blocks * fsStats.bsize };
};
`,
  }, { MemorySize: 1024, EphemeralStorage: { Size: 512 }, Timeout: 30 });
  const out = await invoke(client, 'filler');
  assert.equal(out.functionError, undefined, out.text);
  const seen = out.json as { written: number; failure: string | null; sizeBytes: number };
  assert.equal(seen.failure, 'ENOSPC');
  assert.equal(seen.sizeBytes, 512 * 1024 * 1024, '/tmp is as large as EphemeralStorage');
  assert.ok(seen.written <= 512 * 1024 * 1024 && seen.written > 500 * 1024 * 1024, `wrote ${seen.written} bytes`);
});

const BUSY = {
  'index.mjs': `import { Worker } from 'node:worker_threads';
const SPIN = 'const { workerData, parentPort } = require("node:worker_threads"); const end = Date.now() + workerData; let x = 0; while (Date.now() < end) x++; parentPort.postMessage(x);';
export const handler = async (e) => {
  const wall0 = performance.now();
  const cpu0 = process.cpuUsage();
  const workers = [];
  for (let i = 1; i < e.threads; i++) {
    workers.push(new Promise((resolve, reject) => {
      const worker = new Worker(SPIN, { eval: true, workerData: e.ms });
      worker.once('message', resolve);
      worker.once('error', reject);
    }));
  }
  let x = 0;
  while (performance.now() - wall0 < e.ms) for (let i = 0; i < 10000; i++) x += i;
  await Promise.all(workers);
  const cpu = process.cpuUsage(cpu0);
  return { wallMs: performance.now() - wall0, cpuMs: (cpu.user + cpu.system) / 1000, x };
};
`,
};

/** Busy and total CPU time of the whole machine so far (/proc/stat, in USER_HZ ticks), and its CPU count. */
async function machineCpu(): Promise<{ busy: number; total: number; cpus: number }> {
  const text = await readFile('/proc/stat', 'utf8');
  const fields = (/^cpu\s+(.*)$/m.exec(text)?.[1] ?? '').trim().split(/\s+/).map(Number);
  const total = fields.slice(0, 8).reduce((a, b) => a + b, 0); // user nice system idle iowait irq softirq steal
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return { busy: total - idle, total, cpus: (text.match(/^cpu\d+ /gm) ?? []).length };
}

interface CpuShare {
  /** process.cpuUsage over wall time, inside. */
  inside: number;
  /** The environment's cpuacct.usage over the REPORT duration, from the host. */
  host: number;
  /** CPUs the rest of the machine kept busy meanwhile (shared machine). */
  others: number;
  cpus: number;
}

/** CPU share of a busy handler (threads spinning for ~2 s, i.e. 20 CFS periods), measured inside and from the host. */
async function measureCpu(t: TestContext, memoryMb: number, threads: number): Promise<CpuShare> {
  const { client, server } = await startWorld(t);
  const instance = instanceOf(server.dataDir);
  const name = `busy-${memoryMb}`;
  await deploy(client, name, BUSY, { MemorySize: memoryMb, Timeout: 30 });
  await invoke(client, name, { ms: 0, threads }); // the cold start (unthrottled) and the first compile
  const parents = await instanceCgroupDirs(process.pid, instance);
  const [envId, ...others] = await cgroupEnvironments(parents);
  assert.ok(envId !== undefined && others.length === 0, 'one environment');
  const usage = path.join(controllerDir(parents, 'cpuacct', envId), 'cpuacct.usage');
  const before = Number(await readFile(usage, 'utf8'));
  const machineBefore = await machineCpu();
  const out = await invoke(client, name, { ms: 2000, threads });
  const machineAfter = await machineCpu();
  const after = Number(await readFile(usage, 'utf8'));
  assert.equal(out.functionError, undefined, out.text);
  const seen = out.json as { wallMs: number; cpuMs: number };
  const report = parseReport(out.log, out.requestId!);
  const host = (after - before) / 1e6 / report.durationMs;
  const cpus = machineBefore.cpus;
  const machineBusy = ((machineAfter.busy - machineBefore.busy) / (machineAfter.total - machineBefore.total)) * cpus;
  return { inside: seen.cpuMs / seen.wallMs, host, others: Math.max(0, machineBusy - host), cpus };
}

test('at 128 MB a busy loop gets about 7% of a CPU', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const share = await measureCpu(t, 128, 1);
  t.diagnostic(`128 MB: inside ${share.inside.toFixed(4)}, host ${share.host.toFixed(4)} of a CPU (quota 128/1769 = 0.0724); others ${share.others.toFixed(2)} of ${share.cpus} CPUs`);
  assert.ok(share.inside >= 0.04 && share.inside <= 0.12, `inside: ${share.inside}`);
  assert.ok(share.host >= 0.04 && share.host <= 0.12, `host: ${share.host}`);
});

test('at 1769 MB two busy threads get one full CPU between them, no more', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const share = await measureCpu(t, 1769, 2);
  t.diagnostic(`1769 MB: inside ${share.inside.toFixed(4)}, host ${share.host.toFixed(4)} of a CPU; others ${share.others.toFixed(2)} of ${share.cpus} CPUs`);
  // Two threads would take two CPUs unthrottled: the quota is what holds them to one.
  assert.ok(share.inside <= 1.05, `inside: ${share.inside}`);
  assert.ok(share.host <= 1.05, `host: ${share.host}`);
  // The machine is shared: at least 80% of the CPU the others left free, up to one CPU (80% of one on a quiet host).
  const attainable = Math.min(1, share.cpus - share.others);
  assert.ok(share.inside >= 0.8 * attainable, `inside: ${share.inside}, attainable ${attainable.toFixed(2)}`);
  assert.ok(share.host >= 0.8 * attainable, `host: ${share.host}, attainable ${attainable.toFixed(2)}`);
});
