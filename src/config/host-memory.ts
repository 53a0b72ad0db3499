/**
 * How much memory this server may give to execution environments by default: 80% of the smaller of the host's RAM
 * and the server's own memory cgroup limit (a container's limit binds before the host's RAM does). The parsing is
 * pure; `measureHostMemory` is the only I/O, done once when the configuration is loaded.
 */
import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';

export interface HostMemory {
  totalMb: number;
  /** The memory cgroup limit of this process, when it has one. */
  cgroupLimitMb?: number;
}

/** Share of the binding memory limit given to environments; the rest is for the server, the kernel and caches. */
const ENVIRONMENT_SHARE = 0.8;
/** cgroup v1 writes "no limit" as a page-rounded 2^63 − 1; anything this large is no limit. */
const UNLIMITED_BYTES = 2 ** 60;

export function defaultMaxMemoryMb(host: HostMemory): number {
  const binding = host.cgroupLimitMb === undefined ? host.totalMb : Math.min(host.totalMb, host.cgroupLimitMb);
  return Math.floor(binding * ENVIRONMENT_SHARE);
}

/** The memory cgroup of this process from /proc/self/cgroup: v1 names the memory controller, v2 has one `0::` line. */
export function memoryCgroup(procSelfCgroup: string): { version: 1 | 2; path: string } | undefined {
  let v2: string | undefined;
  for (const line of procSelfCgroup.split('\n')) {
    const match = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!match) continue;
    const [, id, controllers, path] = match as unknown as [string, string, string, string];
    if (controllers.split(',').includes('memory')) return { version: 1, path };
    if (id === '0' && controllers === '') v2 = path;
  }
  return v2 === undefined ? undefined : { version: 2, path: v2 };
}

/** memory.limit_in_bytes (v1) or memory.max (v2) in MB; undefined for "max" or an effectively infinite value. */
export function parseMemoryLimitMb(raw: string): number | undefined {
  const text = raw.trim();
  if (!/^\d+$/.test(text)) return undefined;
  const bytes = Number(text);
  if (bytes >= UNLIMITED_BYTES) return undefined;
  return Math.floor(bytes / (1024 * 1024));
}

/** Candidate limit files, most specific first: the process's own cgroup, then the mount's root (a container's view). */
export function memoryLimitFiles(cgroup: { version: 1 | 2; path: string }, root = '/sys/fs/cgroup'): string[] {
  const base = cgroup.version === 1 ? `${root}/memory` : root;
  const file = cgroup.version === 1 ? 'memory.limit_in_bytes' : 'memory.max';
  const relative = cgroup.path.replace(/^\/+|\/+$/g, '');
  return relative === '' ? [`${base}/${file}`] : [`${base}/${relative}/${file}`, `${base}/${file}`];
}

export function measureHostMemory(): HostMemory {
  const host: HostMemory = { totalMb: Math.floor(totalmem() / (1024 * 1024)) };
  const cgroup = memoryCgroup(readOrEmpty('/proc/self/cgroup'));
  if (!cgroup) return host;
  for (const file of memoryLimitFiles(cgroup)) {
    const raw = readOrEmpty(file);
    if (raw === '') continue;
    const limit = parseMemoryLimitMb(raw);
    if (limit !== undefined) host.cgroupLimitMb = limit;
    break;
  }
  return host;
}

function readOrEmpty(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
