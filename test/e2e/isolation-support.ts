/**
 * Host-side views of Kindling's sandboxes for the isolation, resource and cleanup suites: where an instance's
 * cgroups and sockets live, which host processes belong to an environment and as which uids they run, and a gate
 * that holds a handler mid-invocation until the test has looked. Everything here reads the kernel's own files
 * (/proc, /sys/fs/cgroup) rather than asking the server, so a server that lies about its cleanup is caught.
 */
import assert from 'node:assert/strict';
import { open, readdir, readFile, rm, rmdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { TestContext } from 'node:test';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { sandboxInstanceId } from '../../src/environments/sandbox.js';
import { KINDLING_SERVER, spawnServer, type ServerProcess } from './server-process.js';

/** Kindling's default host uid range for sandboxes (KINDLING_UID_RANGE). */
export const SANDBOX_UIDS = { first: 200_000, last: 299_999 } as const;
/** Lambda's sandbox user as a function sees itself (sbx_user1051). */
export const INSIDE_UID = 993;
export const INSIDE_GID = 990;
/** The v1 controllers Kindling creates an environment's cgroup in (cpuacct: usage only). */
const CONTROLLERS = ['memory', 'cpu', 'cpuacct', 'pids', 'freezer'] as const;
const POLL_MS = 20;

export function inSandboxUidRange(uid: number): boolean {
  return uid >= SANDBOX_UIDS.first && uid <= SANDBOX_UIDS.last;
}

/** What identifies one server's sandboxes on the host: derived from its data directory, stable across restarts. */
export interface Instance {
  id: string;
  /** /run/kindling/<id>: one directory per environment (its Runtime API socket), plus `_etc`. */
  socketRoot: string;
  /** The cgroup parent's name under the server's own cgroup of each controller. */
  cgroupName: string;
}

export function instanceOf(dataDir: string): Instance {
  const id = sandboxInstanceId(dataDir);
  return { id, socketRoot: path.join('/run/kindling', id), cgroupName: `kindling-${id}` };
}

/** Reads a directory's entries; a missing directory has none. */
export async function entriesOf(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/** Environment ids that have a socket directory under the instance's socket root. */
export async function socketEnvironments(instance: Instance): Promise<string[]> {
  return (await entriesOf(instance.socketRoot)).filter((name) => !name.startsWith('_')).sort();
}

/**
 * The instance's cgroup parent in every controller, from the server process's own cgroups (/proc/<pid>/cgroup) and
 * the host's cgroup mounts: memory may sit deep (e.g. /process_api/<id>), cpu and pids at the root.
 */
export async function instanceCgroupDirs(serverPid: number, instance: Instance): Promise<string[]> {
  const mounts = (await readFile('/proc/self/mountinfo', 'utf8'))
    .split('\n')
    .map((line) => line.split(' '))
    .filter((f) => f[f.indexOf('-') + 1] === 'cgroup')
    .map((f) => ({ root: f[3] ?? '/', point: f[4] ?? '', options: (f[f.indexOf('-') + 3] ?? '').split(',') }));
  const memberships = (await readFile(`/proc/${serverPid}/cgroup`, 'utf8')).split('\n').map((line) => line.split(':'));
  const dirs: string[] = [];
  for (const controller of CONTROLLERS) {
    const mount = mounts.find((m) => m.options.includes(controller));
    const own = memberships.find((m) => (m[1] ?? '').split(',').includes(controller))?.slice(2).join(':');
    if (mount === undefined || own === undefined) continue;
    const relative = mount.root !== '/' && own.startsWith(mount.root) ? own.slice(mount.root.length) : own;
    dirs.push(path.join(mount.point, relative, instance.cgroupName));
  }
  assert.ok(dirs.length >= 4, `cgroup v1 controllers not found for pid ${serverPid} (these suites expect cgroup v1)`);
  return [...new Set(dirs)];
}

/** Environment ids with a cgroup under the instance's parent, in any controller. */
export async function cgroupEnvironments(parents: readonly string[]): Promise<string[]> {
  const ids = new Set<string>();
  for (const dir of parents) for (const name of await entriesOf(dir)) if (/^e[0-9a-f]{16}$/.test(name)) ids.add(name);
  return [...ids].sort();
}

/** The environment's cgroup directories that still exist. */
export async function existingCgroups(parents: readonly string[], envId: string): Promise<string[]> {
  const found: string[] = [];
  for (const dir of parents) if ((await entriesOf(dir)).includes(envId)) found.push(path.join(dir, envId));
  return found;
}

export interface HostProcess {
  pid: number;
  /** Real, effective, saved and filesystem uids. */
  uids: number[];
  cmdline: string;
  /** Text of /proc/<pid>/cgroup. */
  cgroup: string;
}

/** Every process on the host with its uids and cgroups (processes that exit while being read are left out). */
export async function hostProcesses(): Promise<HostProcess[]> {
  const pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name));
  const found = await Promise.all(
    pids.map(async (pid): Promise<HostProcess | undefined> => {
      try {
        const [status, cmdline, cgroup] = await Promise.all([
          readFile(`/proc/${pid}/status`, 'utf8'),
          readFile(`/proc/${pid}/cmdline`, 'utf8'),
          readFile(`/proc/${pid}/cgroup`, 'utf8'),
        ]);
        const uids = (/^Uid:\s+(.*)$/m.exec(status)?.[1] ?? '').trim().split(/\s+/).map(Number);
        return { pid: Number(pid), uids, cmdline: cmdline.replaceAll('\0', ' ').trim(), cgroup };
      } catch {
        return undefined;
      }
    }),
  );
  return found.filter((p): p is HostProcess => p !== undefined);
}

