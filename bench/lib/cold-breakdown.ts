/**
 * Where a cold start's time goes, step by step, with Kindling's own pieces (the real BubblewrapSandbox, cgroup driver,
 * uid pool and Runtime API) driven directly and the same programs run on the host for comparison. Every step is
 * sampled once per round and rounds are interleaved, so foreign load drifts over all steps alike. Nothing under
 * src/ is changed; this only calls it.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmdirSync, writeFileSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { chmod, copyFile, lstat, mkdir, mkdtemp, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCgroupDriver } from '../../src/environments/cgroups/create-cgroup-driver.js';
import { nodeHeapFlags } from '../../src/environments/env-vars.js';
import { bubblewrapArgs, type HostRootEntry } from '../../src/environments/isolation/bubblewrap-args.js';
import { createSandbox } from '../../src/environments/isolation/create-sandbox.js';
import { writeSandboxEtc } from '../../src/environments/isolation/sandbox-etc.js';
import type { Sandbox, SandboxProcess } from '../../src/environments/sandbox.js';
import { UidPool } from '../../src/environments/uid-pool.js';
import { createRuntimeApi, type RuntimeApi } from '../../src/runtime-api/server.js';
import { CLEAN_PATH, REPO_ROOT, runTimed as run } from './children.js';
import { percentile } from './stats.js';

const BOOTSTRAP_ROOT = join(REPO_ROOT, 'src', 'environments', 'bootstrap');
const UID_RANGE: [number, number] = [230_000, 239_999];
const MEMORY_MB = 1769;

export interface BreakdownRow {
  step: string;
  p50: number;
  p90: number;
  n: number;
}

type Samples = Map<string, number[]>;

const now = () => performance.now();

function record(samples: Samples, step: string, ms: number): void {
  const list = samples.get(step);
  if (list) list.push(ms);
  else samples.set(step, [ms]);
}

/** Wall-clock ns (date +%s%N inside) → ms on performance.now()'s scale. */
function dateToPerf(ns: string): number {
  return Number(BigInt(ns.trim()) / 1000n) / 1000 - performance.timeOrigin;
}

interface World {
  dir: string;
  codeDir: string;
  etcDir: string;
  hostRoot: HostRootEntry[];
  sandbox: Sandbox;
  uids: UidPool;
}

function runtimeEnv(runtime: 'node' | 'python', inside: boolean, codeDir: string, api: string): Record<string, string> {
  return {
    PATH: inside ? '/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin' : CLEAN_PATH,
    LANG: 'en_US.UTF-8',
    TZ: ':UTC',
    _HANDLER: runtime === 'node' ? 'index.handler' : 'lambda_function.handler',
    AWS_LAMBDA_RUNTIME_API: api,
    LAMBDA_TASK_ROOT: inside ? '/var/task' : codeDir,
    LAMBDA_RUNTIME_DIR: inside ? '/var/runtime' : join(BOOTSTRAP_ROOT, runtime === 'node' ? 'nodejs' : 'python'),
    AWS_REGION: 'us-east-1',
    AWS_LAMBDA_FUNCTION_NAME: 'bench',
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(MEMORY_MB),
    AWS_LAMBDA_LOG_GROUP_NAME: '/aws/lambda/bench',
    AWS_LAMBDA_LOG_STREAM_NAME: '2026/01/01/[$LATEST]0123456789abcdef0123456789abcdef',
    ...(runtime === 'python' ? { PYTHONPATH: inside ? '/var/runtime' : join(BOOTSTRAP_ROOT, 'python') } : {}),
  };
}

function runtimeCommand(runtime: 'node' | 'python', inside: boolean): string[] {
  const dir = inside ? '/var/runtime' : join(BOOTSTRAP_ROOT, runtime === 'node' ? 'nodejs' : 'python');
  return runtime === 'node'
    ? ['/usr/bin/node', ...nodeHeapFlags(MEMORY_MB, undefined), join(dir, 'index.mjs')]
    : ['/usr/bin/python3.11', '-u', join(dir, 'bootstrap.py')];
}

/** Host: the runtime's bootstrap against a TCP Runtime API, spawn → first GET /next. */
async function hostRuntimeToNext(world: World, runtime: 'node' | 'python'): Promise<number> {
  const api = await createRuntimeApi({ listen: { port: 0 } });
  const [command, ...args] = runtimeCommand(runtime, false);
  const t0 = now();
  const child = spawn(command!, args, { env: runtimeEnv(runtime, false, world.codeDir, api.address), stdio: 'ignore', cwd: world.codeDir });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const outcome = await Promise.race([api.initialized, exited.then(() => ({ kind: 'exited' as const }))]);
  const ms = now() - t0;
  child.kill('SIGKILL');
  await exited;
  await api.close();
  if (outcome.kind !== 'ready') throw new Error(`host ${runtime} bootstrap did not reach /next (${outcome.kind})`);
  return ms;
}

