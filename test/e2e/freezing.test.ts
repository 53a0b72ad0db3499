/**
 * Idle environments are frozen (cgroup freezer) so their timers burn no CPU between invocations, and thawed when an
 * invocation arrives: a timer the function left running does not advance while frozen.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { sandboxInstanceId } from '../../src/environments/sandbox.js';
import { startWorld } from '../compat/fixtures.js';
import { deploy, invoke } from '../compat/invoke-support.js';

const isRoot = process.getuid?.() === 0;
const skip = isRoot ? false : 'the cgroup freezer needs root';

/** Where this machine's freezer hierarchy puts the server's own cgroup (cgroup v1; v2 has cgroup.freeze instead). */
async function freezerParent(): Promise<string | undefined> {
  const line = (await readFile('/proc/self/cgroup', 'utf8')).split('\n').find((l) => /^\d+:freezer:/.test(l));
  return line === undefined ? undefined : join('/sys/fs/cgroup/freezer', line.split(':')[2] ?? '/');
}

async function environmentStates(instanceDir: string): Promise<string[]> {
  // Environment ids never start with '_': `_keep-frozen` is the instance's permanently frozen (empty) cgroup.
  const ids = (await readdir(instanceDir, { withFileTypes: true }))
    .filter((d) => d.isDirectory() && !d.name.startsWith('_'))
    .map((d) => d.name);
  return Promise.all(ids.map(async (id) => (await readFile(join(instanceDir, id, 'freezer.state'), 'utf8')).trim()));
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, deadlineMs = 10_000): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

test('an idle environment is frozen after its invocation and thawed by the next one', { skip }, async (t) => {
  const parent = await freezerParent();
  if (parent === undefined) return t.skip('no cgroup v1 freezer on this machine');
  const { client, server } = await startWorld(t);
  await deploy(client, 'ticker', {
    'index.mjs': [
      'let ticks = 0;',
      'setInterval(() => { ticks += 1; }, 10).unref?.();',
      'export const handler = async (e) => ({ ticks, wait: e.wait ? await new Promise((r) => setTimeout(() => r(ticks), e.wait)) : null });',
    ].join('\n'),
  });
  await invoke(client, 'ticker', { wait: 100 });
  const instanceDir = join(parent, `kindling-${sandboxInstanceId(server.dataDir)}`);
  await until('the environment to be frozen', async () => ((await environmentStates(instanceDir)).includes('FROZEN') ? true : undefined));
  const startedAt = Date.now();
  const before = (await invoke(client, 'ticker', {})).json as { ticks: number };
  // While frozen the 10 ms interval did not run: the count only moved by what ran before the freeze and after the thaw.
  await until('the environment to be frozen again', async () => ((await environmentStates(instanceDir)).includes('FROZEN') ? true : undefined));
  await new Promise((r) => setTimeout(r, 300)); // a measured gap during which a running timer would tick ~30 times
  const after = (await invoke(client, 'ticker', {})).json as { ticks: number };
  // Both reads lie within elapsedMs; a timer can tick at most once per 10 ms of it, and not at all in the 300 ms gap.
  const elapsedMs = Date.now() - startedAt;
  const bound = Math.max(0, elapsedMs - 300) / 10 + 10;
  assert.ok(after.ticks - before.ticks < bound, `ticks advanced by ${after.ticks - before.ticks} in ${elapsedMs} ms (bound ${bound.toFixed(1)}) with a frozen 300 ms gap`);
  assert.ok(after.ticks >= before.ticks);
});

test('with KINDLING_FREEZE_IDLE=false idle environments keep running', { skip }, async (t) => {
  const parent = await freezerParent();
  if (parent === undefined) return t.skip('no cgroup v1 freezer on this machine');
  const { client, server } = await startWorld(t, { env: { KINDLING_FREEZE_IDLE: 'false' } });
  await deploy(client, 'ticker2', {
    'index.mjs': 'let ticks = 0;\nsetInterval(() => { ticks += 1; }, 10);\nexport const handler = async () => ticks;\n',
  });
  const first = (await invoke(client, 'ticker2')).json as number;
  await new Promise((r) => setTimeout(r, 300));
  const second = (await invoke(client, 'ticker2')).json as number;
  assert.ok(second - first >= 10, `ticks advanced by ${second - first}`);
  const states = await environmentStates(join(parent, `kindling-${sandboxInstanceId(server.dataDir)}`));
  assert.ok(!states.includes('FROZEN'));
});
