import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import fs from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { setImmediate as nextTurn, setTimeout as delay } from 'node:timers/promises';
import { SandboxError } from '../sandbox.js';

export interface CgroupFsOptions {
  /**
   * How a cgroup directory is removed. The kernel removes a cgroup with rmdir(2) although it lists files; a fake
   * cgroupfs (a plain directory tree in tests) needs a recursive removal instead.
   */
  removeDir?: (dir: string) => Promise<void>;
  /** How long to wait for the kernel (frozen state, emptied cgroup, released directory). Default 5 s. */
  settleTimeoutMs?: number;
}

/** How long settle() re-checks on event-loop turns before it falls back to timers. */
const SPIN_MS = 2;

/** Reads and writes of cgroupfs files with the errors, retries and waits both drivers need. */
export class CgroupFs {
  readonly settleTimeoutMs: number;
  private readonly removeDirImpl: (dir: string) => Promise<void>;
  /** For readKept: cgroup files on the hot path hold a word or a number. */
  private readonly buffer = Buffer.alloc(256);

  constructor(options: CgroupFsOptions = {}) {
    this.settleTimeoutMs = options.settleTimeoutMs ?? 5000;
    this.removeDirImpl = options.removeDir ?? ((dir) => fs.rmdir(dir));
  }

  async write(file: string, value: string): Promise<void> {
    try {
      await fs.writeFile(file, value);
    } catch (error) {
      throw new SandboxError('ERR_SANDBOX_CGROUP', `cannot write '${value}' to ${file}`, { cause: error });
    }
  }

  async read(file: string): Promise<string> {
    try {
      return await fs.readFile(file, 'utf8');
    } catch (error) {
      throw new SandboxError('ERR_SANDBOX_CGROUP', `cannot read ${file}`, { cause: error });
    }
  }

  async readInt(file: string): Promise<number> {
    const text = (await this.read(file)).trim();
    const value = Number(text);
    if (!Number.isFinite(value)) throw new SandboxError('ERR_SANDBOX_CGROUP', `${file} holds '${text}', not a number`);
    return value;
  }

  /** The value of `key` in a flat keyed file (`oom_kill 3`, `frozen 1`, `usage_usec 42`); undefined when absent. */
  async readKeyed(file: string, key: string): Promise<number | undefined> {
    for (const line of (await this.read(file)).split('\n')) {
      const [name, value] = line.trim().split(/\s+/);
      if (name === key && value !== undefined) return Number(value);
    }
    return undefined;
  }

  async exists(file: string): Promise<boolean> {
    try {
      await fs.access(file);
      return true;
    } catch {
      return false;
    }
  }

  /** Pids listed in a cgroup.procs file; an already removed cgroup has none. */
  async readPids(file: string): Promise<number[]> {
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new SandboxError('ERR_SANDBOX_CGROUP', `cannot read ${file}`, { cause: error });
    }
    return text
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map(Number);
  }

  async makeDir(dir: string, options: { exclusive: boolean }): Promise<void> {
    try {
      await fs.mkdir(dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST' && !options.exclusive) return;
      throw new SandboxError('ERR_SANDBOX_CGROUP', `cannot create cgroup ${dir}`, { cause: error });
    }
  }

  /** Removes a cgroup directory; an absent one is fine. The kernel may report EBUSY for a moment after the last exit. */
  async removeDir(dir: string): Promise<void> {
    const deadline = Date.now() + this.settleTimeoutMs;
    for (let wait = 1; ; wait = Math.min(wait * 2, 50)) {
      try {
        await this.removeDirImpl(dir);
        return;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') return;
        if (code !== 'EBUSY' || Date.now() > deadline) {
          throw new SandboxError('ERR_SANDBOX_CGROUP', `cannot remove cgroup ${dir}`, { cause: error });
        }
      }
      await delay(wait);
    }
  }

  /**
   * Opens a cgroupfs file to keep for readKept/writeKept. On a kept descriptor a small cgroup file answers a sync
   * pread/pwrite in about 5 µs, where an async readFile/writeFile costs about 160 µs of thread-pool round trips. Only
   * for files whose kernel handlers never block for long (freezer.state, usage counters): the call holds the event loop.
   */
  openKept(file: string, flags: 'r' | 'r+'): number {
    try {
      return openSync(file, flags);
    } catch (error) {
      throw new SandboxError('ERR_SANDBOX_CGROUP', `cannot open ${file}`, { cause: error });
    }
  }

  /** One write(2) at offset 0: a cgroup file takes its value in a single write. */
  writeKept(fd: number, file: string, value: string): void {
    try {
      writeSync(fd, value, 0);
    } catch (error) {
      throw new SandboxError('ERR_SANDBOX_CGROUP', `cannot write '${value}' to ${file}`, { cause: error });
    }
  }

  /** The whole file, read from offset 0 (which makes the kernel generate it afresh). */
  readKept(fd: number, file: string): string {
    let text = '';
    try {
      for (let position = 0; ; ) {
        const bytes = readSync(fd, this.buffer, 0, this.buffer.length, position);
        text += this.buffer.toString('latin1', 0, bytes);
        if (bytes < this.buffer.length) return text;
        position += bytes;
      }
    } catch (error) {
      throw new SandboxError('ERR_SANDBOX_CGROUP', `cannot read ${file}`, { cause: error });
    }
  }

  closeKept(fd: number): void {
    try {
      closeSync(fd);
    } catch {
      // already closed: nothing is left to release
    }
  }

  /**
   * Waits until a sync `check` holds. The kernel usually settles within microseconds, so the first checks run on the
   * next turns of the event loop (a timer's millisecond granularity would dominate); after SPIN_MS they back off on
   * timers, then with `slow` set so that the check may nudge the kernel again.
   */
  async settle(check: (slow: boolean) => boolean, what: string): Promise<void> {
    const spinUntil = performance.now() + SPIN_MS;
    while (!check(false)) {
      if (performance.now() > spinUntil) return this.waitUntil(async () => check(true), what);
      await nextTurn();
    }
  }

  /** Polls the kernel's state until `check` holds (freezing and emptying are asynchronous and have no event here). */
  async waitUntil(check: () => Promise<boolean>, what: string): Promise<void> {
    const deadline = Date.now() + this.settleTimeoutMs;
    for (let wait = 1; !(await check()); wait = Math.min(wait * 2, 20)) {
      if (Date.now() > deadline) throw new SandboxError('ERR_SANDBOX_CGROUP', `timed out waiting until ${what}`);
      await delay(wait);
    }
  }
}

/** SIGKILL to each pid; one that already exited is fine. */
export function killPids(pids: readonly number[]): void {
  for (const pid of pids) {
    if (pid <= 1) continue; // never signal init or a process group by accident
    try {
      process.kill(pid, 'SIGKILL');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }
}