interface SandboxRun {
  apiMs: number;
  startMs: number;
  /** start() call → exit (exit mode) or → first /next (init mode). */
  readyMs: number;
  destroyMs: number;
  stdout: string;
  freezeMs?: number[];
  thawMs?: number[];
}

async function sandboxRun(
  world: World,
  options: { socket: boolean; command: string[]; env?: Record<string, string>; until: 'exit' | 'init'; runtime?: 'node' | 'python'; freezeCycles?: number },
): Promise<SandboxRun & { t0: number }> {
  const { sandbox } = world;
  const id = `bench-${randomBytes(6).toString('hex')}`;
  const t0 = now();
  let api: RuntimeApi | undefined;
  let socketDir: string | undefined;
  if (options.socket) {
    socketDir = join(sandbox.socketRoot, id);
    await mkdir(socketDir, { mode: 0o700 });
    api = await createRuntimeApi({ listen: { socketPath: join(socketDir, 'rapi.sock') } });
  }
  const tApi = now();
  const runtime = options.runtime;
  const env = options.env ?? (runtime ? runtimeEnv(runtime, true, world.codeDir, sandbox.runtimeApiAddress(api?.address ?? '')) : { PATH: '/usr/bin:/bin' });
  let proc: SandboxProcess | undefined;
  try {
    proc = await sandbox.start({
      id,
      codeDir: world.codeDir,
      ...(runtime ? { runtimeDir: join(BOOTSTRAP_ROOT, runtime === 'node' ? 'nodejs' : 'python') } : {}),
      command: options.command,
      env,
      ...(api ? { runtimeApiSocket: api.address } : {}),
      limits: { memoryMb: MEMORY_MB, cpuQuota: 1, pidsMax: 1024, tmpMb: 512 },
    });
    const tStarted = now();
    let stdout = '';
    proc.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    proc.stderr.resume();
    if (options.until === 'exit') {
      const exit = await proc.exited;
      if (exit.code !== 0) throw new Error(`sandboxed ${options.command.join(' ')} exited ${exit.code ?? exit.signal}`);
    } else {
      const outcome = await Promise.race([api!.initialized, proc.exited.then(() => ({ kind: 'exited' as const }))]);
      if (outcome.kind !== 'ready') throw new Error(`sandboxed ${runtime} bootstrap did not reach /next (${outcome.kind})`);
    }
    const tReady = now();
    const freezeMs: number[] = [];
    const thawMs: number[] = [];
    for (let i = 0; i < (options.freezeCycles ?? 0); i++) {
      const f0 = now();
      await proc.freeze();
      const f1 = now();
      await proc.thaw();
      freezeMs.push(f1 - f0);
      thawMs.push(now() - f1);
    }
    const d0 = now();
    await proc.destroy();
    await api?.close();
    const destroyMs = now() - d0;
    proc = undefined;
    return { t0, apiMs: tApi - t0, startMs: tStarted - tApi, readyMs: tReady - tApi, destroyMs, stdout, freezeMs, thawMs };
  } finally {
    await proc?.destroy().catch(() => undefined);
    await api?.close().catch(() => undefined);
    if (socketDir) await rm(socketDir, { recursive: true, force: true });
  }
}

async function setUp(): Promise<World> {
  const dir = await mkdtemp(join(tmpdir(), 'kindling-bench-breakdown-'));
  await chmod(dir, 0o755);
  const codeDir = join(dir, 'code');
  await mkdir(codeDir, { mode: 0o755 });
  await copyFile(join(REPO_ROOT, 'bench', 'fixtures', 'hello.mjs'), join(codeDir, 'index.mjs'));
  await copyFile(join(REPO_ROOT, 'bench', 'fixtures', 'lambda_function.py'), join(codeDir, 'lambda_function.py'));
  for (const f of ['index.mjs', 'lambda_function.py']) await chmod(join(codeDir, f), 0o644);
  const etcDir = join(dir, 'etc');
  await writeSandboxEtc(etcDir);
  const hostRoot: HostRootEntry[] = [];
  for (const name of ['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32']) {
    const stats = await lstat(`/${name}`).catch(() => undefined);
    if (stats?.isSymbolicLink()) hostRoot.push({ name, kind: 'symlink', target: await readlink(`/${name}`) });
    else if (stats?.isDirectory()) hostRoot.push({ name, kind: 'dir' });
  }
  const sandbox = createSandbox('bubblewrap', { dataDir: dir, uidRange: UID_RANGE });
  await sandbox.reapStale(); // creates the socket root and the cgroup parent, as the server does at start
  return { dir, codeDir, etcDir, hostRoot, sandbox, uids: new UidPool({ range: [240_000, 240_999] }) };
}

