import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { CgroupDriver, EnvironmentCgroup } from '../cgroups/cgroup-driver.js';
import { killPids } from '../cgroups/cgroup-fs.js';
import {
  SandboxError,
  type Sandbox,
  type SandboxExit,
  type SandboxLimits,
  type SandboxProcess,
  type SandboxSpec,
} from '../sandbox.js';
import type { UidPool } from '../uid-pool.js';
import { bubblewrapArgs, RUNTIME_API_PORT_INSIDE, type HostRootEntry } from './bubblewrap-args.js';
import { LateCodeMounts, mountPointsUnder } from './late-code-mounts.js';
import { Mounter } from './mounter.js';
import { writeSandboxEtc } from './sandbox-etc.js';
import { assertAccessibleDir, validateSpec } from './validate-spec.js';

export interface BubblewrapSandboxOptions {
  instanceId: string;
  cgroups: CgroupDriver;
  uids: UidPool;
  /** Default /run/kindling/<instanceId>: short, because sun_path holds 108 bytes. */
  socketRoot?: string;
  /** Absolute paths of the programs on the host (createSandbox resolves and checks them). */
  programs?: { bwrap: string; setpriv: string };
  /** Absolute paths inside the sandbox (under the bound /usr) of what the supervisor runs. */
  programsInside?: { socat: string };
  /** The sandbox's hostname (resolvable through its /etc/hosts). Default 'localhost'. */
  hostname?: string;
  /** Whether specs without codeDir are accepted (code bound later by mount propagation; needs perl). Default false. */
  lateBinding?: boolean;
}

/** The host's PATH for the wrapper shell; the only variable the wrapper gets (bwrap clears it again). */
const WRAPPER_PATH = '/usr/sbin:/usr/bin:/sbin:/bin';
/** Joins the wrapper's own pid to every cgroup.procs file it is given, then exec's the rest of its arguments. */
const WRAPPER_SCRIPT =
  'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 125; shift; n=$((n-1)); done; exec "$@"';
/** Per-instance directories under socketRoot start with '_', which environment ids cannot contain. */
const ETC_DIR_NAME = '_etc';
const MAX_SUN_PATH_BYTES = 107; // 108 with the terminating NUL
/** How long bwrap gets to notice its namespace died and exit before it is killed as well. */
const BWRAP_EXIT_WAIT_MS = 2000;

/**
 * bubblewrap + cgroups: each environment runs as its own unprivileged host uid (root inside would be root on the
 * host's bind mounts) in user, pid, ipc, uts, cgroup and net namespaces, with a read-only root and a tmpfs /tmp.
 */
export class BubblewrapSandbox implements Sandbox {
  readonly kind = 'bubblewrap' as const;
  readonly runtimeApiTransport = 'unix' as const;
  readonly socketRoot: string;
  readonly lateBinding: boolean;
  private readonly mounter = new Mounter();
  private readonly lateMounts: LateCodeMounts;
  private readonly cgroups: CgroupDriver;
  private readonly uids: UidPool;
  private readonly programs: { bwrap: string; setpriv: string };
  private readonly programsInside: { socat: string };
  private readonly hostname: string;
  private readonly live = new Map<string, BubblewrapProcess>();
  /** Ids from the beginning of start() until destroy: never reaped, never started twice. */
  private readonly reserved = new Set<string>();
  private prepared?: Promise<HostRootEntry[]>;
  private closed = false;

  constructor(options: BubblewrapSandboxOptions) {
    this.cgroups = options.cgroups;
    this.uids = options.uids;
    this.socketRoot = options.socketRoot ?? path.join('/run/kindling', options.instanceId);
    this.programs = options.programs ?? { bwrap: '/usr/bin/bwrap', setpriv: '/usr/bin/setpriv' };
    this.programsInside = options.programsInside ?? { socat: '/usr/bin/socat' };
    this.hostname = options.hostname ?? 'localhost';
    this.lateBinding = (options.lateBinding ?? false) && Mounter.supported;
    this.lateMounts = new LateCodeMounts(this.socketRoot, this.mounter);
    // Callers create per-environment socket directories in it before the first start(): it must exist from now on.
    mkdirSync(path.dirname(this.socketRoot), { recursive: true, mode: 0o711 });
    mkdirSync(this.socketRoot, { recursive: true, mode: 0o711 });
    chmodSync(this.socketRoot, 0o711); // traversable by every environment uid, listable by none
  }

  runtimeApiAddress(): string {
    return `127.0.0.1:${RUNTIME_API_PORT_INSIDE}`;
  }

