import fs from 'node:fs/promises';
import path from 'node:path';
import { SandboxError } from '../sandbox.js';
import {
  cpuQuotaUs,
  CPU_PERIOD_US,
  instanceParentName,
  reapStaleEnvironments,
  type CgroupDriver,
  type EnvironmentCgroup,
} from './cgroup-driver.js';
import { CgroupFs, killPids } from './cgroup-fs.js';

/** The server's own cgroup directory in each v1 hierarchy Kindling uses (cpu and cpuacct may be one mount). */
export interface CgroupV1Dirs {
  memory: string;
  cpu: string;
  pids: string;
  freezer: string;
  /** For CPU usage; absent when the hierarchy is not mounted. */
  cpuacct?: string;
}

export interface CgroupV1Options {
  instanceId: string;
  ownDirs: CgroupV1Dirs;
  fs?: CgroupFs;
}

/**
 * An empty child of the instance's freezer parent, kept FROZEN while the instance lives. Since Linux 6.1 the v1
 * freezer flips a static key (patching kernel text, milliseconds) when the first cgroup of the machine starts freezing
 * and when the last one thaws; with this one frozen throughout, an environment's freeze and thaw cost microseconds.
 * Environment ids match [a-z0-9-], so no environment can take this name.
 */
export const KEEP_FROZEN_CGROUP = '_keep-frozen';

/** cgroup v1: one hierarchy per controller, so an environment is one directory in each of them. */
export class CgroupV1Driver implements CgroupDriver {
  readonly version = 'v1' as const;
  readonly instanceId: string;
  private readonly parents: CgroupV1Dirs;
  private readonly fs: CgroupFs;

  constructor(options: CgroupV1Options) {
    this.instanceId = options.instanceId;
    this.fs = options.fs ?? new CgroupFs();
    const name = instanceParentName(options.instanceId);
    const { memory, cpu, pids, freezer, cpuacct } = options.ownDirs;
    this.parents = {
      memory: path.join(memory, name),
      cpu: path.join(cpu, name),
      pids: path.join(pids, name),
      freezer: path.join(freezer, name),
      ...(cpuacct === undefined ? {} : { cpuacct: path.join(cpuacct, name) }),
    };
  }

  async createInstanceParent(): Promise<void> {
    for (const dir of uniqueDirs(this.parents)) await this.fs.makeDir(dir, { exclusive: false });
    // Idempotent: a crashed earlier run of this instance may have left it (frozen), and it is simply kept.
    const keepFrozen = path.join(this.parents.freezer, KEEP_FROZEN_CGROUP);
    await this.fs.makeDir(keepFrozen, { exclusive: false });
    await this.fs.write(path.join(keepFrozen, 'freezer.state'), 'FROZEN');
  }

  async createEnvironment(environmentId: string): Promise<EnvironmentCgroup> {
    const created: string[] = [];
    try {
      for (const dir of uniqueDirs(childDirs(this.parents, environmentId))) {
        await this.fs.makeDir(dir, { exclusive: true });
        created.push(dir);
      }
    } catch (error) {
      // Only what this call made (still empty): an existing child may belong to a running environment.
      for (const dir of created) await this.fs.removeDir(dir).catch(() => undefined);
      throw error;
    }
    return this.openEnvironment(environmentId);
  }

  openEnvironment(environmentId: string): EnvironmentCgroup {
    return new CgroupV1Environment(environmentId, childDirs(this.parents, environmentId), this.fs);
  }

  async listEnvironments(): Promise<string[]> {
    const ids = new Set<string>();
    for (const dir of uniqueDirs(this.parents)) {
      try {
        for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
          if (entry.isDirectory() && entry.name !== KEEP_FROZEN_CGROUP) ids.add(entry.name);
        }
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw new SandboxError('ERR_SANDBOX_CGROUP', `cannot list ${dir}`, { cause: error });
      }
    }
    return [...ids].sort();
  }

  reapStale(keep: ReadonlySet<string> = new Set()): Promise<string[]> {
    return reapStaleEnvironments(this, keep);
  }

  async removeInstanceParent(): Promise<void> {
    if ((await this.listEnvironments()).length > 0) return;
    const keepFrozen = path.join(this.parents.freezer, KEEP_FROZEN_CGROUP);
    if (await this.fs.exists(keepFrozen)) {
      await this.fs.write(path.join(keepFrozen, 'freezer.state'), 'THAWED');
      await this.fs.removeDir(keepFrozen);
    }
    for (const dir of uniqueDirs(this.parents)) await this.fs.removeDir(dir);
  }
}

class CgroupV1Environment implements EnvironmentCgroup {
  readonly procsFiles: readonly string[];
  /** Kept open (see CgroupFs.openKept) from first use until destroy: they are read or written per invocation. */
  private freezerFd?: number;
  private peakFd?: number;

  constructor(
    readonly environmentId: string,
    private readonly dirs: CgroupV1Dirs,
    private readonly fs: CgroupFs,
  ) {
    this.procsFiles = uniqueDirs(dirs).map((dir) => path.join(dir, 'cgroup.procs'));
  }

  async setMemoryLimit(bytes: number): Promise<void> {
    const limit = path.join(this.dirs.memory, 'memory.limit_in_bytes');
    const memsw = path.join(this.dirs.memory, 'memory.memsw.limit_in_bytes');
    if (!(await this.fs.exists(memsw))) {
      await this.fs.write(limit, String(bytes));
      // No swap accounting: keep the kernel from swapping this cgroup out past its limit (best effort).
      await this.fs.write(path.join(this.dirs.memory, 'memory.swappiness'), '0').catch(() => undefined);
      return;
    }
    // The kernel requires limit_in_bytes <= memsw.limit_in_bytes at every step, so the order depends on direction.
    if (bytes > (await this.fs.readInt(memsw))) {
      await this.fs.write(memsw, String(bytes));
      await this.fs.write(limit, String(bytes));
    } else {
      await this.fs.write(limit, String(bytes));
      await this.fs.write(memsw, String(bytes));
    }
  }

