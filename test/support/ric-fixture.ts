/**
 * The official Node runtime interface client, aws-lambda-ric@3.3.0, for the suite that runs it as a custom
 * runtime. It is never a dependency of Kindling: it is installed once into the gitignored <repo>/.cache and reused.
 * Its install compiles libcurl and aws-lambda-cpp from source (about 90 s), which needs autotools; as root they are
 * installed with apt-get, otherwise the suite skips — except under CI=true, where a missing toolchain is a failure.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { constants, watch } from 'node:fs';
import { access, lstat, mkdir, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { delimiter, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildZip, type ZipEntrySpec } from './zip-builder.js';

export const RIC_VERSION = '3.3.0';
/** The client must be compiled for the Node the sandbox runs (/usr/bin/node, v20): npm picks 3.3.0 there. */
const NODE = '/usr/bin/node';
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const CACHE_DIR = join(REPO, '.cache', `aws-lambda-ric-${RIC_VERSION}`);
/** Written last: a cache without it is a half-finished build and is rebuilt from scratch. */
const MARKER = join(CACHE_DIR, '.kindling-build-complete');
/** mkdir is atomic: whoever creates this directory builds; it records the builder's pid so a dead builder's lock is broken. */
const LOCK_DIR = `${CACHE_DIR}.lock`;
const BUILD_LOG = `${CACHE_DIR}.build.log`;
/**
 * The install takes 86 s on an idle 2-core machine, but 6.5 and 9.3 minutes were measured here under load averages of 12-78
 * (it compiles libcurl): twenty minutes means stuck, not slow.
 */
export const BUILD_TIMEOUT_MS = 20 * 60_000;
const APT_PACKAGES = ['autoconf', 'automake', 'libtool'];

/**
 * The cache directory (its node_modules holds aws-lambda-ric), building it first when needed; or the reason to skip.
 * Concurrent callers in other processes wait for one build.
 */
export async function ensureAwsLambdaRic(): Promise<string | { skip: string }> {
  if (await exists(MARKER)) return CACHE_DIR;
  const missing = await missingTools();
  if (missing.length > 0 && process.getuid?.() !== 0) {
    const reason = `needs: apt-get install -y ${missing.join(' ')}`;
    assert.notEqual(process.env.CI, 'true', `aws-lambda-ric cannot be built, and CI=true does not allow skipping: ${reason}`);
    return { skip: reason };
  }
  await withLock(async () => {
    if (await exists(MARKER)) return;
    if ((await missingTools()).length > 0) await aptInstall();
    await build();
  });
  return CACHE_DIR;
}

/** What the build needs and this machine lacks, as apt package names. */
async function missingTools(): Promise<string[]> {
  const missing: string[] = [];
  if ((await onPath('autoreconf')) === undefined || (await onPath('libtoolize')) === undefined) missing.push(...APT_PACKAGES);
  for (const [tool, pkg] of [['cmake', 'cmake'], ['make', 'make'], ['g++', 'g++']] as const) {
    if ((await onPath(tool)) === undefined) missing.push(pkg);
  }
  return missing;
}

async function aptInstall(): Promise<void> {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await run('apt-get', ['update', '-qq'], { env, timeoutMs: BUILD_TIMEOUT_MS });
  await run('apt-get', ['install', '-y', '-qq', ...(await missingTools())], { env, timeoutMs: BUILD_TIMEOUT_MS });
}

