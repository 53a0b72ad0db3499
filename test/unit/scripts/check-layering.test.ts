import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
// @ts-expect-error: a plain .mjs script without type declarations
import { check } from '../../../scripts/check-layering.mjs';

const run = check as (srcDir?: string) => string[];

async function tree(t: { after(fn: () => Promise<void>): void }, files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kindling-layering-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  return dir;
}

test('the repository source tree follows the layering rules', () => {
  assert.deepEqual(run(), []);
});

test('an api file importing the SQLite store is reported', async (t) => {
  const dir = await tree(t, {
    'api/server.ts': "import { SqliteStore } from '../store/sqlite/sqlite-store.js';\n",
    'store/sqlite/sqlite-store.ts': 'export class SqliteStore {}\n',
  });
  assert.deepEqual(run(dir), ['api/server.ts: api/ may not import store/sqlite/ (../store/sqlite/sqlite-store.js)']);
});

test('the store interfaces may be imported by api and functions', async (t) => {
  const dir = await tree(t, {
    'store/store.ts': 'export interface Store {}\n',
    'api/a.ts': "import type { Store } from '../store/store.js';\n",
    'functions/f.ts': "import type { Store } from '../store/store.js';\n",
  });
  assert.deepEqual(run(dir), []);
});

test('model code importing shared code or fastify is reported', async (t) => {
  const dir = await tree(t, {
    'model/m.ts': "import { x } from '../shared/x.js';\nimport Fastify from 'fastify';\n",
    'shared/x.ts': 'export const x = 1;\n',
  });
  assert.deepEqual(run(dir), ['model/m.ts: model/ may not import shared/ (../shared/x.js)', 'model/m.ts: only api may import fastify']);
});

test('a folder without a rule is reported rather than silently allowed', async (t) => {
  const dir = await tree(t, { 'misc/thing.ts': 'export const a = 1;\n' });
  assert.deepEqual(run(dir), ['misc/thing.ts: folder "misc" has no layering rule (add it to scripts/check-layering.mjs)']);
});
