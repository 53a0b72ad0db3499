import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { test, type TestContext } from 'node:test';
import { createSandbox } from '../../../src/environments/isolation/create-sandbox.js';
import { ProcessSandbox } from '../../../src/environments/isolation/process.js';
import type { SandboxProcess, SandboxSpec } from '../../../src/environments/sandbox.js';

interface World {
  codeDir: string;
  runtimeDir: string;
  start(overrides: Partial<SandboxSpec>): Promise<{ environment: SandboxProcess; output: Promise<{ stdout: string; stderr: string }> }>;
}

async function makeWorld(t: TestContext): Promise<World> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'kindling-process-sandbox-'));
  const codeDir = path.join(root, 'code');
  const runtimeDir = path.join(root, 'runtime');
  await fs.mkdir(codeDir);
  await fs.mkdir(runtimeDir);
  const sandbox = new ProcessSandbox({ instanceId: 'test' });
  t.after(async () => {
    await sandbox.close();
    await fs.rm(root, { recursive: true, force: true });
  });
  let count = 0;
  return {
    codeDir,
    runtimeDir,
    async start(overrides) {
      const environment = await sandbox.start({
        id: `env-${++count}`,
        codeDir,
        runtimeDir,
        command: ['/usr/bin/env'],
        env: { PATH: '/usr/bin:/bin' },
        limits: { memoryMb: 128, cpuQuota: 0.1, pidsMax: 64, tmpMb: 16 },
        ...overrides,
      });
      const collect = (stream: NodeJS.ReadableStream) =>
        new Promise<string>((resolve) => {
          let text = '';
          stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
          stream.on('end', () => resolve(text));
        });
      const output = Promise.all([collect(environment.stdout), collect(environment.stderr)]).then(([stdout, stderr]) => ({
        stdout,
        stderr,
      }));
      return { environment, output };
    },
  };
}

test('the command sees exactly spec.env, none of the server\'s variables', async (t) => {
  process.env.KINDLING_SERVER_MARKER = 'must-not-leak';
  t.after(() => delete process.env.KINDLING_SERVER_MARKER);
  const world = await makeWorld(t);
  const env = { PATH: '/usr/bin:/bin', AWS_LAMBDA_FUNCTION_NAME: 'f', WITH_SPACES: 'a b  c' };
  const { environment, output } = await world.start({ command: ['/usr/bin/env'], env });
  assert.equal((await environment.exited).code, 0);
  const lines = (await output).stdout.trim().split('\n').sort();
  assert.deepEqual(lines, Object.entries(env).map(([k, v]) => `${k}=${v}`).sort());
});

test('the command runs in codeDir, with /var/task and /var/runtime arguments rewritten to the host directories', async (t) => {
  const world = await makeWorld(t);
  await fs.writeFile(path.join(world.codeDir, 'main.sh'), 'pwd; cat /var/task/data.txt 2>/dev/null || echo no-var-task; . "$1"\n');
  await fs.writeFile(path.join(world.codeDir, 'data.txt'), 'unused');
  await fs.writeFile(path.join(world.runtimeDir, 'lib.sh'), 'echo runtime-loaded\n');
  const { environment, output } = await world.start({ command: ['/bin/sh', '/var/task/main.sh', '/var/runtime/lib.sh'] });
  assert.equal((await environment.exited).code, 0);
  // Paths the code builds itself are not rewritten: there is no /var/task on the host.
  assert.equal((await output).stdout, `${world.codeDir}\nno-var-task\nruntime-loaded\n`);
});

test('stdout and stderr arrive on separate streams and the exit status is reported', async (t) => {
  const world = await makeWorld(t);
  const { environment, output } = await world.start({ command: ['/bin/sh', '-c', 'echo out; echo err >&2; exit 3'] });
  assert.deepEqual(await environment.exited, { code: 3, signal: null, oomKilled: false });
  assert.deepEqual(await output, { stdout: 'out\n', stderr: 'err\n' });
});

test('freeze stops the process group and thaw resumes it', async (t) => {
  const world = await makeWorld(t);
  const { environment } = await world.start({ command: ['/bin/sh', '-c', 'while :; do :; done'] });
  const state = async () => (await fs.readFile(`/proc/${environment.pid}/stat`, 'utf8')).split(') ')[1]?.[0];
  await environment.freeze();
  for (let i = 0; (await state()) !== 'T'; i++) {
    assert.ok(i < 500, 'the process never stopped');
    await delay(5);
  }
  await environment.thaw();
  for (let i = 0; (await state()) === 'T'; i++) {
    assert.ok(i < 500, 'the process never resumed');
    await delay(5);
  }
  assert.ok((await environment.maxMemoryUsedBytes()) > 0);
  assert.ok((await environment.cpuTimeUs()) >= 0);
});

test('destroy kills the whole process group, children included', async (t) => {
  const world = await makeWorld(t);
  const { environment, output } = await world.start({
    command: ['/bin/sh', '-c', 'sleep 300 >/dev/null 2>&1 & echo $!; wait'],
  });
  const childPid = Number(await new Promise<string>((resolve) => environment.stdout.once('data', (c: Buffer) => resolve(c.toString()))));
  assert.ok(childPid > 0);
  await environment.destroy();
  assert.equal((await environment.exited).signal, 'SIGKILL');
  await output;
  // The background child dies too (SIGKILL takes effect asynchronously; at most a zombie until init reaps it).
  const state = () => fs.readFile(`/proc/${childPid}/stat`, 'utf8').then((text) => text.split(') ')[1]?.[0], () => 'gone');
  for (let i = 0; !['gone', 'Z', 'X'].includes((await state()) ?? ''); i++) {
    assert.ok(i < 500, `the child is still in state ${await state()}`);
    await delay(10);
  }
  await environment.destroy();
});

test('createSandbox("process") needs nothing from the host and hands the Runtime API address through unchanged', async () => {
  const sandbox = createSandbox('process', { dataDir: '/nonexistent/kindling-data' });
  assert.ok(sandbox instanceof ProcessSandbox);
  assert.equal(sandbox.runtimeApiTransport, 'tcp');
  assert.equal(sandbox.runtimeApiAddress('127.0.0.1:40123'), '127.0.0.1:40123');
  assert.equal(await sandbox.reapStale(), 0);
  await sandbox.close();
});
