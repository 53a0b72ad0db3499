/**
 * Late binding (pre-warmed sandboxes): a sandbox started without code gets it bound at /var/task and /opt while it
 * runs, read-only from the first moment, seen by no other sandbox; destroy, close and reapStale leave no mount.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { BubblewrapSandbox } from '../../../src/environments/isolation/bubblewrap.js';
import { mountPointsUnder } from '../../../src/environments/isolation/late-code-mounts.js';
import { UidPool } from '../../../src/environments/uid-pool.js';
import { bwrapTest, LIMITS, makeWorld, sh, type World } from './bubblewrap-sandbox-world.js';

/** The world's instance with late binding on (same instance id, so close/reap of the world's sandbox covers it). */
function lateSandbox(t: TestContext, world: World): BubblewrapSandbox {
  const sandbox = new BubblewrapSandbox({ instanceId: world.instanceId, cgroups: world.cgroups, uids: world.uids, lateBinding: true });
  t.after(() => sandbox.close());
  return sandbox;
}

/** A shell that reports what it sees each time the host writes to its /tmp/<marker> (created empty at start). */
function probe(marker: string): string[] {
  return sh(`: > /tmp/${marker}
while :; do
  while [ ! -s /tmp/${marker} ]; do sleep 0.01; done; : > /tmp/${marker}
  echo "task: $(ls /var/task) opt: $(ls /opt)"
  echo x 2>/dev/null > /var/task/new && echo writable || echo read-only
done`);
}

async function waitForMarker(marker: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    for (const name of await fs.readdir('/proc')) {
      if (/^\d+$/.test(name) && (await fs.stat(`/proc/${name}/root/tmp/${marker}`).then(() => true, () => false))) return;
    }
    assert.ok(Date.now() < deadline, `no sandbox created /tmp/${marker}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The options of the top mount at `point` as the sandbox that created /tmp/<marker> sees it (its mountinfo). */
async function mountOptionsInside(marker: string, point: string): Promise<string[]> {
  for (const name of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(name) || !(await fs.stat(`/proc/${name}/root/tmp/${marker}`).then(() => true, () => false))) continue;
    const lines = (await fs.readFile(`/proc/${name}/mountinfo`, 'utf8')).split('\n').filter((line) => line.split(' ')[4] === point);
    const top = lines[lines.length - 1];
    assert.ok(top, `no mount at ${point} inside`);
    return top.split(' ')[5]!.split(',');
  }
  return assert.fail(`no sandbox has /tmp/${marker}`);
}

/** Writes the marker file of the sandbox that created it, through /proc/<pid>/root (host processes have none). */
async function poke(marker: string): Promise<void> {
  for (const name of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const file = `/proc/${name}/root/tmp/${marker}`;
    if (await fs.stat(file).then(() => true, () => false)) return fs.writeFile(file, 'go\n');
  }
  assert.fail(`no sandbox has /tmp/${marker}`);
}

bwrapTest('code bound into a running sandbox appears read-only at /var/task and /opt, and its mounts go with it', async (t) => {
  const world = await makeWorld(t);
  const sandbox = lateSandbox(t, world);
  const optDir = await fs.mkdtemp(path.join(os.tmpdir(), 'kindling-bwrap-opt-'));
  t.after(() => fs.rm(optDir, { recursive: true, force: true }));
  await fs.chmod(optDir, 0o755);
  await fs.writeFile(path.join(optDir, 'layer.txt'), 'layer\n');
  const marker = `go-${randomBytes(4).toString('hex')}`;
  const started = await world.start({ id: 'late-1', codeDir: undefined, command: probe(marker), limits: LIMITS }, sandbox);
  const { environment } = started;
  assert.ok(environment.bindCode, 'a late-bound process can bind its code');
  await waitForMarker(marker);
  await poke(marker);
  assert.equal(await started.waitForStdout(/only\n/), 'task:  opt: \nread-only\n', 'empty and read-only before binding');

  const otherMarker = `go-${randomBytes(4).toString('hex')}`;
  const other = await world.start({ id: 'late-other', codeDir: undefined, command: probe(otherMarker), limits: LIMITS }, sandbox);
  await waitForMarker(otherMarker);

  await environment.bindCode({ codeDir: world.codeDir, optDir });
  await poke(marker);
  const seen = await started.waitForStdout(/only\n.*\n.*only\n/s);
  assert.equal(seen.split('\n').slice(2).join('\n'), 'task: index.js opt: layer.txt\nread-only\n');
  for (const point of ['/var/task', '/opt']) {
    const options = await mountOptionsInside(marker, point);
    for (const flag of ['ro', 'nosuid', 'nodev']) assert.ok(options.includes(flag), `${point} is mounted ${options.join(',')}: ${flag} missing`);
  }
  await poke(otherMarker);
  assert.equal(await other.waitForStdout(/only\n/), 'task:  opt: \nread-only\n', 'another sandbox does not see the binding');
  await other.environment.destroy();
  await assert.rejects(environment.bindCode({ codeDir: world.codeDir }), 'once only');

  const slot = path.join(sandbox.socketRoot, '_mnt', 'late-1');
  assert.equal((await mountPointsUnder([slot])).length, 2, 'task and opt are mounted on the host side');
  assert.equal((await fs.stat(slot)).mode & 0o777, 0o700, 'only the sandbox\'s uid reaches its mount points');
  assert.equal((await fs.stat(path.join(sandbox.socketRoot, '_mnt'))).mode & 0o777, 0o711);
  await environment.destroy();
  assert.deepEqual(await mountPointsUnder([slot, path.join(sandbox.socketRoot, '_stage')]), []);
  await sandbox.close();
  assert.deepEqual(await mountPointsUnder([sandbox.socketRoot], true), [], 'close unmounts the shared and staging roots');
});

bwrapTest('reapStale unmounts and removes the mount points a crashed server left, never the code bound there', async (t) => {
  const world = await makeWorld(t);
  const first = lateSandbox(t, world);
  const started = await world.start({ id: 'late-2', codeDir: undefined, command: sh('sleep 30'), limits: LIMITS }, first);
  await started.environment.bindCode!({ codeDir: world.codeDir });
  // A crash: the server is gone without destroying anything; its processes die with it (here: killed by hand).
  process.kill(started.environment.pid, 'SIGKILL');
  await started.environment.exited;
  const slot = path.join(first.socketRoot, '_mnt', 'late-2');
  assert.equal((await mountPointsUnder([slot])).length, 1);

  const restarted = new BubblewrapSandbox({ instanceId: world.instanceId, cgroups: world.cgroups, uids: new UidPool({ startAt: randomBytes(4).readUInt32BE() }), lateBinding: true });
  t.after(() => restarted.close());
  assert.ok((await restarted.reapStale()) >= 1);
  assert.deepEqual(await mountPointsUnder([slot]), []);
  await assert.rejects(fs.stat(slot), 'the slot is removed');
  assert.deepEqual(await fs.readdir(world.codeDir), ['index.js'], 'the code bound there is untouched');
  await started.environment.destroy();
});

bwrapTest('a sandbox without late binding refuses a spec without code', async (t) => {
  const world = await makeWorld(t);
  await assert.rejects(world.start({ id: 'late-3', codeDir: undefined }), /cannot bind code later/);
});
