import { SandboxError } from '../sandbox.js';
import type { CgroupDriver } from './cgroup-driver.js';
import type { CgroupFs } from './cgroup-fs.js';
import { readCgroupLayout, type CgroupLayout } from './cgroup-layout.js';
import { CgroupV1Driver } from './cgroup-v1.js';
import { CgroupV2Driver } from './cgroup-v2.js';

/**
 * The driver for this host: v1 when memory, cpu, pids and freezer are all on v1 hierarchies, v2 when memory, cpu and
 * pids are all available in the unified hierarchy. A layout that splits them between the two is refused.
 */
export function createCgroupDriver(
  instanceId: string,
  options: { layout?: CgroupLayout; fs?: CgroupFs } = {},
): CgroupDriver {
  const layout = options.layout ?? readCgroupLayout();
  const { memory, cpu, cpuacct, pids, freezer } = layout.controllers;
  const fsOption = options.fs === undefined ? {} : { fs: options.fs };

  if (memory?.version === 'v1' && cpu?.version === 'v1' && pids?.version === 'v1' && freezer?.version === 'v1') {
    return new CgroupV1Driver({
      instanceId,
      ownDirs: {
        memory: memory.dir,
        cpu: cpu.dir,
        pids: pids.dir,
        freezer: freezer.dir,
        ...(cpuacct?.version === 'v1' ? { cpuacct: cpuacct.dir } : {}),
      },
      ...fsOption,
    });
  }
  if (memory?.version === 'v2' && cpu?.version === 'v2' && pids?.version === 'v2' && layout.unifiedDir !== undefined) {
    return new CgroupV2Driver({ instanceId, ownDir: layout.unifiedDir, ...fsOption });
  }
  const found = Object.entries(layout.controllers)
    .map(([name, placement]) => `${name}: ${placement.version} at ${placement.dir}`)
    .join('; ');
  throw new SandboxError(
    'ERR_SANDBOX_UNAVAILABLE',
    `cgroups: need memory, cpu, pids and freezer all on cgroup v1, or memory, cpu and pids all delegated in cgroup v2; found ${found || 'none'}`,
  );
}