function bwrapDirectArgs(world: World, withNet: boolean, command: string[] = ['/bin/true']): string[] {
  const args = bubblewrapArgs({
    hostname: 'localhost',
    hostRoot: world.hostRoot,
    etcDir: world.etcDir,
    codeDir: world.codeDir,
    tmpBytes: 512 * 1024 * 1024,
    programsInside: { socat: '/usr/bin/socat', sleep: '/usr/bin/sleep' },
    env: { PATH: '/usr/bin:/bin' },
    command,
  });
  return withNet ? args : args.filter((a) => a !== '--unshare-net');
}

/**
 * The supervisor's Runtime API bridge start (bubblewrap-args.ts), replicated with timestamps and an iteration count:
 * as shipped (a `sleep 0.002` process between polls of /proc/net/tcp) and with a builtin-only spin instead.
 */
function socatReplica(pause: string): string[] {
  const script = [
    't0=$(/usr/bin/date +%s%N)',
    '/usr/bin/socat TCP-LISTEN:9001,bind=127.0.0.1,fork,reuseaddr UNIX-CONNECT:/run/none.sock & i=0',
    "while :; do while read -r _ local _ state _; do [ \"$local $state\" = '0100007F:2329 0A' ] && break 2; done < /proc/net/tcp",
    `  i=$((i+1)); [ $i -lt 100000 ] || exit 70; ${pause}`,
    'done',
    't1=$(/usr/bin/date +%s%N)',
    'echo $t0 $t1 $i; kill $!',
  ].join('\n');
  return ['/bin/sh', '-c', script];
}

/**
 * cgroup v1 freezer writes, raw (sync, on kept fds), on an empty probe cgroup: alone, and while another empty cgroup
 * stays FROZEN. Since Linux 6.1 the v1 freezer flips the `freezer_active` static key when the first cgroup starts
 * freezing and the last one thaws; flipping it patches kernel text, which takes milliseconds.
 */
function freezerPair(name: string): { alone: number[]; pinned: number[] } {
  const root = '/sys/fs/cgroup/freezer';
  const probe = join(root, name);
  const pin = join(root, `${name}-pin`);
  mkdirSync(probe);
  mkdirSync(pin);
  const fd = openSync(join(probe, 'freezer.state'), 'r+');
  const cycle = () => {
    const t0 = now();
    writeSync(fd, 'FROZEN', 0);
    writeSync(fd, 'THAWED', 0);
    return now() - t0;
  };
  try {
    const alone = [cycle(), cycle(), cycle(), cycle(), cycle()];
    writeFileSync(join(pin, 'freezer.state'), 'FROZEN');
    const pinned = [cycle(), cycle(), cycle(), cycle(), cycle()];
    writeFileSync(join(pin, 'freezer.state'), 'THAWED');
    return { alone, pinned };
  } finally {
    closeSync(fd);
    rmdirSync(probe);
    rmdirSync(pin);
  }
}

