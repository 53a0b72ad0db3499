import fs from 'node:fs/promises';
import path from 'node:path';
import { SandboxError } from './sandbox.js';

/** Inclusive range of host uids handed to environments; far above the uids distributions give to people. */
export const DEFAULT_UID_RANGE: readonly [number, number] = [200_000, 299_999];

export interface UidPoolOptions {
  /** Inclusive [first, last]; never includes 0. Default DEFAULT_UID_RANGE. */
  range?: readonly [number, number];
  /** Where the search starts (offsets instances that share a range, so they rarely pick the same uids). */
  startAt?: number;
  /** The proc filesystem to inspect (tests pass a fake tree). Default /proc. */
  procRoot?: string;
}

/**
 * One unprivileged host uid per environment: a sandbox started as root would write root-owned files to its bind
 * mounts, and a shared uid would share RLIMIT_NPROC and socket permissions. A uid is handed out only while no
 * process runs as it, so a released uid with a straggling process (or one of a crashed earlier run) is skipped.
 */
export class UidPool {
  readonly first: number;
  readonly last: number;
  private readonly procRoot: string;
  private readonly allocated = new Set<number>();
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
    const busy = await this.uidsInUse();
    const size = this.last - this.first + 1;
    for (let step = 0; step < size; step++) {
      const uid = this.first + ((this.cursor - this.first + step) % size);
      if (this.allocated.has(uid) || busy.has(uid)) continue;
      // Round robin: the next search starts after this uid, so a just-released uid is the last to come back.
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

  release(uid: number): void {
    this.allocated.delete(uid);
  }

  isAllocated(uid: number): boolean {
    return this.allocated.has(uid);
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
