/**
 * Nothing of an execution environment outlives it: after a timeout, a crash, an idle reclaim, a server close, and a
 * kill -9 of the server followed by a restart on the same data directory, the host has no cgroup, mount, process
 * (by cgroup or by the host uid the environment ran as) or Runtime API socket directory of it left. The host's
 * kernel files are read directly; nothing is asked of the server.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { startWorld } from '../compat/fixtures.js';
import { deploy, invoke } from '../compat/invoke-support.js';
import {
  assertGone,
  atGate,
  entriesOf,
  existingCgroups,
  forceCleanInstance,
  GATE_SOURCE,
  gatedEnvironment,
  instanceCgroupDirs,
  instanceOf,
  isClean,
  mountsMentioning,
  openGate,
  remainsOf,
  socketEnvironments,
  startChildServer,
  stopGracefully,
  uidsOfEnvironment,
  waitFor,
  type ChildServer,
  type Instance,
} from './isolation-support.js';

const TEST_TIMEOUT_MS = 60_000;
/** A gated handler: `{ then: 'crash' }` kills its own runtime once let through, otherwise it answers. */
const GATED = {
  'index.mjs': `import fs from 'node:fs';
${GATE_SOURCE}
export const handler = async (event) => {
  const passed = await gate(event.holdMs ?? 20000);
  if (event.then === 'crash') process.kill(process.pid, 'SIGKILL');
  return { passed };
};
`,
};

interface Seen {
  envId: string;
  uids: number[];
}

/**
 * Starts an invocation of a gated function and finds its environment (started for it, or pre-warmed) and host uids
 * while it waits at the gate; `busy` lists environments already held at a gate.
 */
async function holdInvocation(client: Parameters<typeof invoke>[0], instance: Instance, name: string, event: object, busy: readonly string[] = []) {
  const pending = invoke(client, name, event);
  const envId = await gatedEnvironment(instance, busy);
  // At the gate, not before: the wrapper that joins the cgroups runs as root until it exec's setpriv.
  await atGate(instance, envId);
  const uids = await uidsOfEnvironment(instance, envId);
  return { pending, seen: { envId, uids } satisfies Seen };
}

test('an environment that times out leaves nothing behind', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const { client, server } = await startWorld(t);
  const instance = instanceOf(server.dataDir);
  await deploy(client, 'stuck', GATED, { Timeout: 1 });
  const { pending, seen } = await holdInvocation(client, instance, 'stuck', { holdMs: 60_000 });
  const parents = await instanceCgroupDirs(process.pid, instance);
  const out = await pending;
  assert.equal((out.json as { errorType: string }).errorType, 'Sandbox.Timedout');
  await assertGone(instance, parents, seen.envId, seen.uids);
});

test('an environment whose runtime crashes leaves nothing behind', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const { client, server } = await startWorld(t);
  const instance = instanceOf(server.dataDir);
  await deploy(client, 'crashes', GATED);
  const { pending, seen } = await holdInvocation(client, instance, 'crashes', { then: 'crash' });
  const parents = await instanceCgroupDirs(process.pid, instance);
  await openGate(instance, seen.envId);
  const out = await pending;
  assert.equal((out.json as { errorType: string }).errorType, 'Runtime.ExitError', out.text);
  await assertGone(instance, parents, seen.envId, seen.uids);
});

test('an idle environment reclaimed after KINDLING_KEEP_ALIVE_MS leaves nothing behind', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const { client, server } = await startWorld(t, { env: { KINDLING_KEEP_ALIVE_MS: '1000' } });
  const instance = instanceOf(server.dataDir);
  await deploy(client, 'idle', GATED);
  const { pending, seen } = await holdInvocation(client, instance, 'idle', {});
  const parents = await instanceCgroupDirs(process.pid, instance);
  await openGate(instance, seen.envId);
  assert.deepEqual((await pending).json, { passed: true });
  await assertGone(instance, parents, seen.envId, seen.uids);
});