/** Processes in the environment's cgroup (any controller). */
export async function environmentProcesses(instance: Instance, envId: string): Promise<HostProcess[]> {
  return (await hostProcesses()).filter((p) => p.cgroup.includes(`/${instance.cgroupName}/${envId}\n`));
}

/** Processes in any cgroup of the instance. */
export async function instanceProcesses(instance: Instance): Promise<HostProcess[]> {
  return (await hostProcesses()).filter((p) => p.cgroup.includes(`/${instance.cgroupName}/`));
}

/** Lines of the host's mount table that mention any of the strings. */
export async function mountsMentioning(needles: readonly string[]): Promise<string[]> {
  const lines = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n');
  return lines.filter((line) => needles.some((needle) => line.includes(needle)));
}

/** Polls probe until it returns something other than undefined/false; fails with `what` after timeoutMs. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await delay(POLL_MS);
  }
}

/**
 * A handler-side gate (JavaScript source; needs `fs` from node:fs in scope): `await gate(ms)` writes /tmp/gate and
 * waits until its content turns to 'go', at most ms. The host opens it through /proc/<pid>/root (openGate): host
 * root can rewrite the existing file but not create one in a tmpfs of the sandbox's user namespace.
 */
export const GATE_SOURCE = `
async function gate(limitMs) {
  fs.writeFileSync('/tmp/gate', 'wait');
  const end = Date.now() + limitMs;
  while (fs.readFileSync('/tmp/gate', 'utf8') !== 'go') {
    if (Date.now() > end) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return true;
}
`;

/** Waits until a process of the environment sits at its gate; returns the gate file as the host reaches it. */
export async function atGate(instance: Instance, envId: string, timeoutMs = 10_000): Promise<string> {
  return waitFor(`environment ${envId} to reach its gate`, async () => {
    for (const p of await environmentProcesses(instance, envId)) {
      // The outer bwrap process lives in the host's mount namespace: its /tmp is the host's, never 'wait'.
      const file = `/proc/${p.pid}/root/tmp/gate`;
      if ((await readFile(file, 'utf8').catch(() => undefined)) === 'wait') return file;
    }
    return undefined;
  }, timeoutMs);
}

/** Waits until a process of the environment sits at the gate and lets it through. */
export async function openGate(instance: Instance, envId: string): Promise<void> {
  const file = await atGate(instance, envId);
  const handle = await open(file, 'r+'); // r+: never create (see GATE_SOURCE)
  try {
    await handle.truncate(0);
    await handle.write('go', 0);
  } finally {
    await handle.close();
  }
}

