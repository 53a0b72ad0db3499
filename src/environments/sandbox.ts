import { createHash } from 'node:crypto';
import path from 'node:path';
import { PlatformError } from '../shared/errors.js';

/**
 * How one execution environment's process tree is confined. Backends: isolation/bubblewrap.ts (namespaces, cgroups,
 * an unprivileged host uid) and isolation/process.ts (no confinement, development only).
 */

export interface SandboxLimits {
  /** cgroup memory limit (swap cannot extend it). */
  memoryMb: number;
  /** CPUs as a fraction: memoryMb / 1769 (1 = one full CPU); applied by setCpuThrottled(true). */
  cpuQuota: number;
  /** Maximum number of processes and threads (fork bombs stop here), e.g. 1024. */
  pidsMax: number;
  /** tmpfs /tmp size (EphemeralStorage). */
  tmpMb: number;
}

export interface SandboxSpec {
  /** Environment id, [a-z0-9-]{1,40}. */
  id: string;
  /**
   * Host dir → /var/task (read-only). Absent: the sandbox starts with an empty /var/task and /opt, and the code is
   * bound later, while it runs, with SandboxProcess.bindCode (pre-warmed sandboxes; Sandbox.lateBinding only).
   */
  codeDir?: string;
  /** Host dir → /opt (read-only); without it /opt is an empty read-only dir. Only with codeDir. */
  optDir?: string;
  /** Host dir → /var/runtime (read-only): our bootstraps. */
  runtimeDir?: string;
  /** argv inside the sandbox, e.g. ['/usr/bin/node', '/var/runtime/index.mjs']. */
  command: string[];
  /** The exact environment of the command (nothing of the server's leaks). */
  env: Record<string, string>;
  /**
   * Host path of the listening Runtime API socket (bubblewrap). It must sit in its own directory directly under the
   * sandbox's socketRoot, created by the caller with mode 0700; the sandbox hands directory and socket to the
   * environment's uid. Inside, the directory is bound read-only at /run/rapi, so the socket is at
   * runtimeApiSocketInside(runtimeApiSocket) (only uid 993 can enter the directory), and socat serves it on
   * 127.0.0.1:9001 for runtimes that speak host:port.
   */
  runtimeApiSocket?: string;
  /**
   * When the command starts relative to the 127.0.0.1:9001 bridge (bubblewrap with a runtimeApiSocket only):
   * - 'wait' (default): once socat listens, so a runtime may connect at once (custom runtimes, the official RICs).
   * - 'background': at once, while socat starts beside it (some ms). For runtimes that talk HTTP over the socket
   *   itself (our bootstraps, told by _KINDLING_RUNTIME_API_SOCKET); the bridge still serves their function code and
   *   child processes, so the bootstraps (told by _KINDLING_AWAIT_BRIDGE, which the sandbox sets) wait for it to listen before the first
   *   invocation, overlapping the handler's load (on a loaded host a handler could otherwise come first).
   */
  runtimeApiBridge?: 'wait' | 'background';
  limits: SandboxLimits;
}

/** Where the directory of SandboxSpec.runtimeApiSocket appears inside a bubblewrap sandbox. */
export const RUNTIME_API_DIR_INSIDE = '/run/rapi';

/**
 * The path inside a bubblewrap sandbox of the Runtime API socket whose host path is `hostSocket` (the value for
 * _KINDLING_RUNTIME_API_SOCKET): /run/rapi/<socket file name>. The process backend has no such path (TCP only).
 */
export function runtimeApiSocketInside(hostSocket: string): string {
  return `${RUNTIME_API_DIR_INSIDE}/${path.basename(hostSocket)}`;
}

export interface SandboxExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The kernel's OOM killer killed a process of the environment (cgroup counter). */
  oomKilled: boolean;
}

