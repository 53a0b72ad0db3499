/**
 * mount(2) and umount2(2) for the server, which Node cannot call itself. Binding a function's code into a pre-warmed
 * sandbox is on the cold-start path and takes three mount calls; a `mount` process per call costs milliseconds each,
 * so one long-lived helper makes the calls instead: perl (perl-base is Essential on Debian, so it is always there)
 * reading one request per line on stdin (one or more calls, run in order until one fails) and answering `ok` or
 * `err <errno>` per line: a binding is one round trip.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { SandboxError } from '../sandbox.js';

/** mount(2) flags (linux/mount.h). */
export const MS_RDONLY = 1;
export const MS_NOSUID = 2;
export const MS_NODEV = 4;
export const MS_REMOUNT = 32;
export const MS_BIND = 4096;
export const MS_MOVE = 8192;
export const MS_REC = 16384;
export const MS_PRIVATE = 1 << 18;
export const MS_SHARED = 1 << 20;
/** umount2(2) flag: detach now, release when no longer busy. */
export const MNT_DETACH = 2;

/** System call numbers per Node architecture: [mount, umount2]. */
const SYSCALLS: Partial<Record<NodeJS.Architecture, readonly [number, number]>> = {
  x64: [165, 166],
  arm64: [40, 39],
};

/** One system call: mount(source, target, NULL, flags, NULL) (source '' = NULL) or umount2(target, flags). */
export type MountCall = { op: 'mount'; source: string; target: string; flags: number } | { op: 'umount'; target: string; flags: number };

// Fields travel tab-separated, calls separated by \x1e; the server never mounts paths holding a tab, \x1e, newline or
// NUL (its own directories and the code cache's digest-named trees), and refuses to send one.
const HELPER_SCRIPT = `
use strict; $| = 1;
my ($mount, $umount) = @ARGV;
while (my $line = <STDIN>) {
  chomp $line;
  my $r = 0;
  for my $call (split /\\x1e/, $line) {
    my ($op, @a) = split /\\t/, $call, -1;
    if ($op eq 'mount' && @a == 3) { $r = syscall($mount + 0, $a[0] eq '' ? 0 : $a[0], $a[1], 0, $a[2] + 0, 0); }
    elsif ($op eq 'umount' && @a == 2) { $r = syscall($umount + 0, $a[0], $a[1] + 0); }
    else { $r = -1; $! = 22; }
    last if $r != 0;
  }
  print $r == 0 ? "ok\\n" : "err " . ($! + 0) . "\\n";
}
`;

interface Pending {
  resolve(): void;
  reject(error: Error): void;
  what: string;
}

export class Mounter {
  #child: ChildProcessWithoutNullStreams | undefined;
  readonly #pending: Pending[] = [];
  #closed = false;

  /** Whether this machine's architecture is supported (otherwise every call fails). */
  static get supported(): boolean {
    return SYSCALLS[process.arch] !== undefined;
  }

  /** mount(source, target, NULL, flags, NULL); source '' means NULL (remounts, propagation changes). */
  mount(source: string, target: string, flags: number): Promise<void> {
    return this.run([{ op: 'mount', source, target, flags }]);
  }

  umount(target: string, flags = 0): Promise<void> {
    return this.run([{ op: 'umount', target, flags }]);
  }

  /** The calls in order, in one round trip; stops at the first that fails (and rejects with its errno). */
  run(calls: readonly MountCall[]): Promise<void> {
    const fields = calls.map((c) => (c.op === 'mount' ? ['mount', c.source, c.target, String(c.flags)] : ['umount', c.target, String(c.flags)]));
    const what = calls.map((c) => (c.op === 'mount' ? `mount ${c.source || '-'} on ${c.target} (flags ${c.flags})` : `umount ${c.target}`)).join(', ');
    return this.#call(fields, what);
  }

  /** Ends the helper; pending calls fail. */
  close(): void {
    this.#closed = true;
    this.#child?.stdin.end();
    this.#child = undefined;
  }

  #call(calls: string[][], what: string): Promise<void> {
    if (this.#closed) return Promise.reject(new SandboxError('ERR_SANDBOX_CLOSED', `${what}: the mount helper is closed`));
    if (calls.some((fields) => fields.some((field) => /[\t\n\0\x1e]/.test(field)))) {
      return Promise.reject(new SandboxError('ERR_SANDBOX_INVALID_SPEC', `${what}: a path contains a tab, newline, \\x1e or NUL`));
    }
    const child = this.#ensure();
    this.#hold(child, true);
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({ resolve, reject, what });
      child.stdin.write(`${calls.map((fields) => fields.join('\t')).join('\x1e')}\n`);
    });
  }

  #ensure(): ChildProcessWithoutNullStreams {
    if (this.#child) return this.#child;
    const numbers = SYSCALLS[process.arch];
    if (!numbers) throw new SandboxError('ERR_SANDBOX_UNAVAILABLE', `mounting from the server is not supported on ${process.arch}`);
    const child = spawn('perl', ['-e', HELPER_SCRIPT, String(numbers[0]), String(numbers[1])], {
      env: { PATH: '/usr/bin:/bin' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.stdin.on('error', () => {}); // a dead helper is reported through 'exit'
    child.stderr.resume();
    createInterface({ input: child.stdout }).on('line', (line) => {
      const call = this.#pending.shift();
      if (this.#pending.length === 0) this.#hold(child, false);
      if (!call) return;
      if (line === 'ok') call.resolve();
      else call.reject(new SandboxError('ERR_SANDBOX_MOUNT', `${call.what} failed: errno ${line.slice(4)}`));
    });
    const fail = (reason: string): void => {
      if (this.#child === child) this.#child = undefined;
      for (const call of this.#pending.splice(0)) call.reject(new SandboxError('ERR_SANDBOX_MOUNT', `${call.what}: ${reason}`));
    };
    child.on('error', (error) => fail(`the mount helper (perl) could not run: ${error.message}`));
    child.on('exit', (code, signal) => fail(`the mount helper exited (${code ?? signal})`));
    this.#hold(child, false);
    this.#child = child;
    return child;
  }

  /** An idle helper does not keep the process alive; one with calls pending does (their answers are awaited). */
  #hold(child: ChildProcessWithoutNullStreams, held: boolean): void {
    for (const handle of [child, child.stdin, child.stdout, child.stderr] as unknown as { ref?(): void; unref?(): void }[]) {
      if (held) handle.ref?.();
      else handle.unref?.();
    }
  }
}
