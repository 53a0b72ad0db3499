import path from 'node:path';
import { RUNTIME_API_DIR_INSIDE, runtimeApiSocketInside } from '../sandbox.js';
import { SANDBOX_ETC_FILES, SANDBOX_GID, SANDBOX_UID } from './sandbox-etc.js';

/** The loopback port inside on which socat serves the Runtime API socket. */
export const RUNTIME_API_PORT_INSIDE = 9001;
/** How long the supervisor waits for socat to listen, in /proc/uptime's centiseconds. */
const BRIDGE_START_LIMIT_CS = 500;
/** Set for a command started while socat is still starting ('background'); the bootstraps read and remove it. */
export const AWAIT_BRIDGE_VARIABLE = '_KINDLING_AWAIT_BRIDGE';

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
  /** See SandboxSpec.runtimeApiBridge. Default 'wait'. */
  runtimeApiBridge?: 'wait' | 'background';
  tmpBytes: number;
  /**
   * Absolute paths, as seen inside, of the programs the supervisor runs (the command's PATH is not ours). `sleep` is
   * no longer run (the wait for socat uses shell builtins only) and is accepted for callers that still pass it.
   */
  programsInside: { socat: string; sleep?: string };
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
  // socat starts beside the command: tell it (our bootstraps) to wait for the bridge before the first invocation.
  if (input.runtimeApiSocket !== undefined && input.runtimeApiBridge === 'background') args.push('--setenv', AWAIT_BRIDGE_VARIABLE, '1');
  args.push('--chdir', '/var/task', '--remount-ro', '/', '--');
  args.push(...supervisorCommand(input));
  return args;
}

/**
 * The sandbox's first process: starts the Runtime API bridge (socat, 127.0.0.1:9001 → the bound Unix socket), with
 * runtimeApiBridge 'wait' waits until it listens (bounded), restores the exact environment (dash exports PWD on its
 * own), and exec's the command. Values travel as positional arguments, never spliced into the script.
 *
 * The wait forks nothing per poll (a `sleep` process costs milliseconds, tens under load): it re-reads
 * /proc/net/tcp with the `read` builtin, and bounds itself with /proc/uptime. Its variables start with _kindling_
 * because the command inherits the shell's exported variables, which spec.env (bwrap --setenv) makes all of them.
 */
function supervisorCommand(input: BubblewrapArgsInput): string[] {
  const lines: string[] = [];
  const positional: string[] = [];
  if (input.runtimeApiSocket !== undefined) {
    positional.push(`UNIX-CONNECT:${runtimeApiSocketInside(input.runtimeApiSocket)}`);
    lines.push(`${input.programsInside.socat} TCP-LISTEN:${RUNTIME_API_PORT_INSIDE},bind=127.0.0.1,fork,reuseaddr "$1" & shift`);
    if (input.runtimeApiBridge !== 'background') lines.push(...waitForBridge());
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

/** Spins on builtins until socat (pid $!) listens on 127.0.0.1:9001; exits 70 if it dies or takes too long. */
function waitForBridge(): string[] {
  // /proc/net/tcp lists the namespace's sockets: local address 127.0.0.1:9001 in hex, state 0A = LISTEN.
  const listening = `0100007F:${RUNTIME_API_PORT_INSIDE.toString(16).toUpperCase().padStart(4, '0')} 0A`;
  // /proc/uptime's first field always has two decimals; '1' before them keeps a leading 0 from reading as octal.
  const centiseconds = '${_kindling_t%.*} * 100 + 1${_kindling_t#*.} - 100';
  return [
    'read -r _kindling_t _kindling_x < /proc/uptime',
    `_kindling_limit=$((${centiseconds} + ${BRIDGE_START_LIMIT_CS}))`,
    'while :; do',
    `  while read -r _kindling_x _kindling_local _kindling_x _kindling_state _kindling_x; do [ "$_kindling_local $_kindling_state" = '${listening}' ] && break 2; done < /proc/net/tcp`,
    "  kill -0 $! 2>/dev/null || { echo 'kindling: the Runtime API bridge (socat) exited' >&2; exit 70; }",
    '  read -r _kindling_t _kindling_x < /proc/uptime',
    `  [ $((${centiseconds})) -lt "$_kindling_limit" ] || { echo 'kindling: the Runtime API bridge did not start within 5 s' >&2; exit 70; }`,
    'done',
    'unset _kindling_t _kindling_x _kindling_local _kindling_state _kindling_limit',
  ];
}
