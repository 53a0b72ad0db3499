// The world of the bubblewrap backend's tests: a sandbox of its own instance (real processes, namespaces, cgroups),
// a code directory, Runtime API stand-ins on Unix sockets, and probes of the host's /proc. Needs root, bwrap, socat
// and cgroups: elsewhere the tests skip, except in CI (root there), where a missing prerequisite is a failure.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { test, type TestContext } from 'node:test';
import type { CgroupDriver } from '../../../src/environments/cgroups/cgroup-driver.js';
import { createCgroupDriver } from '../../../src/environments/cgroups/create-cgroup-driver.js';
import { BubblewrapSandbox } from '../../../src/environments/isolation/bubblewrap.js';
import { sandboxInstanceId, type Sandbox, type SandboxProcess, type SandboxSpec } from '../../../src/environments/sandbox.js';
import { UidPool } from '../../../src/environments/uid-pool.js';

const has = (program: string): boolean => spawnSync('sh', ['-c', `command -v ${program}`]).status === 0;
const unavailable =
  process.getuid?.() !== 0
    ? 'needs root (cgroups, setpriv)'
    : !has('bwrap') || !has('socat') || !has('setpriv')
      ? 'needs bwrap, socat and setpriv (apt-get install bubblewrap socat util-linux)'
      : undefined;

export function bwrapTest(name: string, body: (t: TestContext) => Promise<void>): void {
  const skip = process.env.CI === 'true' ? false : (unavailable ?? false);
  test(name, { skip }, async (t) => {
    if (unavailable !== undefined) assert.fail(`bubblewrap tests cannot run: ${unavailable}`);
    await body(t);
  });
}

export const LIMITS = { memoryMb: 128, cpuQuota: 0.1, pidsMax: 64, tmpMb: 16 };

export interface Started {
  environment: SandboxProcess;
  /** Everything written to stdout / stderr until the streams end. */
  output: Promise<{ stdout: string; stderr: string }>;
  /** Resolves with stdout so far once it matches. */
  waitForStdout(pattern: RegExp): Promise<string>;
}

export interface World {
  dataDir: string;
  codeDir: string;
  instanceId: string;
  sandbox: Sandbox;
  uids: UidPool;
  cgroups: CgroupDriver;
  start(overrides: Partial<SandboxSpec>, sandbox?: Sandbox): Promise<Started>;
  /** An HTTP server on a Unix socket in its own 0700 directory under socketRoot, as the Runtime API listens. */
  listen(id: string, sandbox?: Sandbox): Promise<{ socket: string; urls: string[] }>;
}

export async function makeWorld(t: TestContext): Promise<World> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'kindling-bwrap-data-')); // 0700, as a data dir may be
  const codeDir = await fs.mkdtemp(path.join(os.tmpdir(), 'kindling-bwrap-code-'));
  await fs.chmod(codeDir, 0o755);
  await fs.writeFile(path.join(codeDir, 'index.js'), 'exports.handler = async () => 1;\n');
  const instanceId = sandboxInstanceId(dataDir);
  const cgroups = createCgroupDriver(instanceId);
  const uids = new UidPool({ startAt: randomBytes(4).readUInt32BE() });
  const sandbox = new BubblewrapSandbox({ instanceId, cgroups, uids });
  const servers: http.Server[] = [];
  t.after(async () => {
    await sandbox.close();
    for (const server of servers) server.close();
    await fs.rm(dataDir, { recursive: true, force: true });
    await fs.rm(codeDir, { recursive: true, force: true });
  });
  let count = 0;
  return {
    dataDir,
    codeDir,
    instanceId,
    sandbox,
    uids,
    cgroups,
    async start(overrides, target = sandbox) {
      const environment = await target.start({
        id: `env-${++count}`,
        codeDir,
        command: ['/usr/bin/true'],
        env: { PATH: '/usr/bin:/bin' },
        limits: LIMITS,
        ...overrides,
      });
      let stdout = '';
      let stderr = '';
      environment.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      environment.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const ended = (stream: NodeJS.ReadableStream) => new Promise((resolve) => stream.once('end', resolve));
      const output = Promise.all([ended(environment.stdout), ended(environment.stderr)]).then(() => ({ stdout, stderr }));
      return {
        environment,
        output,
        async waitForStdout(pattern) {
          const deadline = Date.now() + 10_000;
          while (!pattern.test(stdout)) {
            if (Date.now() > deadline) assert.fail(`stdout never matched ${pattern}: ${stdout} / ${stderr}`);
            await delay(5);
          }
          return stdout;
        },
      };
    },
    async listen(id, target = sandbox) {
      const dir = path.join(target.socketRoot, id);
      await fs.mkdir(dir, { recursive: true, mode: 0o700 });
      const socket = path.join(dir, 'rapi.sock');
      const urls: string[] = [];
      const server = http.createServer((request, response) => {
        urls.push(request.url ?? '');
        response.end(`hello from ${request.url}`);
      });
      servers.push(server);
      await new Promise<void>((resolve) => server.listen(socket, resolve));
      return { socket, urls };
    },
  };
}

export const sh = (script: string, ...args: string[]): string[] => ['/bin/sh', '-c', script, 'sh', ...args];

/** The host uids (real, effective, saved, fs) of a host pid. */
export async function hostUids(pid: number): Promise<number[]> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8');
  return (/^Uid:\s+(.*)$/m.exec(status)?.[1] ?? '').trim().split(/\s+/).map(Number);
}

/** Host pids whose argv is exactly `argv`. */
export async function findProcesses(argv: string[]): Promise<number[]> {
  const wanted = `${argv.join('\0')}\0`;
  const found: number[] = [];
  for (const name of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const cmdline = await fs.readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '');
    if (cmdline === wanted) found.push(Number(name));
  }
  return found;
}

export async function processesOfUid(uid: number): Promise<number[]> {
  const found: number[] = [];
  for (const name of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const uids = await hostUids(Number(name)).catch((): number[] => []);
    if (uids.includes(uid)) found.push(Number(name));
  }
  return found;
}

export async function until(check: () => Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await delay(5);
  }
}

export const PYTHON = '/usr/bin/python3.11';