async function build(): Promise<void> {
  await rm(CACHE_DIR, { recursive: true, force: true });
  await mkdir(CACHE_DIR, { recursive: true });
  // allowScripts: npm announces that dependency install scripts will be blocked by default; this one must run.
  const manifest = { name: 'kindling-ric-cache', version: '0.0.0', private: true, allowScripts: { 'aws-lambda-ric': true } };
  await writeFile(join(CACHE_DIR, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    // npm, node-gyp and the addon all follow the first `node` on PATH: make it the sandbox's Node 20.
    PATH: `/usr/bin${delimiter}${process.env.PATH ?? ''}`,
    // Node's own headers (Debian's nodejs ships them in /usr/include/node): node-gyp then downloads nothing.
    ...((await exists('/usr/include/node/node_version.h')) ? { npm_config_nodedir: '/usr' } : {}),
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
    // libcurl's and aws-lambda-cpp's `make` run serially otherwise.
    MAKEFLAGS: '-j2',
  };
  const output = await run(
    NODE,
    [await npmCli(), 'install', '--no-save', '--no-package-lock', '--ignore-scripts=false', '--foreground-scripts', `aws-lambda-ric@${RIC_VERSION}`],
    { env, cwd: CACHE_DIR, timeoutMs: BUILD_TIMEOUT_MS, logFile: BUILD_LOG },
  );
  const installed = JSON.parse(await readFile(join(ricPackageDir(CACHE_DIR), 'package.json'), 'utf8')) as { version: string };
  assert.equal(installed.version, RIC_VERSION, `npm installed aws-lambda-ric ${installed.version}:\n${output}`);
  await writeFile(MARKER, `aws-lambda-ric ${RIC_VERSION} built for node ${(await run(NODE, ['--version'])).trim()}\n`);
}

/** npm's CLI script, run with /usr/bin/node rather than whatever node the `npm` shim would pick. */
async function npmCli(): Promise<string> {
  for (const candidate of ['/usr/lib/node_modules/npm/bin/npm-cli.js', '/usr/share/nodejs/npm/bin/npm-cli.js']) {
    if (await exists(candidate)) return candidate;
  }
  const npm = await onPath('npm');
  assert.ok(npm, 'npm is not on PATH');
  return npm;
}

export function ricPackageDir(cacheDir: string): string {
  return join(cacheDir, 'node_modules', 'aws-lambda-ric');
}

/**
 * What the client needs at run time, relative to its package: everything else in the install is build input —
 * libcurl's and aws-lambda-cpp's sources (about 149 MB; the upstream clean-up glob `curl*[^gz]` is bash syntax that
 * /bin/sh (dash) reads literally, so they stay), node-gyp and its 120-odd dependencies, node-addon-api's headers.
 * dist/index.mjs requires only Node built-ins and ./rapid-client.node, which links libcurl and aws-lambda-cpp
 * statically and needs nothing beyond libstdc++ and libc from /usr. The licences travel with the code.
 */
const RUNTIME_FILES = ['package.json', 'bin', 'dist', 'LICENSE', 'NOTICE', 'THIRD-PARTY-LICENSES'];

export interface LayerZip {
  zip: Buffer;
  /** Sum of the file sizes inside (what counts against the 250 MB unzipped quota). */
  unzippedBytes: number;
  entries: number;
}

/** A layer with the pruned client at nodejs/node_modules/aws-lambda-ric (so /opt/nodejs/node_modules/aws-lambda-ric). */
export async function buildRicLayerZip(cacheDir: string): Promise<LayerZip> {
  const packageDir = ricPackageDir(cacheDir);
  const entries: ZipEntrySpec[] = [];
  let unzippedBytes = 0;
  for (const name of RUNTIME_FILES) {
    const found = await zipEntriesOf(packageDir, join(packageDir, name), 'nodejs/node_modules/aws-lambda-ric');
    unzippedBytes += found.bytes;
    entries.push(...found.entries);
  }
  return { zip: await buildZip(entries), unzippedBytes, entries: entries.length };
}

/** Entries for a file, symlink or directory tree, named `<prefix>/<path relative to root>`, modes kept. */
async function zipEntriesOf(root: string, path: string, prefix: string): Promise<{ entries: ZipEntrySpec[]; bytes: number }> {
  const info = await lstat(path);
  const name = `${prefix}/${relative(root, path)}`;
  if (info.isSymbolicLink()) return { entries: [{ name, symlinkTo: await readlink(path) }], bytes: 0 };
  if (info.isFile()) {
    const data = await readFile(path);
    return { entries: [{ name, data, mode: info.mode & 0o777 }], bytes: data.length };
  }
  assert.ok(info.isDirectory(), `${path} is neither a file, a symlink nor a directory`);
  const entries: ZipEntrySpec[] = [{ name: `${name}/`, directory: true, mode: info.mode & 0o777 }];
  let bytes = 0;
  for (const child of (await readdir(path)).sort()) {
    const found = await zipEntriesOf(root, join(path, child), prefix);
    entries.push(...found.entries);
    bytes += found.bytes;
  }
  return { entries, bytes };
}

async function withLock(work: () => Promise<void>): Promise<void> {
  await mkdir(join(REPO, '.cache'), { recursive: true });
  const deadline = Date.now() + BUILD_TIMEOUT_MS + 60_000;
  for (;;) {
    try {
      await mkdir(LOCK_DIR);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    if (await lockOwnerIsDead()) {
      await rm(LOCK_DIR, { recursive: true, force: true });
      continue;
    }
    assert.ok(Date.now() < deadline, `another process has held ${LOCK_DIR} for too long`);
    await lockReleased();
  }
  try {
    await writeFile(join(LOCK_DIR, 'pid'), String(process.pid));
    await work();
  } finally {
    await rm(LOCK_DIR, { recursive: true, force: true });
  }
}

async function lockOwnerIsDead(): Promise<boolean> {
  const pid = Number(await readFile(join(LOCK_DIR, 'pid'), 'utf8').catch(() => ''));
  // No pid yet: the owner is between mkdir and writeFile, alive.
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** Resolves when something changes in .cache (the lock going away), or after a second to re-check a dead owner. */
function lockReleased(): Promise<void> {
  return new Promise((resolve) => {
    const watcher = watch(join(REPO, '.cache'), () => done());
    const timer = setTimeout(() => done(), 1000);
    function done(): void {
      clearTimeout(timer);
      watcher.close();
      resolve();
    }
  });
}

interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
  /** Where the combined output goes as well (kept to diagnose a failed build). */
  logFile?: string;
}

function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { env: options.env ?? process.env, cwd: options.cwd, timeout: options.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const output = `${stdout}${stderr}`;
        const logged = options.logFile === undefined ? Promise.resolve() : writeFile(options.logFile, output).catch(() => undefined);
        void logged.then(() => {
          if (error === null) return resolve(stdout);
          const tail = output.split('\n').slice(-40).join('\n');
          const how = error.killed ? `timed out after ${options.timeoutMs ?? 60_000} ms` : `failed (${String(error.code ?? error.signal)})`;
          reject(new assert.AssertionError({ message: `${command} ${args.join(' ')} ${how}; log ${options.logFile ?? '-'}:\n${tail}` }));
        });
      },
    );
  });
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

async function onPath(command: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, command);
    if (await access(candidate, constants.X_OK).then(() => true, () => false)) return candidate;
  }
  return undefined;
}
