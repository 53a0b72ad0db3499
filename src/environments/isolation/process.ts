import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  SandboxError,
  type Sandbox,
  type SandboxExit,
  type SandboxProcess,
  type SandboxSpec,
} from '../sandbox.js';
import { validateSpec } from './validate-spec.js';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on every Linux architecture Node supports). */
const USER_HZ = 100;

/**
 * No confinement: the command runs as the server's own user, on the host's filesystem, network and limits. For
 * development on machines without bubblewrap only, and chosen explicitly.
 *
 * Limitations: /var/task, /var/runtime and /opt do not exist; arguments of the command that start with one of them
 * are rewritten to the host directories, but code that builds such paths itself (or reads LAMBDA_TASK_ROOT, or
 * NODE_PATH/PYTHONPATH entries pointing there) will not find them. Memory and CPU limits are not applied, /tmp is the
 * host's, freeze/thaw stop the process group only, and a crashed server leaves its environments running (reapStale
 * cannot find them).
 */
export class ProcessSandbox implements Sandbox {
  readonly kind = 'process' as const;
  readonly runtimeApiTransport = 'tcp' as const;
  /** Code cannot be bound into a plain process: no pre-warmed sandboxes with this backend. */
  readonly lateBinding = false;
  /** Unused by the TCP transport; a per-instance path so nothing collides if a caller makes use of it. */
  readonly socketRoot: string;
  private readonly live = new Set<ProcessEnvironment>();
  private closed = false;

  constructor(options: { instanceId: string }) {
    this.socketRoot = path.join(os.tmpdir(), `kindling-${options.instanceId}`);
  }

  runtimeApiAddress(apiAddress: string): string {
    return apiAddress;
  }

  async start(spec: SandboxSpec): Promise<SandboxProcess> {
    if (this.closed) throw new SandboxError('ERR_SANDBOX_CLOSED', 'the sandbox is closed');
    validateSpec(spec);
    if (spec.codeDir === undefined) throw new SandboxError('ERR_SANDBOX_INVALID_SPEC', 'the process sandbox needs codeDir (no late binding)');
    const [program, ...args] = spec.command.map((arg) => toHostPath(arg, spec));
    if (program === undefined) throw new Error('assertion failed: validateSpec refuses an empty command');
    // detached: its own process group, so freeze/thaw/destroy reach the command's children too.
    const child = spawn(program, args, {
      cwd: spec.codeDir,
      env: { ...spec.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    try {
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', reject);
      });
    } catch (error) {
      throw new SandboxError('ERR_SANDBOX_SPAWN_FAILED', `cannot start ${program}`, { cause: error });
    }
    const environment = new ProcessEnvironment(child, () => this.live.delete(environment));
    this.live.add(environment);
    return environment;
  }

  /** Nothing survives here that this instance could identify: the process backend keeps no state on disk. */
  async reapStale(): Promise<number> {
    return 0;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.live].map((environment) => environment.destroy()));
  }
}

/** /var/task/x → <codeDir>/x, likewise /var/runtime and /opt; other arguments are left alone. */
function toHostPath(arg: string, spec: SandboxSpec): string {
  const mounts: [string, string | undefined][] = [
    ['/var/task', spec.codeDir],
    ['/var/runtime', spec.runtimeDir],
    ['/opt', spec.optDir],
  ];
  for (const [inside, host] of mounts) {
    if (host !== undefined && (arg === inside || arg.startsWith(`${inside}/`))) return host + arg.slice(inside.length);
  }
  return arg;
}

class ProcessEnvironment implements SandboxProcess {
  readonly pid: number;
  readonly stdout: NodeJS.ReadableStream;
  readonly stderr: NodeJS.ReadableStream;
  readonly exited: Promise<SandboxExit>;
  private lastPeakBytes = 0;
  private lastCpuUs = 0;
  private destroying?: Promise<void>;
  /** Once reaped, the pid may be reused: /proc/<pid> is no longer ours to read. */
  private hasExited = false;

  constructor(
    child: ChildProcess,
    private readonly onDestroyed: () => void,
  ) {
    if (child.pid === undefined || child.stdout === null || child.stderr === null) {
      throw new Error('assertion failed: a spawned child has a pid and piped output');
    }
    this.pid = child.pid;
    this.stdout = child.stdout;
    this.stderr = child.stderr;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.hasExited = true;
        resolve({ code, signal, oomKilled: false });
      });
    });
  }

  /** VmHWM of the command (its children are not counted); the last figure once it has exited. */
  async maxMemoryUsedBytes(): Promise<number> {
    const status = await this.readProc('status');
    const kb = status === undefined ? undefined : /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1];
    if (kb !== undefined) this.lastPeakBytes = Number(kb) * 1024;
    return this.lastPeakBytes;
  }

  /** utime + stime of the command and of the children it has waited for. */
  async cpuTimeUs(): Promise<number> {
    const stat = await this.readProc('stat');
    if (stat !== undefined) {
      // Fields after the parenthesised command name (which may contain spaces): state is field 3, utime field 14.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ticks = [11, 12, 13, 14].reduce((sum, index) => sum + Number(fields[index] ?? 0), 0);
      this.lastCpuUs = (ticks * 1_000_000) / USER_HZ;
    }
    return this.lastCpuUs;
  }

  /** No CPU control without cgroups. */
  async setCpuThrottled(): Promise<void> {}

  async freeze(): Promise<void> {
    this.signalGroup('SIGSTOP');
  }

  async thaw(): Promise<void> {
    this.signalGroup('SIGCONT');
  }

  destroy(): Promise<void> {
    this.destroying ??= (async () => {
      await this.maxMemoryUsedBytes();
      await this.cpuTimeUs();
      this.signalGroup('SIGKILL');
      await this.exited;
      this.onDestroyed();
    })();
    return this.destroying;
  }

  private signalGroup(signal: NodeJS.Signals): void {
    try {
      process.kill(-this.pid, signal);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }

  private async readProc(name: string): Promise<string | undefined> {
    if (this.hasExited) return undefined;
    try {
      return await fs.readFile(`/proc/${this.pid}/${name}`, 'utf8');
    } catch {
      return undefined;
    }
  }
}
