import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { SandboxError } from '../../../src/environments/sandbox.js';
import { UidPool } from '../../../src/environments/uid-pool.js';

/** A fake /proc: one directory per pid with a status file whose Uid line lists real, effective, saved, fs uids. */
async function fakeProc(t: TestContext, processes: Record<number, readonly number[]> = {}): Promise<string> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'kindling-proc-'));
  t.after(() => fs.rm(root, { recursive: true, force: true }));
  await fs.mkdir(path.join(root, 'self'));
  for (const [pid, uids] of Object.entries(processes)) await addProcess(root, Number(pid), uids);
  return root;
}

async function addProcess(procRoot: string, pid: number, uids: readonly number[]): Promise<void> {
  await fs.mkdir(path.join(procRoot, String(pid)));
  await fs.writeFile(path.join(procRoot, String(pid), 'status'), `Name:\tsleep\nUid:\t${uids.join('\t')}\nGid:\t0\t0\t0\t0\n`);
}

const isCode = (code: string) => (error: unknown) => error instanceof SandboxError && error.code === code;

test('uids come from the range, each held by one environment at a time', async (t) => {
  const pool = new UidPool({ range: [500, 503], procRoot: await fakeProc(t) });
  const uids = [await pool.allocate(), await pool.allocate(), await pool.allocate(), await pool.allocate()];
  assert.deepEqual(uids, [500, 501, 502, 503]);
  await assert.rejects(pool.allocate(), isCode('ERR_SANDBOX_NO_UID'));
  pool.release(502);
  assert.equal(pool.isAllocated(502), false);
  assert.equal(await pool.allocate(), 502);
});

test('a uid that a process still runs as is skipped, whatever its real, effective, saved or fs uid', async (t) => {
  const procRoot = await fakeProc(t, { 10: [0, 500, 0, 0], 11: [0, 0, 0, 501], 12: [502, 502, 502, 502] });
  const pool = new UidPool({ range: [500, 503], procRoot });
  assert.equal(await pool.allocate(), 503);
  await assert.rejects(pool.allocate(), isCode('ERR_SANDBOX_NO_UID'));
});

test('a released uid is handed out again before an unused one, from memory without reading /proc', async (t) => {
  const procRoot = await fakeProc(t);
  const pool = new UidPool({ range: [500, 503], procRoot });
  assert.deepEqual([await pool.allocate(), await pool.allocate(), await pool.allocate()], [500, 501, 502]);
  pool.release(501);
  pool.release(500);
  // Without a /proc to read, only uids that need no scan can be handed out.
  await fs.rm(procRoot, { recursive: true });
  assert.deepEqual([await pool.allocate(), await pool.allocate()], [501, 500]);
  await assert.rejects(pool.allocate(), isCode('ERR_SANDBOX_UNAVAILABLE'));
});

test('a uid handed out for the first time is checked against the processes running at that moment', async (t) => {
  const procRoot = await fakeProc(t);
  const pool = new UidPool({ range: [500, 503], procRoot });
  assert.equal(await pool.allocate(), 500);
  await addProcess(procRoot, 20, [501, 501, 501, 501]); // e.g. another server sharing the range
  assert.equal(await pool.allocate(), 502);
});

test('a uid released without the word that its processes are gone is checked again before it is reused', async (t) => {
  const procRoot = await fakeProc(t);
  const pool = new UidPool({ range: [500, 501], procRoot });
  const uid = await pool.allocate();
  await addProcess(procRoot, 30, [uid, uid, uid, uid]);
  pool.release(uid, { processesGone: false });
  assert.equal(pool.isAllocated(uid), false);
  assert.equal(await pool.allocate(), 501);
  await assert.rejects(pool.allocate(), isCode('ERR_SANDBOX_NO_UID'));
  await fs.rm(path.join(procRoot, '30'), { recursive: true });
  assert.equal(await pool.allocate(), uid);
});

test('concurrent allocations get distinct uids', async (t) => {
  const pool = new UidPool({ range: [500, 507], procRoot: await fakeProc(t, { 10: [503, 503, 503, 503] }) });
  const uids = await Promise.all(Array.from({ length: 7 }, () => pool.allocate()));
  assert.deepEqual([...uids].sort(), [500, 501, 502, 504, 505, 506, 507]);
});

test('startAt spreads instances over the range', async (t) => {
  const pool = new UidPool({ range: [500, 509], startAt: 17, procRoot: await fakeProc(t) });
  assert.equal(await pool.allocate(), 507);
});

test('a range that includes uid 0 or is empty is refused', () => {
  assert.throws(() => new UidPool({ range: [0, 10] }), isCode('ERR_SANDBOX_INVALID_SPEC'));
  assert.throws(() => new UidPool({ range: [20, 10] }), isCode('ERR_SANDBOX_INVALID_SPEC'));
});

test('the default range is 200000-299999 and is checked against the real /proc', async () => {
  const pool = new UidPool();
  const uid = await pool.allocate();
  assert.ok(uid >= 200_000 && uid <= 299_999);
  assert.equal(pool.isAllocated(uid), true);
});
