/**
 * A function that prints without end must cost the server neither memory nor disk: Kindling runs as a child
 * process (its RSS read from /proc/<pid>/status, the honest measure), the function floods stdout, and the stored
 * log events (read from the server's SQLite file, read-only) stay within KINDLING_LOG_MAX_MB.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { deploy, invoke } from '../compat/invoke-support.js';
import {
  forceCleanInstance,
  instanceCgroupDirs,
  instanceOf,
  residentBytes,
  startChildServer,
  stopGracefully,
  waitFor,
  type ChildServer,
} from './isolation-support.js';

const MiB = 1024 * 1024;
const LOG_MAX_MB = 5;
/** The flood's goal; the handler also stops after FLOOD_MAX_MS so the test stays bounded on a slow or busy host. */
const FLOOD_BYTES = 1024 * MiB;
const FLOOD_MAX_MS = 25_000;
/** Below this the flood proved nothing (a host so busy it printed almost nothing). */
const FLOOD_MIN_BYTES = 100 * MiB;
const RSS_GROWTH_LIMIT = 100 * MiB;

const FLOOD = {
  'index.mjs': `
export const handler = async (e) => {
  const line = Buffer.from('x'.repeat(e.lineBytes - 1) + '\\n');
  const block = Buffer.concat(Array(Math.floor(e.blockBytes / e.lineBytes)).fill(line));
  const started = Date.now();
  let written = 0;
  while (written < e.totalBytes && Date.now() - started < e.maxMs) {
    if (!process.stdout.write(block)) await new Promise((resolve) => process.stdout.once('drain', resolve));
    written += block.length;
  }
  return { written, ms: Date.now() - started };
};
`,
};

test('a function printing to stdout without pause (up to 1 GiB) costs the server under 100 MB of memory and the store at most KINDLING_LOG_MAX_MB', { timeout: 90_000 }, async (t) => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'kindling-e2e-flood-'));
  const instance = instanceOf(dataDir);
  let parents: string[] = [];
  let server: ChildServer | undefined;
  t.after(async () => {
    if (server) {
      server.process.child.kill('SIGKILL');
      await server.process.exited;
    }
    if (parents.length > 0) await forceCleanInstance(parents, instance);
    await rm(dataDir, { recursive: true, force: true });
  });
  server = await startChildServer(t, dataDir, { KINDLING_LOG_MAX_MB: String(LOG_MAX_MB) });
  parents = await instanceCgroupDirs(server.pid, instance);
  const { client, pid } = server;
  await deploy(client, 'flood', FLOOD, { MemorySize: 1769, Timeout: 60 });

  // Warm up: the environment, the log path and the store are in use before the baseline is taken.
  const event = { lineBytes: 1024, blockBytes: 256 * 1024 };
  await invoke(client, 'flood', { ...event, totalBytes: 8 * MiB, maxMs: FLOOD_MAX_MS });
  const baseline = await residentBytes(pid);
  let peak = baseline;
  const sampler = setInterval(() => {
    residentBytes(pid).then((rss) => (peak = Math.max(peak, rss)), () => undefined);
  }, 50);
  t.after(() => clearInterval(sampler));
  const out = await invoke(client, 'flood', { ...event, totalBytes: FLOOD_BYTES, maxMs: FLOOD_MAX_MS });
  clearInterval(sampler);
  peak = Math.max(peak, await residentBytes(pid));

  assert.equal(out.functionError, undefined, out.text);
  const flood = out.json as { written: number; ms: number };
  const growth = peak - baseline;
  t.diagnostic(
    `printed ${(flood.written / MiB).toFixed(0)} MiB in ${flood.ms} ms; server RSS ${(baseline / MiB).toFixed(1)} MiB → peak ${(peak / MiB).toFixed(1)} MiB (+${(growth / MiB).toFixed(1)} MiB)`,
  );
  assert.ok(flood.written >= FLOOD_MIN_BYTES, `only ${flood.written} bytes printed`);
  assert.ok(growth < RSS_GROWTH_LIMIT, `the server's RSS grew by ${growth} bytes`);
  assert.ok(out.log.includes(`REPORT RequestId: ${out.requestId}`), 'the invocation ended with its REPORT');

  // The sink writes in batches after the invocation: the REPORT row marks the end of the flood's events.
  const db = new Database(path.join(dataDir, 'kindling.db'), { readonly: true, fileMustExist: true });
  t.after(() => db.close());
  const reportStored = db.prepare<[string, string], { n: number }>(
    "SELECT COUNT(*) AS n FROM log_events WHERE function_name = ? AND message LIKE 'REPORT RequestId: ' || ? || '%'",
  );
  await waitFor('the REPORT line to be stored', async () => (reportStored.get('flood', out.requestId!)?.n ?? 0) > 0, 20_000);
  const storedOf = db.prepare<[string], { bytes: number | null; events: number }>(
    'SELECT SUM(bytes) AS bytes, COUNT(*) AS events FROM log_events WHERE function_name = ?',
  );
  // The cap is enforced in its own transaction right after each batch is appended: wait for the one after the
  // REPORT's batch (a bounded wait, so a cap that is never enforced still fails).
  const stored = await waitFor(
    'the log cap to be enforced',
    async () => {
      const row = storedOf.get('flood');
      return (row?.bytes ?? 0) <= LOG_MAX_MB * MiB ? row : undefined;
    },
    10_000,
  );
  const storedBytes = stored?.bytes ?? 0;
  t.diagnostic(`stored ${storedBytes} bytes in ${stored?.events ?? 0} events (cap ${LOG_MAX_MB} MiB)`);
  assert.ok(storedBytes > 0 && storedBytes <= LOG_MAX_MB * MiB, `stored ${storedBytes} bytes of logs`);

  await stopGracefully(server);
  server = undefined;
});