/** One sample of every step. */
async function round(world: World, samples: Samples, index: number): Promise<void> {
  const env = { PATH: CLEAN_PATH };
  const setpriv = ['/usr/bin/setpriv', '--reuid=240999', '--regid=240999', '--clear-groups', '--inh-caps=-all'];

  record(samples, 'host: spawn /bin/true', (await run('/bin/true', [], env)).ms);
  record(samples, 'host: sh -c exit', (await run('/bin/sh', ['-c', 'exit 0'], env)).ms);
  record(samples, 'host: setpriv → /bin/true', (await run(setpriv[0]!, [...setpriv.slice(1), '/bin/true'], env)).ms);
  record(samples, 'host: node -e 0', (await run('/usr/bin/node', ['-e', '0'], env)).ms);
  record(samples, 'host: python3.11 -c pass', (await run('/usr/bin/python3.11', ['-c', 'pass'], env)).ms);
  record(samples, 'host: node bootstrap spawn → first /next', await hostRuntimeToNext(world, 'node'));
  record(samples, 'host: python bootstrap spawn → first /next', await hostRuntimeToNext(world, 'python'));

  const u0 = now();
  const uid = await world.uids.allocate();
  record(samples, 'uid pool allocate (/proc scan)', now() - u0);
  world.uids.release(uid);

  const driver = createCgroupDriver(`bench${index}x${randomBytes(3).toString('hex')}`);
  await driver.createInstanceParent();
  const c1 = now();
  const cg = await driver.createEnvironment('probe');
  await cg.setMemoryLimit(MEMORY_MB * 1024 * 1024);
  await cg.setCpuQuota('unthrottled');
  await cg.setPidsMax(1024);
  const c2 = now();
  await cg.destroy();
  const c3 = now();
  await driver.removeInstanceParent();
  record(samples, 'cgroups: create env dirs + 3 limits', c2 - c1);
  const pair = freezerPair(`kbench-frz-${index}-${randomBytes(3).toString('hex')}`);
  for (const ms of pair.alone) record(samples, 'freezer.state FROZEN+THAWED, empty cgroup (others may be frozen)', ms);
  for (const ms of pair.pinned) record(samples, 'freezer.state FROZEN+THAWED, with another cgroup kept frozen', ms);
  record(samples, 'cgroups: destroy env dirs', c3 - c2);

  record(samples, 'bwrap (root) → /bin/true, with netns', (await run('/usr/bin/bwrap', bwrapDirectArgs(world, true), env)).ms);
  record(samples, 'bwrap (root) → /bin/true, no netns', (await run('/usr/bin/bwrap', bwrapDirectArgs(world, false), env)).ms);
  record(samples, 'setpriv → bwrap → /bin/true (as Kindling, no cgroups)', (await run(setpriv[0]!, [...setpriv.slice(1), '/usr/bin/bwrap', ...bwrapDirectArgs(world, true)], env)).ms);

  for (const [label, pause] of [['as shipped: sleep 0.002', '/usr/bin/sleep 0.002'], ['builtin spin', ':']] as const) {
    const out = (await run('/usr/bin/bwrap', bwrapDirectArgs(world, true, socatReplica(pause)), env)).stdout.trim().split(' ');
    if (out.length === 3) {
      record(samples, `socat start + wait loop (${label})`, Number(BigInt(out[1]!) - BigInt(out[0]!)) / 1e6);
      record(samples, `  polls of /proc/net/tcp (${label})`, Number(out[2]));
    }
  }

  const bare = await sandboxRun(world, { socket: false, command: ['/bin/true'], until: 'exit' });
  record(samples, 'sandbox.start() call, no socket', bare.startMs);
  record(samples, 'sandbox: start → /bin/true exited, no socket', bare.readyMs);
  record(samples, 'sandbox.destroy()', bare.destroyMs);

  const bridged = await sandboxRun(world, { socket: true, command: ['/bin/true'], until: 'exit' });
  record(samples, 'runtime API socket: mkdir + listen', bridged.apiMs);
  record(samples, 'sandbox: start → /bin/true exited, with socat bridge', bridged.readyMs);

  const stamped = await sandboxRun(world, {
    socket: true,
    command: ['/bin/sh', '-c', '/usr/bin/date +%s%N; /usr/bin/node -e 0; /usr/bin/date +%s%N'],
    until: 'exit',
  });
  const [inA, inB] = stamped.stdout.trim().split('\n');
  if (inA && inB) {
    record(samples, 'sandbox: start() call → command exec (after socat wait)', dateToPerf(inA) - (stamped.t0 + stamped.apiMs));
    record(samples, 'sandbox: node -e 0 inside', dateToPerf(inB) - dateToPerf(inA));
  }
  const h0 = now();
  const host = await run('/bin/sh', ['-c', '/usr/bin/date +%s%N; /usr/bin/node -e 0; /usr/bin/date +%s%N'], env);
  const [hA, hB] = host.stdout.trim().split('\n');
  if (hA && hB) {
    record(samples, 'host: spawn → command exec (sh)', dateToPerf(hA) - h0);
    record(samples, 'host: node -e 0 (timed by date)', dateToPerf(hB) - dateToPerf(hA));
  }

  for (const runtime of ['node', 'python'] as const) {
    const r = await sandboxRun(world, { socket: true, command: runtimeCommand(runtime, true), until: 'init', runtime, freezeCycles: runtime === 'node' ? 5 : 0 });
    record(samples, `sandbox: ${runtime} bootstrap start → first /next`, r.readyMs);
    record(samples, `sandbox: ${runtime} socket + start → first /next (≈ Init Duration)`, r.apiMs + r.readyMs);
    for (const ms of r.freezeMs ?? []) record(samples, 'cgroup freeze (idle runtime)', ms);
    for (const ms of r.thawMs ?? []) record(samples, 'cgroup thaw', ms);
  }
}

export async function runColdBreakdown(rounds: number): Promise<BreakdownRow[]> {
  const world = await setUp();
  const samples: Samples = new Map();
  try {
    await round(world, new Map(), -1); // warm-up: page cache, JIT of our own code
    for (let i = 0; i < rounds; i++) await round(world, samples, i);
  } finally {
    await world.sandbox.close().catch(() => undefined);
    await rm(world.dir, { recursive: true, force: true });
  }
  return [...samples].map(([step, values]) => {
    const sorted = [...values].sort((a, b) => a - b);
    return { step, p50: percentile(sorted, 50), p90: percentile(sorted, 90), n: sorted.length };
  });
}
