import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { CgroupController } from './cgroup-driver.js';

/** Where one controller lives for this process: its hierarchy's version and the process's own cgroup directory. */
export interface ControllerPlacement {
  version: 'v1' | 'v2';
  dir: string;
}

export interface CgroupLayout {
  controllers: Partial<Record<CgroupController, ControllerPlacement>>;
  /** The process's own directory in the unified (v2) hierarchy, when one is mounted. */
  unifiedDir?: string;
}

export interface CgroupLayoutSources {
  /** Text of /proc/self/cgroup. */
  procSelfCgroup: string;
  /** Text of /proc/self/mountinfo. */
  mountinfo: string;
  /** The controllers available in a v2 directory (its cgroup.controllers). */
  v2Controllers(dir: string): string[];
}

const CONTROLLERS: readonly CgroupController[] = ['memory', 'cpu', 'cpuacct', 'pids', 'freezer'];

interface CgroupMount {
  fstype: 'cgroup' | 'cgroup2';
  root: string;
  mountPoint: string;
  options: string[];
}

/**
 * Detects per controller whether it is on a v1 hierarchy or the unified one. A mounted cgroup2 proves nothing by
 * itself: hybrid hosts mount it with no controllers (or a few) and keep the rest on v1.
 */
export function detectCgroupLayout(sources: CgroupLayoutSources): CgroupLayout {
  const mounts = parseMountinfo(sources.mountinfo);
  const memberships = parseProcCgroup(sources.procSelfCgroup);
  const layout: CgroupLayout = { controllers: {} };

  const unifiedPath = memberships.find((m) => m.hierarchyId === '0' && m.controllers.length === 0)?.path;
  const unifiedMount = mounts.find((m) => m.fstype === 'cgroup2');
  if (unifiedPath !== undefined && unifiedMount !== undefined) {
    layout.unifiedDir = dirOf(unifiedMount, unifiedPath);
  }
  const unifiedControllers = layout.unifiedDir === undefined ? [] : sources.v2Controllers(layout.unifiedDir);

  for (const controller of CONTROLLERS) {
    const membership = memberships.find((m) => m.hierarchyId !== '0' && m.controllers.includes(controller));
    const mount = mounts.find((m) => m.fstype === 'cgroup' && m.options.includes(controller));
    if (membership !== undefined && mount !== undefined) {
      layout.controllers[controller] = { version: 'v1', dir: dirOf(mount, membership.path) };
      continue;
    }
    if (layout.unifiedDir === undefined) continue;
    // v2 has no cpuacct (cpu.stat carries usage) and no freezer controller (cgroup.freeze is a core file).
    const v2Name = controller === 'cpuacct' ? 'cpu' : controller;
    if (controller === 'freezer' || unifiedControllers.includes(v2Name)) {
      layout.controllers[controller] = { version: 'v2', dir: layout.unifiedDir };
    }
  }
  return layout;
}

/** The layout of the calling process (synchronous: read once, at startup). */
export function readCgroupLayout(): CgroupLayout {
  return detectCgroupLayout({
    procSelfCgroup: readFileSync('/proc/self/cgroup', 'utf8'),
    mountinfo: readFileSync('/proc/self/mountinfo', 'utf8'),
    v2Controllers(dir) {
      try {
        return readFileSync(path.join(dir, 'cgroup.controllers'), 'utf8').split(/\s+/).filter(Boolean);
      } catch {
        return [];
      }
    },
  });
}

function parseProcCgroup(text: string): { hierarchyId: string; controllers: string[]; path: string }[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [hierarchyId = '', controllers = '', ...rest] = line.split(':');
      return { hierarchyId, controllers: controllers.split(',').filter(Boolean), path: rest.join(':') };
    });
}

/** mountinfo(5): `id parent major:minor root mount-point options [optional…] - fstype source super-options`. */
function parseMountinfo(text: string): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const separator = fields.indexOf('-');
    const fstype = fields[separator + 1];
    if (separator < 0 || (fstype !== 'cgroup' && fstype !== 'cgroup2')) continue;
    mounts.push({
      fstype,
      root: unescapeMountField(fields[3] ?? '/'),
      mountPoint: unescapeMountField(fields[4] ?? ''),
      options: (fields[separator + 3] ?? '').split(','),
    });
  }
  return mounts;
}

/** The directory of a cgroup path: relative to the mount's root (a container may mount a sub-tree). */
function dirOf(mount: CgroupMount, cgroupPath: string): string {
  const relative =
    mount.root !== '/' && (cgroupPath === mount.root || cgroupPath.startsWith(`${mount.root}/`))
      ? cgroupPath.slice(mount.root.length)
      : cgroupPath;
  const dir = path.join(mount.mountPoint, relative);
  return dir.length > 1 ? dir.replace(/\/+$/, '') : dir; // path.join keeps the slash of a root cgroup ('/')
}

/** mountinfo escapes space, tab, newline and backslash as octal (\040). */
function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}