  async setCpuQuota(cpus: number | 'unthrottled'): Promise<void> {
    await this.fs.write(path.join(this.dirs.cpu, 'cpu.cfs_period_us'), String(CPU_PERIOD_US));
    const quota = cpus === 'unthrottled' ? '-1' : String(cpuQuotaUs(cpus));
    await this.fs.write(path.join(this.dirs.cpu, 'cpu.cfs_quota_us'), quota);
  }

  async setPidsMax(pids: number): Promise<void> {
    await this.fs.write(path.join(this.dirs.pids, 'pids.max'), String(pids));
  }

  async peakMemoryBytes(): Promise<number> {
    const file = path.join(this.dirs.memory, 'memory.max_usage_in_bytes');
    this.peakFd ??= this.fs.openKept(file, 'r');
    const text = this.fs.readKept(this.peakFd, file).trim();
    const value = Number(text);
    if (text === '' || !Number.isFinite(value)) {
      throw new SandboxError('ERR_SANDBOX_CGROUP', `${file} holds '${text}', not a number`);
    }
    return value;
  }

  async oomKills(): Promise<number> {
    return (await this.fs.readKeyed(path.join(this.dirs.memory, 'memory.oom_control'), 'oom_kill')) ?? 0;
  }

  async cpuUsageUs(): Promise<number> {
    if (this.dirs.cpuacct === undefined) {
      throw new SandboxError('ERR_SANDBOX_CGROUP', 'the cpuacct hierarchy is not mounted: CPU usage is unavailable');
    }
    return Math.floor((await this.fs.readInt(path.join(this.dirs.cpuacct, 'cpuacct.usage'))) / 1000);
  }

  pids(): Promise<number[]> {
    return this.fs.readPids(path.join(this.dirs.memory, 'cgroup.procs'));
  }

  async freeze(): Promise<void> {
    const [fd, file] = this.freezerState();
    this.fs.writeKept(fd, file, 'FROZEN');
    // Sleeping tasks freeze at once, running ones at their next return to user space: usually FROZEN at the first read.
    await this.fs.settle((slow) => {
      const now = this.fs.readKept(fd, file).trim();
      // FREEZING means some task has not stopped yet; writing FROZEN again (only once polling has slowed down, as
      // each write signals every task) retries the ones left.
      if (now === 'FREEZING' && slow) this.fs.writeKept(fd, file, 'FROZEN');
      return now === 'FROZEN';
    }, `${this.dirs.freezer} is frozen`);
  }

  async thaw(): Promise<void> {
    const [fd, file] = this.freezerState();
    this.fs.writeKept(fd, file, 'THAWED');
    await this.fs.settle(() => this.fs.readKept(fd, file).trim() === 'THAWED', `${this.dirs.freezer} is thawed`);
  }

  /**
   * Freeze, SIGKILL, thaw: a frozen cgroup cannot fork new processes between reading the pids and killing them, and
   * no pid can exit and be reused meanwhile. v1 frozen tasks die only once thawed.
   */
  async killAll(): Promise<void> {
    await this.fs.waitUntil(async () => {
      if ((await this.allPids()).length === 0) return true;
      const frozen = await this.freeze().then(
        () => true,
        () => false,
      );
      killPids(await this.allPids());
      if (frozen) await this.thaw();
      return (await this.allPids()).length === 0;
    }, `${this.dirs.memory} is empty`);
  }

  async destroy(): Promise<void> {
    try {
      const existing: string[] = [];
      for (const dir of uniqueDirs(this.dirs)) if (await this.fs.exists(dir)) existing.push(dir);
      if (existing.length === 0) return;
      await this.killAll();
      for (const dir of existing) await this.fs.removeDir(dir);
    } finally {
      for (const fd of [this.freezerFd, this.peakFd]) if (fd !== undefined) this.fs.closeKept(fd);
      this.freezerFd = undefined;
      this.peakFd = undefined;
    }
  }

  private freezerState(): [fd: number, file: string] {
    const file = path.join(this.dirs.freezer, 'freezer.state');
    this.freezerFd ??= this.fs.openKept(file, 'r+');
    return [this.freezerFd, file];
  }

  /** Every controller's view: a process could sit in one hierarchy's child and not another's. */
  private async allPids(): Promise<number[]> {
    const pids = new Set<number>();
    for (const file of this.procsFiles) for (const pid of await this.fs.readPids(file)) pids.add(pid);
    return [...pids];
  }
}

function childDirs(parents: CgroupV1Dirs, environmentId: string): CgroupV1Dirs {
  const { memory, cpu, pids, freezer, cpuacct } = parents;
  return {
    memory: path.join(memory, environmentId),
    cpu: path.join(cpu, environmentId),
    pids: path.join(pids, environmentId),
    freezer: path.join(freezer, environmentId),
    ...(cpuacct === undefined ? {} : { cpuacct: path.join(cpuacct, environmentId) }),
  };
}

function uniqueDirs(dirs: CgroupV1Dirs): string[] {
  return [...new Set([dirs.memory, dirs.cpu, dirs.cpuacct, dirs.pids, dirs.freezer].filter((d) => d !== undefined))];
}
