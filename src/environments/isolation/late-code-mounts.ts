/**
 * Code bound into a sandbox that is already running (pre-warmed sandboxes; ARCHITECTURE.md "Cold starts"), by mount
 * propagation. `<root>/_mnt` is a bind mount of itself made shared; a late-bound sandbox gets `/var/task` and `/opt`
 * as binds of its own `_mnt/<id>/task` and `_mnt/<id>/opt` (bwrap makes its copy of the host's mounts a slave, so
 * mounts made there later on the host appear inside). Binding the function's code: bind it at a private staging
 * point, remount that read-only, and move it onto `_mnt/<id>/task`; what propagates is then read-only from the first
 * moment (a bind made read-only after it propagated stays writable in the copies), and locked that way inside the
 * sandbox's user namespace.
 *
 * Isolation: `_mnt` and `_stage` are root's (0711 and 0700); each `_mnt/<id>` is 0700 and owned by that sandbox's
 * uid, which bwrap needs to reach its binds; a sandbox's copies only show what is under its own `<id>` directory.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { MNT_DETACH, MS_BIND, MS_MOVE, MS_PRIVATE, MS_NODEV, MS_NOSUID, MS_RDONLY, MS_REMOUNT, MS_SHARED, type MountCall, type Mounter } from './mounter.js';

export const LATE_MOUNT_DIR = '_mnt';
export const STAGE_DIR = '_stage';

export class LateCodeMounts {
  readonly mountRoot: string;
  readonly stageRoot: string;
  readonly #mounter: Mounter;
  #prepared: Promise<void> | undefined;

  /** @param root the sandbox instance's root-owned directory (the socket root, 0711). */
  constructor(root: string, mounter: Mounter) {
    this.mountRoot = path.join(root, LATE_MOUNT_DIR);
    this.stageRoot = path.join(root, STAGE_DIR);
    this.#mounter = mounter;
  }

  /** The host paths bwrap binds at /var/task and /opt for sandbox `id`. */
  slot(id: string): { taskDir: string; optDir: string } {
    return { taskDir: path.join(this.mountRoot, id, 'task'), optDir: path.join(this.mountRoot, id, 'opt') };
  }

  /** Creates the sandbox's empty mount points, reachable only by its uid. */
  async createSlot(id: string, uid: number): Promise<{ taskDir: string; optDir: string }> {
    await this.#prepare();
    const dir = path.join(this.mountRoot, id);
    await fs.mkdir(dir, { mode: 0o700 });
    const slot = this.slot(id);
    await fs.mkdir(slot.taskDir, { mode: 0o755 });
    await fs.mkdir(slot.optDir, { mode: 0o755 });
    // The staging points too, off the cold-start path.
    await fs.mkdir(path.join(this.stageRoot, `${id}-task`), { mode: 0o700 });
    await fs.mkdir(path.join(this.stageRoot, `${id}-opt`), { mode: 0o700 });
    await fs.chown(dir, uid, uid);
    return slot;
  }

  /** Binds codeDir (and optDir) read-only at the sandbox's /var/task (and /opt) while it runs: one helper round trip. */
  async bind(id: string, code: { codeDir: string; optDir?: string }): Promise<void> {
    const slot = this.slot(id);
    const calls = this.#readOnlyBind(id, 'task', code.codeDir, slot.taskDir);
    if (code.optDir !== undefined) calls.push(...this.#readOnlyBind(id, 'opt', code.optDir, slot.optDir));
    try {
      await this.#mounter.run(calls);
    } catch (error) {
      await this.#unmountUnder([path.join(this.stageRoot, `${id}-`)]);
      throw error;
    }
  }

  /** Unmounts and removes the sandbox's mount points (after its processes are gone). */
  async removeSlot(id: string): Promise<void> {
    await this.#unmountUnder([path.join(this.mountRoot, id), path.join(this.stageRoot, `${id}-`)]);
    await rmdirs([
      path.join(this.mountRoot, id, 'task'),
      path.join(this.mountRoot, id, 'opt'),
      path.join(this.mountRoot, id),
      path.join(this.stageRoot, `${id}-task`),
      path.join(this.stageRoot, `${id}-opt`),
    ]);
  }

  /** Every slot but those of `keep`: unmounted and removed (a crash left them). Returns the ids removed. */
  async reapStale(keep: ReadonlySet<string>): Promise<string[]> {
    const ids = new Set<string>();
    for (const mountPoint of await mountPointsUnder([this.mountRoot, this.stageRoot])) {
      const rel = path.relative(this.mountRoot, mountPoint);
      const id = rel.startsWith('..') ? path.basename(mountPoint).replace(/-(task|opt)$/, '') : rel.split(path.sep)[0];
      if (id && id !== '' && !keep.has(id)) ids.add(id);
    }
    for (const name of await fs.readdir(this.mountRoot).catch(() => [] as string[])) if (!keep.has(name)) ids.add(name);
    for (const id of ids) await this.removeSlot(id);
    return [...ids];
  }

  /** Unmounts everything under the roots and the roots themselves, then removes them. Nothing is removed while mounted. */
  async close(): Promise<void> {
    this.#prepared = undefined;
    await this.#unmountUnder([this.mountRoot, this.stageRoot], true);
    if ((await mountPointsUnder([this.mountRoot, this.stageRoot], true)).length > 0) return; // never rm through a mount
    await fs.rm(this.mountRoot, { recursive: true, force: true });
    await fs.rm(this.stageRoot, { recursive: true, force: true });
  }

  /** Once: `_mnt` a shared bind of itself, `_stage` a private one (a move out of a shared mount is refused). */
  #prepare(): Promise<void> {
    this.#prepared ??= (async () => {
      const mounted = new Set(await mountPointsUnder([this.mountRoot, this.stageRoot], true));
      for (const [dir, mode, propagation] of [
        [this.mountRoot, 0o711, MS_SHARED],
        [this.stageRoot, 0o700, MS_PRIVATE],
      ] as const) {
        await fs.mkdir(dir, { recursive: true, mode });
        await fs.chmod(dir, mode);
        if (!mounted.has(dir)) await this.#mounter.mount(dir, dir, MS_BIND);
        await this.#mounter.mount('', dir, propagation);
      }
    })();
    this.#prepared.catch(() => {
      this.#prepared = undefined;
    });
    return this.#prepared;
  }

  /** Bind at the staging point, make that read-only, move it onto the propagating target. */
  #readOnlyBind(id: string, what: 'task' | 'opt', source: string, target: string): MountCall[] {
    const stage = path.join(this.stageRoot, `${id}-${what}`);
    return [
      { op: 'mount', source, target: stage, flags: MS_BIND },
      // As bwrap's --ro-bind on the cold path: read-only, and neither set-uid bits nor device files take effect.
      { op: 'mount', source: '', target: stage, flags: MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV },
      { op: 'mount', source: stage, target, flags: MS_MOVE },
    ];
  }

  /** Detaches every mount whose mount point starts with one of the prefixes, deepest first. */
  async #unmountUnder(prefixes: readonly string[], includeRoots = false): Promise<void> {
    const points = await mountPointsUnder(prefixes, includeRoots);
    for (const point of points.sort((a, b) => b.length - a.length)) {
      await this.#mounter.umount(point, MNT_DETACH).catch(() => {});
    }
  }
}

/**
 * Mount points (this mount namespace) under the given prefixes: `<prefix>/…`, or for a prefix such as `<dir>/<id>-`
 * any name starting with it; the prefixes themselves too when includeRoots. Several entries for one path are kept
 * (stacked mounts each need an unmount).
 */
export async function mountPointsUnder(prefixes: readonly string[], includeRoots = false): Promise<string[]> {
  const text = await fs.readFile('/proc/self/mountinfo', 'utf8');
  const found: string[] = [];
  for (const line of text.split('\n')) {
    const field = line.split(' ')[4];
    if (field === undefined) continue;
    const point = field.replace(/\\([0-7]{3})/g, (_m, octal: string) => String.fromCharCode(parseInt(octal, 8)));
    for (const prefix of prefixes) {
      const under = prefix.endsWith('-') ? point.startsWith(prefix) : point.startsWith(`${prefix}/`);
      if (under || (includeRoots && point === prefix)) {
        found.push(point);
        break;
      }
    }
  }
  return found;
}

async function rmdirs(dirs: readonly string[]): Promise<void> {
  for (const dir of dirs) await fs.rmdir(dir).catch(() => {});
}
