import { accessSync, constants, readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { createCgroupDriver } from '../cgroups/create-cgroup-driver.js';
import { sandboxInstanceId, SandboxError, type Sandbox } from '../sandbox.js';
import { UidPool } from '../uid-pool.js';
import { BubblewrapSandbox } from './bubblewrap.js';
import { ProcessSandbox } from './process.js';

export interface CreateSandboxOptions {
  /** The server's data directory: its path names this instance (stable across restarts, distinct per server). */
  dataDir: string;
  /** Inclusive host uid range for environments (bubblewrap). Default 200000–299999. */
  uidRange?: [number, number];
}

/** program → the Debian package that ships it. */
const BUBBLEWRAP_PROGRAMS = { bwrap: 'bubblewrap', socat: 'socat', setpriv: 'util-linux' } as const;
/** Capabilities the bubblewrap backend uses without being root: chown (sockets), setuid/setgid (setpriv), sys_admin (cgroups). */
const REQUIRED_CAPABILITIES = { CAP_CHOWN: 0, CAP_SETGID: 6, CAP_SETUID: 7, CAP_SYS_ADMIN: 21 } as const;

/**
 * The sandbox backend for this server. 'bubblewrap' checks its programs, privileges and cgroups now and throws a
 * SandboxError saying what to install or fix; 'process' never fails (and confines nothing: the caller warns).
 */
export function createSandbox(kind: 'bubblewrap' | 'process', options: CreateSandboxOptions): Sandbox {
  const instanceId = sandboxInstanceId(options.dataDir);
  if (kind === 'process') return new ProcessSandbox({ instanceId });

  const found = Object.fromEntries(
    Object.keys(BUBBLEWRAP_PROGRAMS).map((name) => [name, findProgram(name)]),
  ) as Record<keyof typeof BUBBLEWRAP_PROGRAMS, string | undefined>;
  const missing = (Object.keys(found) as (keyof typeof BUBBLEWRAP_PROGRAMS)[]).filter((name) => !found[name]);
  if (missing.length > 0) {
    const packages = [...new Set(missing.map((name) => BUBBLEWRAP_PROGRAMS[name]))].join(' ');
    throw new SandboxError(
      'ERR_SANDBOX_UNAVAILABLE',
      `the bubblewrap sandbox needs ${missing.join(', ')}: install with 'apt-get install -y ${packages}' (as root), or choose the process sandbox for development`,
    );
  }
  const { bwrap, socat, setpriv } = found as Record<keyof typeof BUBBLEWRAP_PROGRAMS, string>;
  assertPrivileged();

  // Inside, only /usr (and the root's symlinks into it) exists: the supervisor's programs must live there.
  const socatInside = realpathSync(socat);
  if (!socatInside.startsWith('/usr/')) {
    throw new SandboxError('ERR_SANDBOX_UNAVAILABLE', `${socatInside} is outside /usr, so the sandbox cannot run it`);
  }
  return new BubblewrapSandbox({
    instanceId,
    cgroups: createCgroupDriver(instanceId),
    uids: new UidPool({
      ...(options.uidRange === undefined ? {} : { range: options.uidRange }),
      startAt: parseInt(instanceId.slice(0, 8), 16),
    }),
    programs: { bwrap, setpriv },
    programsInside: { socat: socatInside },
    // Pre-warmed sandboxes get their code by mount propagation, through a small perl helper (perl-base is Essential).
    lateBinding: findProgram('perl') !== undefined,
  });
}

function findProgram(name: string): string | undefined {
  const dirs = ['/usr/sbin', '/usr/bin', '/sbin', '/bin', ...(process.env.PATH ?? '').split(':')];
  for (const dir of dirs) {
    if (!path.isAbsolute(dir)) continue;
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Root, or the capabilities the backend uses: creating cgroups, handing sockets over, switching to the env's uid. */
function assertPrivileged(): void {
  if (process.getuid?.() === 0) return;
  let effective = 0n;
  try {
    const hex = /^CapEff:\s+([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    effective = BigInt(`0x${hex ?? '0'}`);
  } catch {
    // no /proc: treated as no capabilities
  }
  const lacking = Object.entries(REQUIRED_CAPABILITIES)
    .filter(([, bit]) => (effective & (1n << BigInt(bit))) === 0n)
    .map(([name]) => name);
  if (lacking.length > 0) {
    throw new SandboxError(
      'ERR_SANDBOX_UNAVAILABLE',
      `the bubblewrap sandbox must run as root (or with ${lacking.join(', ')}): it creates cgroups and starts each environment as its own uid`,
    );
  }
}
