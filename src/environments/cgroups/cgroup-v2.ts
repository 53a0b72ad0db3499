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

export interface CgroupV2Options {
  instanceId: string;
  /** The server's own cgroup directory in the unified hierarchy (e.g. /sys/fs/cgroup/system.slice/kindling.service). */
  ownDir: string;
  fs?: CgroupFs;
}

const CONTROLLERS = ['memory', 'cpu', 'pids'] as const;

/** cgroup v2: one directory per environment with every controller in it; freezing and killing are core files. */
export class CgroupV2Driver implements CgroupDriver {
  readonly version = 'v2' as const;
  readonly instanceId: string;
  private readonly ownDir: string;
  private readonly parentDir: string;
  private readonly fs: CgroupFs;

  constructor(options: CgroupV2Options) {
    this.instanceId = options.instanceId;
    this.ownDir = options.ownDir;
    this.parentDir = path.join(options.ownDir, instanceParentName(options.instanceId));
    this.fs = options.fs ?? new CgroupFs();
  }

  async createInstanceParent(): Promise<void> {
    await this.enableControllers(this.ownDir);
    await this.fs.makeDir(this.parentDir, { exclusive: false });
    await this.enableControllers(this.parentDir);
  }

  async createEnvironment(environmentId: string): Promise<EnvironmentCgroup> {
    await this.fs.makeDir(path.join(this.parentDir, environmentId), { exclusive: true });
    return this.openEnvironment(environmentId);
  }

  openEnvironment(environmentId: string): EnvironmentCgroup {
    return new CgroupV2Environment(environmentId, path.join(this.parentDir, environmentId), this.fs);
  }

  async listEnvironments(): Promise<string[]> {
    try {
      const entries = await fs.readdir(this.parentDir, { withFileTypes: true });
      return entries.filter((entry) => entry.isDirectory()).map((entry) => entry.name);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new SandboxError('ERR_SANDBOX_CGROUP', `cannot list ${this.parentDir}`, { cause: error });
    }
  }

  reapStale(keep: ReadonlySet<string> = new Set()): Promise<string[]> {
    return reapStaleEnvironments(this, keep);
  }

  async removeInstanceParent(): Promise<void> {
    if ((await this.listEnvironments()).length > 0) return;
    await this.fs.removeDir(this.parentDir);
  }

  /** A child can only use the controllers its parent lists in cgroup.subtree_control. */
  private async enableControllers(dir: string): Promise<void> {
    const file = path.join(dir, 'cgroup.subtree_control');
    const enabled = (await this.fs.exists(file)) ? (await this.fs.read(file)).split(/\s+/) : [];
    const missing = CONTROLLERS.filter((name) => !enabled.includes(name));
    if (missing.length === 0) return;
    try {
      await fs.writeFile(file, missing.map((name) => `+${name}`).join(' '));
    } catch (error) {
      // EBUSY: the "no internal processes" rule; the server's own cgroup holds processes and is not the root.
      const hint =
        (error as NodeJS.ErrnoException).code === 'EBUSY'
          ? ' (the cgroup holds processes: run the server in a delegated cgroup whose processes live in a leaf, e.g. systemd Delegate=yes)'
          : '';
      throw new SandboxError('ERR_SANDBOX_CGROUP', `cannot enable ${missing.join(', ')} in ${file}${hint}`, {
        cause: error,
      });
    }
  }
}

class CgroupV2Environment implements EnvironmentCgroup {
  readonly procsFiles: readonly string[];

  constructor(
    readonly environmentId: string,
    private readonly dir: string,
    private readonly fs: CgroupFs,
  ) {
    this.procsFiles = [this.file('cgroup.procs')];
  }

  async setMemoryLimit(bytes: number): Promise<void> {
    await this.fs.write(this.file('memory.max'), String(bytes));
    // Without swap accounting the file is absent and there is no swap to extend the limit with.
    if (await this.fs.exists(this.file('memory.swap.max'))) await this.fs.write(this.file('memory.swap.max'), '0');
  }

  async setCpuQuota(cpus: number | 'unthrottled'): Promise<void> {
    const quota = cpus === 'unthrottled' ? 'max' : String(cpuQuotaUs(cpus));
    await this.fs.write(this.file('cpu.max'), `${quota} ${CPU_PERIOD_US}`);
  }

  async setPidsMax(pids: number): Promise<void> {
    await this.fs.write(this.file('pids.max'), String(pids));
  }

  async peakMemoryBytes(): Promise<number> {
    // memory.peak exists since Linux 5.19; before that the current usage is the best available figure.
    const peak = this.file('memory.peak');
    return this.fs.readInt((await this.fs.exists(peak)) ? peak : this.file('memory.current'));
  }

  async oomKills(): Promise<number> {
    return (await this.fs.readKeyed(this.file('memory.events'), 'oom_kill')) ?? 0;
  }

  async cpuUsageUs(): Promise<number> {
    return (await this.fs.readKeyed(this.file('cpu.stat'), 'usage_usec')) ?? 0;
  }

  pids(): Promise<number[]> {
    return this.fs.readPids(this.file('cgroup.procs'));
  }

  async freeze(): Promise<void> {
    await this.fs.write(this.file('cgroup.freeze'), '1');
    await this.fs.waitUntil(async () => (await this.frozenState()) === 1, `${this.dir} is frozen`);
  }

  async thaw(): Promise<void> {
    await this.fs.write(this.file('cgroup.freeze'), '0');
    await this.fs.waitUntil(async () => (await this.frozenState()) === 0, `${this.dir} is thawed`);
  }

  async killAll(): Promise<void> {
    // cgroup.kill (Linux 5.14) kills atomically, even processes forking at that moment.
    if (await this.fs.exists(this.file('cgroup.kill'))) {
      await this.fs.write(this.file('cgroup.kill'), '1');
      await this.fs.waitUntil(async () => (await this.pids()).length === 0, `${this.dir} is empty`);
      return;
    }
    await this.fs.waitUntil(async () => {
      const pids = await this.pids();
      killPids(pids);
      return pids.length === 0;
    }, `${this.dir} is empty`);
  }

  async destroy(): Promise<void> {
    if (!(await this.fs.exists(this.dir))) return;
    await this.killAll();
    await this.fs.removeDir(this.dir);
  }

  private async frozenState(): Promise<number | undefined> {
    return this.fs.readKeyed(this.file('cgroup.events'), 'frozen');
  }

  private file(name: string): string {
    return path.join(this.dir, name);
  }
}
