/**
 * Per-environment cgroups behind one interface, with a driver for cgroup v1 (one hierarchy per controller) and one
 * for v2 (the unified hierarchy). Layout on the host: under the server's own cgroup of each controller, a parent per
 * server instance, `kindling-<instanceId>`, and below it one child per environment, named by the environment id.
 */

export interface CgroupDriver {
  readonly version: 'v1' | 'v2';
  readonly instanceId: string;
  /** Creates `kindling-<instanceId>` under the server's own cgroup of each controller. Idempotent. */
  createInstanceParent(): Promise<void>;
  /** Creates the environment's child (fails if it exists: reap stale children first). No limits are set yet. */
  createEnvironment(environmentId: string): Promise<EnvironmentCgroup>;
  /** A handle on an existing child (it may be gone; operations then fail, destroy() still succeeds). */
  openEnvironment(environmentId: string): EnvironmentCgroup;
  /** The environment ids that have a child under this instance's parent, in any controller. */
  listEnvironments(): Promise<string[]>;
  /**
   * Kills the processes of every child of THIS instance and removes the children (what a crash left behind).
   * Children named in `keep` are left alone. Returns the ids removed.
   */
  reapStale(keep?: ReadonlySet<string>): Promise<string[]>;
  /** Removes the instance parent when it has no children left (otherwise leaves it). */
  removeInstanceParent(): Promise<void>;
}

export interface EnvironmentCgroup {
  readonly environmentId: string;
  /**
   * The `cgroup.procs` files a wrapper shell writes its own pid into before exec'ing the sandbox, so that the
   * sandbox and every descendant start inside the environment's cgroups.
   */
  readonly procsFiles: readonly string[];
  /** Memory limit; swap cannot extend it (v1 memsw / v2 memory.swap.max = 0). */
  setMemoryLimit(bytes: number): Promise<void>;
  /** CPU bandwidth: a fraction of one CPU per 100 ms period, or 'unthrottled'. */
  setCpuQuota(cpus: number | 'unthrottled'): Promise<void>;
  setPidsMax(pids: number): Promise<void>;
  /** The highest memory usage seen (v1 max_usage_in_bytes; v2 memory.peak, else memory.current). */
  peakMemoryBytes(): Promise<number>;
  /** How many processes the OOM killer killed in this cgroup. */
  oomKills(): Promise<number>;
  /** CPU time used by the cgroup's processes, in microseconds. */
  cpuUsageUs(): Promise<number>;
  /** The pids in the cgroup (v1: the memory hierarchy's view). */
  pids(): Promise<number[]>;
  /** Resolves once the kernel reports every process frozen. */
  freeze(): Promise<void>;
  thaw(): Promise<void>;
  /** SIGKILLs every process until the cgroup is empty. */
  killAll(): Promise<void>;
  /** killAll, then removes the child from every controller (retrying briefly while the kernel releases it). Idempotent. */
  destroy(): Promise<void>;
}

/** The controllers Kindling limits. cpuacct is v1 only (CPU usage); freezer is a controller only in v1. */
export type CgroupController = 'memory' | 'cpu' | 'cpuacct' | 'pids' | 'freezer';

/** 'kindling-<instanceId>': the only name this instance ever creates or removes at the parent level. */
export function instanceParentName(instanceId: string): string {
  return `kindling-${instanceId}`;
}

/** CFS period used by both drivers (100 ms, the kernel default). */
export const CPU_PERIOD_US = 100_000;

/** The kernel refuses quotas under 1 ms; tiny fractions are rounded up to it. */
export function cpuQuotaUs(cpus: number): number {
  return Math.max(1000, Math.round(cpus * CPU_PERIOD_US));
}

/** reapStale for either driver: every environment of this instance but those in `keep` is destroyed. */
export async function reapStaleEnvironments(driver: CgroupDriver, keep: ReadonlySet<string>): Promise<string[]> {
  const stale = (await driver.listEnvironments()).filter((id) => !keep.has(id));
  for (const id of stale) await driver.openEnvironment(id).destroy();
  return stale;
}
