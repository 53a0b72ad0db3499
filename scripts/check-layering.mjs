#!/usr/bin/env node
// The layering rules of STYLE_ANCHORS Part III, checked: which src/ layer may import which, and which layer may
// use which infrastructure package. Exits 1 listing every violation. `npm run lint`.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const src = join(root, 'src');

/** The layer a src-relative path belongs to. */
export function layerOf(path) {
  const parts = path.split('/');
  if (parts[0] === 'store') {
    if (parts[1] === 'store.ts') return 'store';
    return `store/${parts[1]}`;
  }
  if (parts[0] === 'environments' && parts[1] === 'bootstrap') return 'bootstrap';
  return parts[0];
}

/** layer → layers it may import (itself always). main/ is the composition root and may import anything. */
const ALLOWED = {
  shared: [],
  model: [],
  config: ['shared'],
  code: ['model', 'shared'],
  store: ['model', 'shared'],
  'store/sqlite': ['store', 'model', 'shared'],
  'store/fs': ['store', 'model', 'shared'],
  functions: ['code', 'store', 'model', 'shared'],
  'runtime-api': ['model', 'shared'],
  logs: ['store', 'model', 'shared'],
  environments: ['runtime-api', 'logs', 'model', 'shared'],
  invoke: ['environments', 'logs', 'store', 'metering', 'cluster', 'model', 'shared'],
  api: ['functions', 'invoke', 'store', 'model', 'shared'],
  triggers: ['model', 'shared'],
  metering: ['model', 'shared'],
  cli: ['shared'],
  bootstrap: [],
  main: '*',
};

/** Infrastructure packages and the only layers that may use them. */
const PACKAGES = {
  'better-sqlite3': ['store/sqlite'],
  fastify: ['api'],
  typebox: ['api'],
  yauzl: ['code'],
  commander: ['main', 'cli'],
};

function list(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? list(path) : path.endsWith('.ts') ? [path] : [];
  });
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

export function check(srcDir = src) {
  const problems = [];
  for (const file of list(srcDir)) {
    const rel = relative(srcDir, file);
    const layer = layerOf(rel);
    const allowed = ALLOWED[layer];
    if (allowed === undefined) {
      problems.push(`${rel}: folder "${layer}" has no layering rule (add it to scripts/check-layering.mjs)`);
      continue;
    }
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2];
      if (spec.startsWith('.')) {
        const target = relative(srcDir, resolve(dirname(file), spec)).replace(/\.js$/, '.ts');
        if (target.startsWith('..')) {
          problems.push(`${rel}: imports ${spec}, outside src/`);
          continue;
        }
        const to = layerOf(target);
        if (to !== layer && allowed !== '*' && !allowed.includes(to)) problems.push(`${rel}: ${layer}/ may not import ${to}/ (${spec})`);
      } else if (!spec.startsWith('node:')) {
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
        const owners = PACKAGES[name];
        if (layer === 'bootstrap') problems.push(`${rel}: in-sandbox code may not import packages (${spec})`);
        else if (owners && !owners.includes(layer) && layer !== 'main') problems.push(`${rel}: only ${owners.join(', ')} may import ${name}`);
      }
    }
  }
  return problems;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const problems = check();
  if (problems.length > 0) {
    console.error(`layering: ${problems.length} problem(s)\n  ${problems.join('\n  ')}`);
    process.exit(1);
  }
  console.log('layering: ok');
}
