import path from 'node:path';
import { SANDBOX_ETC_FILES, SANDBOX_GID, SANDBOX_UID } from './sandbox-etc.js';

/** Where the Runtime API socket's directory appears inside, and the loopback port socat serves it on. */
export const RUNTIME_API_DIR_INSIDE = '/run/rapi';
export const RUNTIME_API_PORT_INSIDE = 9001;

/** A top-level entry of the host's root that programs expect (/lib, /bin… on merged-/usr systems, symlinks). */
export type HostRootEntry = { name: string; kind: 'symlink'; target: string } | { name: string; kind: 'dir' };

export interface BubblewrapArgsInput {
  hostname: string;
  hostRoot: readonly HostRootEntry[];
  etcDir: string;
  codeDir: string;
  optDir?: string;
  runtimeDir?: string;
  /** Host path of the Runtime API socket; its directory is bound at /run/rapi. */
  runtimeApiSocket?: string;
  tmpBytes: number;
  /** Absolute paths, as seen inside, of the programs the supervisor runs (the command's PATH is not ours). */
  programsInside: { socat: string; sleep: string };
  env: Readonly<Record<string, string>>;
  command: readonly string[];
}

/** bwrap's arguments (after the program name): namespaces, mounts, environment, then the supervisor and command. */
export function bubblewrapArgs(input: BubblewrapArgsInput): string[] {
  const args = [
    ...['--unshare-user', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try', '--unshare-net'],
    ...['--uid', String(SANDBOX_UID), '--gid', String(SANDBOX_GID), '--hostname', input.hostname],
    ...['--ro-bind', '/usr', '/usr'],
  ];
  for (const entry of input.hostRoot) {
    const target = `/${entry.name}`;
    args.push(...(entry.kind === 'symlink' ? ['--symlink', entry.target, target] : ['--ro-bind', target, target]));
  }
  // Explicit directories get mode 0755; ones bwrap creates implicitly for a mount point would be 0700.
  args.push('--dir', '/etc', '--dir', '/etc/ssl', '--dir', '/var', '--dir', '/run');
  for (const name of SANDBOX_ETC_FILES) args.push('--ro-bind', path.join(input.etcDir, name), `/etc/${name}`);
  args.push(
    ...['--symlink', '/usr/share/zoneinfo/UTC', '/etc/localtime'],
    ...['--ro-bind-try', '/etc/ssl/certs', '/etc/ssl/certs'],
    // Debian's /usr/bin/awk, pager and friends are symlinks through /etc/alternatives.
    ...['--ro-bind-try', '/etc/alternatives', '/etc/alternatives'],
    ...['--ro-bind', input.codeDir, '/var/task'],
    ...(input.optDir === undefined ? ['--dir', '/opt'] : ['--ro-bind', input.optDir, '/opt']),
    ...(input.runtimeDir === undefined ? [] : ['--ro-bind', input.runtimeDir, '/var/runtime']),
    // Read-only is enough to connect(2) to a socket, and keeps the sandbox from replacing it.
    ...(input.runtimeApiSocket === undefined
      ? []
      : ['--ro-bind', path.dirname(input.runtimeApiSocket), RUNTIME_API_DIR_INSIDE]),
    ...['--perms', '1777', '--size', String(input.tmpBytes), '--tmpfs', '/tmp'],
    ...['--proc', '/proc', '--dev', '/dev'],
    ...['--die-with-parent', '--new-session', '--clearenv'],
  );
  for (const [key, value] of Object.entries(input.env)) args.push('--setenv', key, value);
  args.push('--chdir', '/var/task', '--remount-ro', '/', '--');
  args.push(...supervisorCommand(input));
  return args;
}

/**
 * The sandbox's first process: starts the Runtime API bridge (socat, 127.0.0.1:9001 → the bound Unix socket), waits
 * until it listens (bounded; no long sleeps), restores the exact environment (dash exports PWD on its own), and
 * exec's the command. Values travel as positional arguments, never spliced into the script.
 */
function supervisorCommand(input: BubblewrapArgsInput): string[] {
  const lines: string[] = [];
  const positional: string[] = [];
  if (input.runtimeApiSocket !== undefined) {
    // /proc/net/tcp lists the namespace's sockets: local address 127.0.0.1:9001 in hex, state 0A = LISTEN.
    const listening = `0100007F:${RUNTIME_API_PORT_INSIDE.toString(16).toUpperCase().padStart(4, '0')} 0A`;
    const { socat, sleep } = input.programsInside;
    positional.push(`UNIX-CONNECT:${RUNTIME_API_DIR_INSIDE}/${path.basename(input.runtimeApiSocket)}`);
    lines.push(
      `${socat} TCP-LISTEN:${RUNTIME_API_PORT_INSIDE},bind=127.0.0.1,fork,reuseaddr "$1" & shift`,
      'i=0',
      'while :; do',
      `  while read -r _ local _ state _; do [ "$local $state" = '${listening}' ] && break 2; done < /proc/net/tcp`,
      "  kill -0 $! 2>/dev/null || { echo 'kindling: the Runtime API bridge (socat) exited' >&2; exit 70; }",
      "  i=$((i+1)); [ $i -lt 2500 ] || { echo 'kindling: the Runtime API bridge did not start' >&2; exit 70; }",
      `  ${sleep} 0.002`,
      'done',
    );
  }
  if (input.env.PWD === undefined) {
    lines.push('unset PWD');
  } else {
    positional.push(input.env.PWD);
    lines.push('PWD=$1; export PWD; shift');
  }
  lines.push('exec "$@"');
  return ['/bin/sh', '-c', lines.join('\n'), 'kindling-supervisor', ...positional, ...input.command];
}