test("closing the server removes its environments, its cgroup parents and its socket root", { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const { client, server } = await startWorld(t);
  const instance = instanceOf(server.dataDir);
  await deploy(client, 'warm', GATED);
  const { pending, seen } = await holdInvocation(client, instance, 'warm', {});
  const parents = await instanceCgroupDirs(process.pid, instance);
  await openGate(instance, seen.envId);
  await pending;
  assert.ok(!isClean(await remainsOf(instance, parents, seen.envId, seen.uids)), 'the warm environment exists before the close');
  // The first start made its key wanted: a pre-warmed sandbox (KINDLING_PREWARM, default 1) is kept for it.
  const spares = await waitFor('a pre-warmed sandbox', async () => {
    const found = (await socketEnvironments(instance)).filter((id) => id !== seen.envId);
    return found.length > 0 && (await existingCgroups(parents, found[0]!)).length > 0 ? found : undefined;
  });
  await server.close();
  assert.ok(isClean(await remainsOf(instance, parents, seen.envId, seen.uids)), 'close() resolves once the environment is gone');
  for (const spare of spares) assert.ok(isClean(await remainsOf(instance, parents, spare, [])), `close() removed the pre-warmed sandbox ${spare}`);
  for (const dir of [...parents, instance.socketRoot]) assert.equal(await exists(dir), false, `${dir} is gone`);
  assert.deepEqual(await mountsMentioning([instance.socketRoot, server.dataDir]), []);
});

test('after kill -9 of the server, a restart on the same data directory reaps what its environments left', { timeout: 120_000 }, async (t) => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'kindling-e2e-reap-'));
  const instance = instanceOf(dataDir);
  let parents: string[] = [];
  const servers: ChildServer[] = [];
  // Whatever a failure left is removed (frozen environments survive their server), once the servers are dead.
  t.after(async () => {
    for (const server of servers) {
      server.process.child.kill('SIGKILL');
      await server.process.exited;
    }
    if (parents.length > 0) await forceCleanInstance(parents, instance);
    await rm(dataDir, { recursive: true, force: true });
  });

  const first = await startChildServer(t, dataDir);
  servers.push(first);
  parents = await instanceCgroupDirs(first.pid, instance);
  await deploy(first.client, 'warm', GATED);
  await deploy(first.client, 'held', GATED, { Timeout: 60 });
  // One environment idle (and frozen), one busy, when the server dies.
  const warm = await holdInvocation(first.client, instance, 'warm', {});
  await openGate(instance, warm.seen.envId);
  assert.deepEqual((await warm.pending).json, { passed: true });
  const held = await holdInvocation(first.client, instance, 'held', { holdMs: 60_000 });
  held.pending.catch(() => undefined); // its connection dies with the server
  // Both starts made the key wanted: a pre-warmed sandbox (KINDLING_PREWARM, default 1) is started for it, and 'held'
  // may have taken the first one (its code then is bound under the instance's _mnt); kill -9 leaves both behind.
  const spare = await waitFor('a pre-warmed sandbox', async () => {
    const found = (await socketEnvironments(instance)).find((id) => id !== warm.seen.envId && id !== held.seen.envId);
    return found !== undefined && (await existingCgroups(parents, found)).length > 0 ? found : undefined;
  });
  const before = await socketEnvironments(instance);

  first.process.child.kill('SIGKILL');
  await first.process.exited;
  await assert.rejects(held.pending, 'the invocation in flight fails with the server');
  for (const seen of [warm.seen, held.seen]) {
    const left = await remainsOf(instance, parents, seen.envId, seen.uids);
    assert.ok(left.cgroups.length > 0 && left.socketDir, `the crash left ${seen.envId}'s cgroups and socket: ${JSON.stringify(left)}`);
  }
  // The frozen environment cannot die of its parent's death until it is thawed; the busy one may already be gone.
  assert.ok((await remainsOf(instance, parents, warm.seen.envId, warm.seen.uids)).processes.length > 0, 'the frozen environment survived its server');

  const second = await startChildServer(t, dataDir);
  servers.push(second);
  for (const seen of [warm.seen, held.seen]) await assertGone(instance, parents, seen.envId, seen.uids);
  await assertGone(instance, parents, spare, []);
  // The restarted server pre-warms its functions' key again, under new ids; nothing of before is left.
  const stale = (await socketEnvironments(instance)).filter((id) => before.includes(id));
  assert.deepEqual(stale, []);
  assert.deepEqual((await invoke(second.client, 'warm', { holdMs: 0 })).json, { passed: false }, 'the restarted server invokes');
  await stopGracefully(second);
  for (const dir of [...parents, instance.socketRoot]) assert.equal(await exists(dir), false, `${dir} is gone after a graceful stop`);
  assert.deepEqual(await mountsMentioning([instance.socketRoot]), []);
});

async function exists(dir: string): Promise<boolean> {
  return (await entriesOf(path.dirname(dir))).includes(path.basename(dir));
}