  async start(spec: SandboxSpec): Promise<SandboxProcess> {
    if (this.closed) throw new SandboxError('ERR_SANDBOX_CLOSED', 'the sandbox is closed');
    validateSpec(spec);
    if (spec.codeDir === undefined && !this.lateBinding) {
      throw new SandboxError('ERR_SANDBOX_INVALID_SPEC', 'this sandbox cannot bind code later (no codeDir given)');
    }
    if (this.reserved.has(spec.id)) {
      throw new SandboxError('ERR_SANDBOX_INVALID_SPEC', `environment ${spec.id} is already running`);
    }
    this.reserved.add(spec.id);
    let environment: SandboxProcess;
    try {
      environment = await this.startReserved(spec);
    } catch (error) {
      this.reserved.delete(spec.id);
      throw error;
    }
    if (this.closed) {
      // close() ran while this start was under way and could not see it: it must not outlive the sandbox.
      await environment.destroy();
      throw new SandboxError('ERR_SANDBOX_CLOSED', 'the sandbox was closed while the environment started');
    }
    return environment;
  }

  private async startReserved(spec: SandboxSpec): Promise<SandboxProcess> {
    const hostRoot = await this.prepare();
    for (const dir of [spec.codeDir, spec.optDir, spec.runtimeDir]) if (dir !== undefined) await assertAccessibleDir(dir);
    const socketDir = spec.runtimeApiSocket === undefined ? undefined : await this.checkSocket(spec.runtimeApiSocket);

    const uid = await this.uids.allocate();
    if (uid === 0) throw new Error('assertion failed: a sandbox must never run as host uid 0');
    let cgroup: EnvironmentCgroup | undefined;
    const late = spec.codeDir === undefined;
    try {
      // Late binding: /var/task and /opt are this sandbox's own empty mount points, filled by bindCode().
      const code = late ? await this.lateMounts.createSlot(spec.id, uid) : { taskDir: spec.codeDir!, optDir: spec.optDir };
      cgroup = await this.cgroups.createEnvironment(spec.id);
      await cgroup.setMemoryLimit(spec.limits.memoryMb * 1024 * 1024);
      await cgroup.setCpuQuota('unthrottled'); // init is not starved; setCpuThrottled(true) applies the quota
      await cgroup.setPidsMax(spec.limits.pidsMax);
      if (spec.runtimeApiSocket !== undefined && socketDir !== undefined) {
        await fs.chown(socketDir, uid, uid);
        await fs.chown(spec.runtimeApiSocket, uid, uid);
      }
      const args = bubblewrapArgs({
        hostname: this.hostname,
        hostRoot,
        etcDir: path.join(this.socketRoot, ETC_DIR_NAME),
        codeDir: code.taskDir,
        ...(code.optDir === undefined ? {} : { optDir: code.optDir }),
        ...(spec.runtimeDir === undefined ? {} : { runtimeDir: spec.runtimeDir }),
        ...(spec.runtimeApiSocket === undefined ? {} : { runtimeApiSocket: spec.runtimeApiSocket }),
        ...(spec.runtimeApiBridge === undefined ? {} : { runtimeApiBridge: spec.runtimeApiBridge }),
        tmpBytes: spec.limits.tmpMb * 1024 * 1024,
        programsInside: this.programsInside,
        env: spec.env,
        command: spec.command,
      });
      const setpriv = [this.programs.setpriv, `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--inh-caps=-all'];
      // bwrap reads its options from fd 3 (--args), so its command line, which the sandbox can read as
      // /proc/1/cmdline, shows no host paths, hashes or instance ids; only the command (sandbox paths) stays on it.
      const separator = args.indexOf('--');
      if (separator < 0) throw new Error('assertion failed: bubblewrap arguments end with -- and the command');
      const optionPart = args.slice(0, separator);
      const commandPart = args.slice(separator);
      const child = spawn(
        '/bin/sh',
        ['-c', WRAPPER_SCRIPT, 'kindling-wrapper', String(cgroup.procsFiles.length), ...cgroup.procsFiles, ...setpriv, this.programs.bwrap, '--args', '3', ...commandPart],
        // detached: the terminal's signals (Ctrl-C) reach the server, not its sandboxes; --die-with-parent still ties them to it
        { env: { PATH: WRAPPER_PATH }, stdio: ['ignore', 'pipe', 'pipe', 'pipe'], detached: true },
      );
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', reject);
      });
      const argsPipe = child.stdio[3] as NodeJS.WritableStream & { on(event: 'error', fn: () => void): unknown };
      argsPipe.on('error', () => {}); // a wrapper that died early is reported through its exit
      argsPipe.end(Buffer.from(`${optionPart.join('\0')}\0`));
      const socketDirName = socketDir === undefined ? undefined : path.basename(socketDir);
      const bindCode = late ? (bound: { codeDir: string; optDir?: string }) => this.lateMounts.bind(spec.id, bound) : undefined;
      const environment = new BubblewrapProcess(child, cgroup, spec.limits, socketDirName, bindCode, async (processesGone) => {
        // Mounts first: the uid may be handed out again once released.
        if (late) await this.lateMounts.removeSlot(spec.id).catch(() => {});
        this.uids.release(uid, { processesGone });
        if (socketDir !== undefined) await fs.rm(socketDir, { recursive: true, force: true });
        this.live.delete(spec.id);
        this.reserved.delete(spec.id);
      });
      this.live.set(spec.id, environment);
      return environment;
    } catch (error) {
      const processesGone = await (cgroup?.destroy() ?? Promise.resolve()).then(
        () => true,
        () => false,
      );
      if (late) await this.lateMounts.removeSlot(spec.id).catch(() => {});
      this.uids.release(uid, { processesGone });
      if (error instanceof SandboxError) throw error;
      throw new SandboxError('ERR_SANDBOX_SPAWN_FAILED', `cannot start environment ${spec.id}`, { cause: error });
    }
  }

  async reapStale(): Promise<number> {
    await this.prepare();
    const keep = new Set(this.reserved);
    const reaped = new Set(await this.cgroups.reapStale(keep));
    // Before the socket directories: the stale mount points of late-bound sandboxes are unmounted and removed first.
    for (const id of await this.lateMounts.reapStale(keep)) reaped.add(id);
    const liveSocketDirs = new Set([...this.live.values()].map((environment) => environment.socketDirName));
    for (const name of await fs.readdir(this.socketRoot)) {
      if (name.startsWith('_') || keep.has(name) || liveSocketDirs.has(name)) continue;
      await fs.rm(path.join(this.socketRoot, name), { recursive: true, force: true });
      reaped.add(name);
    }
    return reaped.size;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.live.values()].map((environment) => environment.destroy()));
    await this.cgroups.removeInstanceParent();
    await this.lateMounts.close();
    this.mounter.close();
    // Never remove recursively through a mount (it would delete the code cache bound there).
    if ((await mountPointsUnder([this.socketRoot], true)).length === 0) await fs.rm(this.socketRoot, { recursive: true, force: true });
  }

  /** Once per instance: the /etc files, the cgroup parent (the socket root may have been removed by close()). */
  private prepare(): Promise<HostRootEntry[]> {
    this.prepared ??= (async () => {
      await fs.mkdir(this.socketRoot, { recursive: true, mode: 0o711 });
      await writeSandboxEtc(path.join(this.socketRoot, ETC_DIR_NAME));
      await this.cgroups.createInstanceParent();
      return readHostRoot();
    })();
    this.prepared.catch(() => {
      this.prepared = undefined; // let a later call retry (e.g. after the operator fixed permissions)
    });
    return this.prepared;
  }

  /** The socket must sit in its own directory directly under socketRoot, so destroy and reapStale can remove it. */
  private async checkSocket(socket: string): Promise<string> {
    const dir = path.dirname(socket);
    const problem =
      path.dirname(dir) !== this.socketRoot
        ? `must be in a directory directly under ${this.socketRoot}`
        : Buffer.byteLength(socket) > MAX_SUN_PATH_BYTES
          ? `is longer than ${MAX_SUN_PATH_BYTES} bytes (sun_path)`
          : !/^[A-Za-z0-9._-]+$/.test(path.basename(socket)) || path.basename(dir).startsWith('_')
            ? 'has a name outside [A-Za-z0-9._-] (or a directory name starting with _)'
            : undefined;
    if (problem !== undefined) {
      throw new SandboxError('ERR_SANDBOX_INVALID_SPEC', `runtime API socket ${socket} ${problem}`);
    }
    const stats = await fs.lstat(socket).catch(() => undefined);
    if (stats === undefined || !stats.isSocket()) {
      throw new SandboxError('ERR_SANDBOX_INVALID_SPEC', `runtime API socket ${socket} does not exist (listen first)`);
    }
    await fs.chmod(dir, 0o700);
    return dir;
  }
}

class BubblewrapProcess implements SandboxProcess {
  readonly pid: number;
  readonly stdout: NodeJS.ReadableStream;
  readonly stderr: NodeJS.ReadableStream;
  readonly exited: Promise<SandboxExit>;
  private lastPeakBytes = 0;
  private lastCpuUs = 0;
  private destroying?: Promise<void>;

  constructor(
    private readonly child: ChildProcess,
    private readonly cgroup: EnvironmentCgroup,
    private readonly limits: SandboxLimits,
    readonly socketDirName: string | undefined,
    private lateBind: ((code: { codeDir: string; optDir?: string }) => Promise<void>) | undefined,
    /** Frees what start() reserved; `processesGone`: the environment's cgroup was emptied and removed. */
    private readonly release: (processesGone: boolean) => Promise<void>,
  ) {
    if (child.pid === undefined || child.stdout === null || child.stderr === null) {
      throw new Error('assertion failed: a spawned child has a pid and piped output');
    }
    this.pid = child.pid;
    this.stdout = child.stdout;
    this.stderr = child.stderr;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        // The counter is read before destroy() removes the cgroup: destroy waits for this promise.
        void this.cgroup.oomKills().then(
          (kills) => resolve({ code, signal, oomKilled: kills > 0 && (code === 137 || signal === 'SIGKILL') }),
          () => resolve({ code, signal, oomKilled: false }),
        );
      });
    });
  }

  async maxMemoryUsedBytes(): Promise<number> {
    if (this.destroying === undefined) this.lastPeakBytes = await this.cgroup.peakMemoryBytes();
    return this.lastPeakBytes;
  }

  async cpuTimeUs(): Promise<number> {
    if (this.destroying === undefined) this.lastCpuUs = await this.cgroup.cpuUsageUs();
    return this.lastCpuUs;
  }

  async bindCode(code: { codeDir: string; optDir?: string }): Promise<void> {
    if (!this.lateBind) throw new SandboxError('ERR_SANDBOX_INVALID_SPEC', 'this environment was started with its code');
    const bind = this.lateBind;
    this.lateBind = undefined; // once only
    await bind(code);
  }

  setCpuThrottled(throttled: boolean): Promise<void> {
    return this.cgroup.setCpuQuota(throttled ? this.limits.cpuQuota : 'unthrottled');
  }

  freeze(): Promise<void> {
    return this.cgroup.freeze();
  }

  thaw(): Promise<void> {
    return this.cgroup.thaw();
  }

  destroy(): Promise<void> {
    this.destroying ??= (async () => {
      // Keep the last figures readable after the cgroup is gone.
      this.lastPeakBytes = await this.cgroup.peakMemoryBytes().catch(() => this.lastPeakBytes);
      this.lastCpuUs = await this.cgroup.cpuUsageUs().catch(() => this.lastCpuUs);
      let processesGone = false;
      try {
        await this.cgroup.thaw().catch(() => undefined); // v1: frozen tasks die only once thawed
        await this.stopBubblewrap();
        await this.cgroup.killAll();
        await this.exited;
        await this.cgroup.destroy();
        processesGone = true;
      } finally {
        await this.release(processesGone);
      }
    })();
    return this.destroying;
  }

  /**
   * Kills the namespace's processes but not bwrap's outer process, which then reaps the namespace's init and exits
   * (we reap it). Killing the outer one first would orphan the init to the host's pid 1, leaving a zombie of the
   * environment's uid until that gets round to reaping it.
   */
  private async stopBubblewrap(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const inner = (await this.cgroup.pids()).filter((pid) => pid !== this.pid);
    // No inner process: the wrapper has not started bwrap yet (or not joined its cgroups); killed, it can no longer fork.
    if (inner.length === 0) this.child.kill('SIGKILL');
    else killPids(inner);
    const exitedInTime = await Promise.race([this.exited.then(() => true), delay(BWRAP_EXIT_WAIT_MS).then(() => false)]);
    if (!exitedInTime) this.child.kill('SIGKILL');
  }
}

/** How the host's /bin, /lib… look (symlinks into /usr on merged-/usr systems), reproduced inside. */
async function readHostRoot(): Promise<HostRootEntry[]> {
  const entries: HostRootEntry[] = [];
  for (const name of ['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32']) {
    const stats = await fs.lstat(`/${name}`).catch(() => undefined);
    if (stats?.isSymbolicLink()) entries.push({ name, kind: 'symlink', target: await fs.readlink(`/${name}`) });
    else if (stats?.isDirectory()) entries.push({ name, kind: 'dir' });
  }
  return entries;
}