/**
 * Waits until an environment not in `exclude` sits at its gate (GATE_SOURCE); returns its id. Unlike newEnvironment,
 * it finds a pre-warmed environment too (its socket directory existed before the invocation, as a spare's).
 */
export async function gatedEnvironment(instance: Instance, exclude: readonly string[]): Promise<string> {
  return waitFor(`an environment at its gate under ${instance.socketRoot}`, async () => {
    for (const id of await socketEnvironments(instance)) {
      if (exclude.includes(id)) continue;
      for (const p of await environmentProcesses(instance, id)) {
        if ((await readFile(`/proc/${p.pid}/root/tmp/gate`, 'utf8').catch(() => undefined)) === 'wait') return id;
      }
    }
    return undefined;
  });
}

/** Waits for an environment that is not in `known` to appear under the socket root; returns its id. */
export async function newEnvironment(instance: Instance, known: readonly string[]): Promise<string> {
  return waitFor(`a new environment under ${instance.socketRoot}`, async () =>
    (await socketEnvironments(instance)).find((id) => !known.includes(id)),
  );
}

/** A TCP server of the test's own, counting the connections it ever accepted. */
export async function countingTcpServer(t: Pick<TestContext, 'after'>, host: string): Promise<{ port: number; accepted(): number }> {
  let accepted = 0;
  const server = net.createServer((socket) => {
    accepted += 1;
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  return { port: address.port, accepted: () => accepted };
}

export interface ChildServer {
  process: ServerProcess;
  pid: number;
  client: LambdaClient;
}

/** `kindling server` as a child process on dataDir (port 0), with a client for it; killed after the test. */
export async function startChildServer(t: TestContext, dataDir: string, env: Record<string, string> = {}): Promise<ChildServer> {
  const child = spawnServer(t, KINDLING_SERVER[0], KINDLING_SERVER[1], { KINDLING_DATA_DIR: dataDir, KINDLING_PORT: '0', ...env });
  const printed = await child.ready;
  assert.ok(child.child.pid !== undefined);
  const client = new LambdaClient({
    endpoint: printed.url,
    region: printed.region,
    credentials: { accessKeyId: printed.accessKeyId, secretAccessKey: printed.secretAccessKey },
    maxAttempts: 1,
  });
  t.after(() => client.destroy());
  return { process: child, pid: child.child.pid, client };
}

/** Resident memory of a process, in bytes (VmRSS). */
export async function residentBytes(pid: number): Promise<number> {
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1];
  assert.ok(kb !== undefined, `no VmRSS for ${pid}`);
  return Number(kb) * 1024;
}

/** What is left of one environment on the host; all empty once it is cleaned up. */
export interface Remains {
  cgroups: string[];
  socketDir: boolean;
  processes: string[];
  mounts: string[];
}

/**
 * Looks for everything an environment leaves: its cgroups, its socket directory, processes in its cgroups or
 * running as any of the host uids it was seen with, mounts naming it.
 */
export async function remainsOf(instance: Instance, parents: readonly string[], envId: string, uids: readonly number[]): Promise<Remains> {
  const processes = (await hostProcesses())
    .filter(
      (p) =>
        p.cgroup.includes(`/${instance.cgroupName}/${envId}\n`) ||
        // A uid freed here may already serve another server's environment (other suites run alongside), or another
        // environment of this instance (a restarted server hands reaped uids out again, e.g. to its new spares).
        (p.uids.some((uid) => uids.includes(uid)) && !otherInstance(p, instance) && !otherEnvironment(p, instance, envId)),
    )
    .map((p) => `${p.pid} uid ${p.uids[0]}: ${p.cmdline}`);
  return {
    cgroups: await existingCgroups(parents, envId),
    socketDir: (await socketEnvironments(instance)).includes(envId),
    processes,
    // Its own mounts: its id names them (pre-warmed sandboxes' code binds sit under <socket root>/_mnt/<id>); the
    // instance's shared _mnt and private _stage mounts live as long as the server and are checked after a close.
    mounts: await mountsMentioning([envId]),
  };
}

/** In the cgroup of another environment of the same instance: that environment's process, not a remain of this one. */
function otherEnvironment(p: HostProcess, instance: Instance, envId: string): boolean {
  const match = new RegExp(`/${instance.cgroupName}/([a-z0-9-]+)\n`).exec(p.cgroup);
  return match !== null && match[1] !== envId;
}

function otherInstance(p: HostProcess, instance: Instance): boolean {
  return /\/kindling-[0-9a-f]{12}\//.test(p.cgroup) && !p.cgroup.includes(`/${instance.cgroupName}/`);
}

export function isClean(remains: Remains): boolean {
  return remains.cgroups.length === 0 && !remains.socketDir && remains.processes.length === 0 && remains.mounts.length === 0;
}

/** Waits (bounded) until nothing of the environment is left, failing with what remains. */
export async function assertGone(instance: Instance, parents: readonly string[], envId: string, uids: readonly number[], timeoutMs = 15_000): Promise<void> {
  let last: Remains | undefined;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    last = await remainsOf(instance, parents, envId, uids);
    if (isClean(last)) return;
    if (Date.now() > deadline) assert.fail(`environment ${envId} was not cleaned up within ${timeoutMs} ms: ${JSON.stringify(last, null, 2)}`);
    await delay(POLL_MS);
  }
}

