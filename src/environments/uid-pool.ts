import fs from 'node:fs/promises';
import path from 'node:path';
import { SandboxError } from './sandbox.js';

/** Inclusive range of host uids handed to environments; far above the uids distributions give to people. */
export const DEFAULT_UID_RANGE: readonly [number, number] = [200_000, 299_999];

export interface UidPoolOptions {
  /** Inclusive [first, last]; never includes 0. Default DEFAULT_UID_RANGE. */
  range?: readonly [number, number];
  /** Where the search for unused uids starts (offsets instances that share a range, so they rarely pick the same uids). */
  startAt?: number;
  /** The proc filesystem to inspect (tests pass a fake tree). Default /proc. */
  procRoot?: string;
}

/**
 * One unprivileged host uid per environment: a sandbox started as root would write root-owned files to its bind
 * mounts, and a shared uid would share RLIMIT_NPROC and socket permissions.
 *
 * Scanning /proc costs milliseconds (tens under load), so it is not done per allocation. A uid released with the
 * caller's word that no process runs as it any more (destroy() emptied the environment's cgroup) is handed out again
 * first, straight from memory. Only a uid this pool has not handed out since it started (or got back without that
 * word) is checked against a fresh scan first: that skips processes of a crashed earlier run or of another server
 * sharing the range, and happens about as often as the number of environments alive at once reaches a new high.
 */
export class UidPool {
  readonly first: number;
  readonly last: number;
  private readonly procRoot: string;
  private readonly allocated = new Set<number>();
  /** Released uids known to have no process left, oldest release first (a Set iterates in insertion order). */
  private readonly idle = new Set<number>();
  /** Uids some process ran as at the last scan. */
  private busy = new Set<number>();
  /** The scan in flight: concurrent allocations of unused uids share it. */
  private scanning?: Promise<void>;
  private cursor: number;

  constructor(options: UidPoolOptions = {}) {
    const [first, last] = options.range ?? DEFAULT_UID_RANGE;
    if (!Number.isInteger(first) || !Number.isInteger(last) || first < 1 || last < first || last > 0xfffffffe) {
      throw new SandboxError('ERR_SANDBOX_INVALID_SPEC', `invalid uid range ${first}-${last}: need 1 <= first <= last`);
    }
    this.first = first;
    this.last = last;
    this.procRoot = options.procRoot ?? '/proc';
    const size = last - first + 1;
    this.cursor = first + ((((options.startAt ?? 0) % size) + size) % size);
  }

  /** Reserves a uid no other environment holds and no process runs as. */
  async allocate(): Promise<number> {
    const reused = this.takeIdle();
    if (reused !== undefined) return reused;
    await this.scan();
    // Released while the scan ran: known to be free, and cheaper to keep the set of uids in use small.
    return this.takeIdle() ?? this.takeUnused();
  }

  /**
   * Gives a uid back. `processesGone` (default true) is the caller's word that no process runs as it any more, e.g.
   * because the environment's cgroup was emptied; pass false when that could not be made sure, and the uid is
   * checked against /proc again before it is handed out.
   */
  release(uid: number, options: { processesGone?: boolean } = {}): void {
    if (!this.allocated.delete(uid)) return;
    if (options.processesGone ?? true) this.idle.add(uid);
  }

  isAllocated(uid: number): boolean {
    return this.allocated.has(uid);
  }

  private takeIdle(): number | undefined {
    const uid = this.idle.values().next();
    if (uid.done === true) return undefined;
    this.idle.delete(uid.value);
    this.allocated.add(uid.value);
    return uid.value;
  }

  /** The next uid after the cursor that is neither held, idle nor busy at the last scan. */
  private takeUnused(): number {
    const size = this.last - this.first + 1;
    for (let step = 0; step < size; step++) {
      const uid = this.first + ((this.cursor - this.first + step) % size);
      if (this.allocated.has(uid) || this.idle.has(uid) || this.busy.has(uid)) continue;
      this.cursor = uid + 1 > this.last ? this.first : uid + 1;
      this.allocated.add(uid);
      if (uid === 0) throw new Error('assertion failed: uid 0 allocated'); // unreachable while first >= 1
      return uid;
    }
    throw new SandboxError(
      'ERR_SANDBOX_NO_UID',
      `no free uid in ${this.first}-${this.last}: all are allocated or still have running processes`,
    );
  }

  private scan(): Promise<void> {
    this.scanning ??= this.uidsInUse().then(
      (uids) => {
        this.busy = uids;
        this.scanning = undefined;
      },
      (error: unknown) => {
        this.scanning = undefined;
        throw new SandboxError('ERR_SANDBOX_UNAVAILABLE', `cannot list the processes in ${this.procRoot}`, { cause: error });
      },
    );
    return this.scanning;
  }

  /** Real, effective, saved and filesystem uids of every process (Uid: line of /proc/<pid>/status). */
  private async uidsInUse(): Promise<Set<number>> {
    const uids = new Set<number>();
    const pids = (await fs.readdir(this.procRoot)).filter((name) => /^\d+$/.test(name));
    await Promise.all(
      pids.map(async (pid) => {
        let status: string;
        try {
          status = await fs.readFile(path.join(this.procRoot, pid, 'status'), 'utf8');
        } catch {
          return; // exited meanwhile
        }
        const line = /^Uid:\s+(.*)$/m.exec(status)?.[1];
        for (const value of line?.trim().split(/\s+/) ?? []) uids.add(Number(value));
      }),
    );
    return uids;
  }
}
