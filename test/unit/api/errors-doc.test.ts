import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { API_ERRORS } from '../../../src/api/wire/errors.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const ERRORS_DOC = join(ROOT, 'docs', 'errors.md');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

/** Kindling's own codes; the lookbehind skips library codes that merely contain one, such as fastify's FST_ERR_…. */
function internalErrorCodes(): string[] {
  const codes = new Set<string>();
  for (const file of sourceFiles(join(ROOT, 'src'))) {
    for (const m of readFileSync(file, 'utf8').matchAll(/(?<![A-Za-z0-9_])ERR_[A-Z0-9_]*[A-Z0-9]/g)) codes.add(m[0]);
  }
  return [...codes].sort();
}

function readDoc(): string {
  assert.ok(existsSync(ERRORS_DOC), 'docs/errors.md does not exist yet: the lead writes it; it must name every API error and every ERR_ code');
  return readFileSync(ERRORS_DOC, 'utf8');
}

test('the source scan finds the internal error codes it is meant to find', () => {
  const codes = internalErrorCodes();
  for (const code of ['ERR_NOT_FOUND', 'ERR_CONFIG_INVALID', 'ERR_STORE_IO', 'ERR_CODE_CORRUPT_ZIP']) assert.ok(codes.includes(code), code);
  assert.ok(!codes.some((c) => c.startsWith('ERR_CTP')), 'a fastify FST_ERR_ code was taken for one of ours');
});

test('docs/errors.md names every AWS error Kindling can answer', () => {
  const doc = readDoc();
  const missing = Object.keys(API_ERRORS).filter((name) => !new RegExp(`\\b${name}\\b`).test(doc));
  assert.deepEqual(missing, [], `docs/errors.md does not mention: ${missing.join(', ')}`);
});

test('docs/errors.md names every internal error code used in src/', () => {
  const doc = readDoc();
  const missing = internalErrorCodes().filter((code) => !new RegExp(`\\b${code}\\b`).test(doc));
  assert.deepEqual(missing, [], `docs/errors.md does not mention: ${missing.join(', ')}`);
});