/**
 * The host uids an environment's processes run as, asserted to be in the sandbox range. Read it once the runtime
 * runs: until the wrapper that joins the cgroups has exec'd setpriv, it is root.
 */
export async function uidsOfEnvironment(instance: Instance, envId: string): Promise<number[]> {
  const processes = await waitFor(`processes of ${envId}`, async () => {
    const found = await environmentProcesses(instance, envId);
    return found.length > 0 ? found : undefined;
  });
  const uids = [...new Set(processes.flatMap((p) => p.uids))];
  assert.ok(uids.every(inSandboxUidRange), `${envId} runs as host uids ${uids.join(' ')}: ${JSON.stringify(processes)}`);
  return uids;
}

/** Stops a child server with SIGTERM (it closes its environments) and waits for it, at most timeoutMs. */
export async function stopGracefully(server: ChildServer, timeoutMs = 30_000): Promise<void> {
  if (server.process.child.exitCode !== null || server.process.child.signalCode !== null) return;
  server.process.child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`server ${server.pid} did not stop within ${timeoutMs} ms of SIGTERM`)), timeoutMs);
  });
  await Promise.race([server.process.exited, limit]).finally(() => clearTimeout(timer));
}

/**
 * Backstop for t.after when a server was killed (or a test failed half-way): what the instance left on the host is
 * removed by hand. Frozen cgroup v1 tasks die only once thawed, so every environment is thawed first. Only the
 * pids listed in this instance's own cgroups are signalled.
 */
export async function forceCleanInstance(parents: readonly string[], instance: Instance): Promise<void> {
  const envIds = await cgroupEnvironments(parents);
  for (const envId of envIds) {
    for (const dir of await existingCgroups(parents, envId)) {
      await writeFileIfExists(path.join(dir, 'freezer.state'), 'THAWED');
    }
  }
  await waitFor('the killed instance to have no process left', async () => {
    const processes = await instanceProcesses(instance);
    for (const p of processes) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    return processes.length === 0;
  });
  for (const envId of envIds) for (const dir of await existingCgroups(parents, envId)) await rmdir(dir).catch(() => undefined);
  // The freezer parent's empty, always-frozen child (cgroup-v1.ts KEEP_FROZEN_CGROUP).
  for (const dir of parents) await rmdir(path.join(dir, '_keep-frozen')).catch(() => undefined);
  for (const dir of parents) await rmdir(dir).catch(() => undefined);
  await rm(instance.socketRoot, { recursive: true, force: true });
}

async function writeFileIfExists(file: string, content: string): Promise<void> {
  const handle = await open(file, 'r+').catch(() => undefined);
  if (handle === undefined) return;
  try {
    await handle.write(content, 0);
  } finally {
    await handle.close();
  }
}