export interface SandboxProcess {
  /** Host pid of the sandbox's outermost process (bwrap, or the command itself for the process backend). */
  readonly pid: number;
  /** The runtime's stdout and stderr, as streams. */
  readonly stdout: NodeJS.ReadableStream;
  readonly stderr: NodeJS.ReadableStream;
  /** Settles when the outermost process exits (the command's exit status; 137 after SIGKILL inside bwrap). */
  readonly exited: Promise<SandboxExit>;
  /** Peak memory of the environment (cgroup peak; VmHWM of the command for the process backend). */
  maxMemoryUsedBytes(): Promise<number>;
  /** CPU time consumed so far by the environment, in microseconds (metering, tests of freeze and throttling). */
  cpuTimeUs(): Promise<number>;
  /** Unthrottled during init, the limits' cpuQuota after the runtime's first /next. */
  setCpuThrottled(throttled: boolean): Promise<void>;
  /** Stops every process of the environment (resolves once the kernel reports it frozen). */
  freeze(): Promise<void>;
  thaw(): Promise<void>;
  /** Kills every process of the environment, waits, removes its cgroups and mounts, frees its uid. Idempotent. */
  destroy(): Promise<void>;
  /**
   * Started without a codeDir: binds the code (read-only) at /var/task and the layers at /opt of the running sandbox.
   * Once only; the processes inside see the new trees (their cwd still is the empty directory underneath: chdir).
   */
  bindCode?(code: { codeDir: string; optDir?: string }): Promise<void>;
}

export interface Sandbox {
  readonly kind: 'bubblewrap' | 'process';
  /** How the Runtime API must listen for this backend: 'unix' (bubblewrap) or 'tcp' (process). */
  readonly runtimeApiTransport: 'unix' | 'tcp';
  /** Whether start() accepts a spec without codeDir (code bound later with bindCode: pre-warmed sandboxes). */
  readonly lateBinding: boolean;
  /** Where per-environment Runtime API sockets go (short path; e.g. /run/kindling/<instance>); mode 0711. */
  readonly socketRoot: string;
  /** The value of AWS_LAMBDA_RUNTIME_API inside, given the Runtime API's address. */
  runtimeApiAddress(apiAddress: string): string;
  start(spec: SandboxSpec): Promise<SandboxProcess>;
  /** At start: remove this instance's stale cgroups, sockets, processes left by a crash. Returns how many. */
  reapStale(): Promise<number>;
  /** Destroys every environment this sandbox still holds and removes the instance's own directories and cgroups. */
  close(): Promise<void>;
}

export type SandboxErrorCode =
  | 'ERR_SANDBOX_UNAVAILABLE' // the backend cannot run here (missing bwrap/socat/setpriv, not root, no cgroups)
  | 'ERR_SANDBOX_INVALID_SPEC' // a SandboxSpec the backend refuses (bad id, env key, path outside socketRoot…)
  | 'ERR_SANDBOX_PATH_INACCESSIBLE' // a directory to bind is missing or not traversable by the environment's uid
  | 'ERR_SANDBOX_NO_UID' // every uid of the configured range is allocated or still in use
  | 'ERR_SANDBOX_SPAWN_FAILED' // the wrapper process could not be started
  | 'ERR_SANDBOX_CGROUP' // a cgroup operation failed (create, limit, freeze, kill, remove)
  | 'ERR_SANDBOX_MOUNT' // binding code into a running sandbox failed (mount helper missing, mount(2) refused)
  | 'ERR_SANDBOX_CLOSED'; // start() after close()
export class SandboxError extends PlatformError<SandboxErrorCode> {}

/** Environment ids name cgroups and directories, so they are restricted to a safe alphabet. */
export const ENVIRONMENT_ID_PATTERN = /^[a-z0-9-]{1,40}$/;

/**
 * A server instance's id: stable per data directory, so a restart after kill -9 finds (and reaps) its own stale
 * cgroups and sockets while never touching those of other servers on the same machine.
 */
export function sandboxInstanceId(dataDir: string): string {
  return createHash('sha256').update(path.resolve(dataDir)).digest('hex').slice(0, 12);
}
