/**
 * The spare pool's policy over a fake sandbox (real Runtime API listeners; the fake runtime only asks for its binding):
 * which keys are kept, one refill at a time and none while a start runs, the key bound, release for capacity, close.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { test, type TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { Sandbox, SandboxExit, SandboxProcess, SandboxSpec } from '../../../src/environments/sandbox.js';
import { SparePool } from '../../../src/environments/spare-pool.js';
import type { FunctionVersion } from '../../../src/model/function.js';
import { createSilentLogger } from '../../../src/shared/logger.js';
import { aFunctionVersion } from '../../support/function-version.js';

function version(runtime: string, memorySizeMb: number, environment?: Record<string, string>): FunctionVersion {
  return aFunctionVersion({ runtime, memorySizeMb, ...(environment ? { environment } : {}) }, { functionName: `fn-${runtime}-${memorySizeMb}` });
}

class FakeSandbox implements Sandbox {
  readonly kind = 'bubblewrap' as const;
  readonly runtimeApiTransport = 'unix' as const;
  readonly lateBinding = true;
  readonly started: SandboxSpec[] = [];
  readonly live = new Set<string>();
  readonly events = new EventEmitter();
  constructor(readonly socketRoot: string) {}
  runtimeApiAddress(): string {
    return '127.0.0.1:9001';
  }
  async start(spec: SandboxSpec): Promise<SandboxProcess> {
    this.started.push(spec);
    this.live.add(spec.id);
    let exit!: (e: SandboxExit) => void;
    const exited = new Promise<SandboxExit>((resolve) => (exit = resolve));
    // The runtime: asks for its binding (and would wait there).
    const req = http.request({ socketPath: spec.runtimeApiSocket!, path: '/kindling/binding', method: 'GET' });
    req.on('error', () => {});
    req.end();
    const destroy = async (): Promise<void> => {
      req.destroy();
      this.live.delete(spec.id);
      exit({ code: 137, signal: null, oomKilled: false });
      this.events.emit('destroyed', spec.id);
    };
    return {
      pid: 1, stdout: new PassThrough(), stderr: new PassThrough(), exited,
      maxMemoryUsedBytes: async () => 0, cpuTimeUs: async () => 0, setCpuThrottled: async () => {},
      freeze: async () => {}, thaw: async () => {}, destroy,
      bindCode: async () => {},
    };
  }
  async reapStale(): Promise<number> {
    return 0;
  }
  async close(): Promise<void> {}
}

async function world(t: TestContext, options: { perKey?: number; maxKeys?: number; keepAliveMs?: number } = {}) {
  const socketRoot = await fs.mkdtemp(path.join(os.tmpdir(), 'kd-spares-'));
  const sandbox = new FakeSandbox(socketRoot);
  let now = 1_000;
  const pool = new SparePool({
    sandbox, bootstrapRoot: '/nonexistent', clock: { now: () => now } as never, log: createSilentLogger(),
    perKey: options.perKey ?? 1, maxKeys: options.maxKeys ?? 8, keepAliveMs: options.keepAliveMs ?? 60_000, startTimeoutMs: 5_000,
  });
  t.after(async () => {
    await pool.close();
    await fs.rm(socketRoot, { recursive: true, force: true });
  });
  const settled = async (ready: number): Promise<void> => {
    const deadline = Date.now() + 5_000;
    while (!(pool.stats().ready === ready && pool.stats().starting === 0)) {
      assert.ok(Date.now() < deadline, `never settled at ${ready} ready: ${JSON.stringify(pool.stats())}`);
      await delay(5);
    }
  };
  return { sandbox, pool, settled, advance: (ms: number) => (now += ms) };
}

test('a wanted key gets its spares, one at a time; take hands one out and the key is refilled', async (t) => {
  const { sandbox, pool, settled } = await world(t, { perKey: 2 });
  const node = version('nodejs20.x', 1769);
  assert.equal(pool.take(node), undefined, 'nothing ready the first time; the key is wanted now');
  await settled(2);
  assert.deepEqual(pool.stats().keys, [{ key: 'nodejs20.x/1769/512', ready: 2, starting: 0 }]);
  assert.equal(pool.memoryMb(), 2 * 1769);
  const spec = sandbox.started[0]!;
  assert.equal(spec.codeDir, undefined, 'a spare starts without code');
  assert.equal(spec.limits.memoryMb, 1769);
  assert.deepEqual(spec.command, ['/usr/bin/node', '--max-semi-space-size=27', '--max-old-space-size=1592', '/var/runtime/index.mjs']);
  assert.equal(spec.env._KINDLING_BINDING, '1');
  assert.equal(spec.env.AWS_LAMBDA_FUNCTION_NAME, undefined);

  const spare = pool.take(node);
  assert.ok(spare);
  assert.equal(spare.key.id, 'nodejs20.x/1769/512');
  assert.equal(pool.stats().ready, 1);
  await settled(2);
  assert.equal(sandbox.started.length, 3);
  await Promise.all([spare.process.destroy(), spare.api.close()]);
});

test('no spare starts while an environment start runs; ineligible functions want nothing', async (t) => {
  const { sandbox, pool, settled } = await world(t);
  let finish!: () => void;
  const start = pool.starting(() => new Promise<void>((resolve) => (finish = resolve)));
  assert.equal(pool.take(version('python3.11', 128)), undefined);
  assert.equal(pool.take(version('provided.al2023', 128)), undefined);
  assert.equal(pool.take(version('nodejs20.x', 128, { NODE_OPTIONS: '--x' })), undefined);
  await delay(50);
  assert.equal(sandbox.started.length, 0, 'the start has the CPU');
  finish();
  await start;
  await settled(1);
  assert.deepEqual(pool.stats().keys.map((k) => k.key), ['python3.11/128/512']);
});

test('at most maxKeys keys: the least recently wanted goes, with its spares', async (t) => {
  const { sandbox, pool, settled, advance } = await world(t, { maxKeys: 2 });
  pool.want(version('nodejs20.x', 128));
  await settled(1);
  advance(1);
  pool.want(version('nodejs20.x', 256));
  await settled(2);
  advance(1);
  const destroyed = new Promise((resolve) => sandbox.events.once('destroyed', resolve));
  pool.want(version('python3.11', 128));
  assert.equal(await destroyed, sandbox.started[0]!.id, 'the oldest key\'s spare is destroyed');
  await settled(2);
  assert.deepEqual(pool.stats().keys.map((k) => k.key).sort(), ['nodejs20.x/256/512', 'python3.11/128/512']);
});

test('release frees memory for real work and holds the key until it is wanted again; close destroys every spare', async (t) => {
  const { sandbox, pool, settled } = await world(t);
  pool.want(version('nodejs20.x', 512));
  await settled(1);
  assert.equal(await pool.release(100), 512);
  assert.equal(pool.memoryMb(), 0);
  await delay(50);
  assert.equal(pool.stats().starting, 0, 'not refilled while held');
  pool.want(version('nodejs20.x', 512));
  await settled(1);
  await pool.close();
  assert.deepEqual([...sandbox.live], []);
  assert.equal(pool.take(version('nodejs20.x', 512)), undefined);
});

test('a key not wanted for the keep-alive period is dropped with its spares', async (t) => {
  const { sandbox, pool, settled, advance } = await world(t, { keepAliveMs: 1000 });
  pool.want(version('nodejs20.x', 128));
  await settled(1);
  const destroyed = new Promise((resolve) => sandbox.events.once('destroyed', resolve));
  advance(1001); // the sweep (every keep-alive period, at least 1 s) finds it stale
  assert.equal(await destroyed, sandbox.started[0]!.id);
  assert.deepEqual(pool.stats().keys, []);
});

test('readyFor tells whether a start would take a spare; release with keepFor keeps that spare and frees the others', async (t) => {
  const { pool, settled, advance } = await world(t);
  const small = version('nodejs20.x', 128);
  const large = version('python3.11', 256);
  assert.equal(pool.readyFor(small), false);
  pool.want(small);
  await settled(1);
  advance(1);
  pool.want(large);
  await settled(2);
  assert.equal(pool.readyFor(small), true);
  assert.equal(pool.readyFor(version('provided.al2023', 128)), false);
  assert.equal(await pool.release(10_000, small), 256, 'only the other key\'s spare was released');
  assert.equal(pool.readyFor(small), true);
  assert.equal(pool.readyFor(large), false);
  const spare = pool.take(small);
  assert.ok(spare, 'the kept spare is still there for the start');
  await Promise.all([spare.process.destroy(), spare.api.close()]);
});

test('a spare starts only when the node has room for it, and refill tries again', async (t) => {
  const { sandbox, pool, settled } = await world(t);
  let room = false;
  pool.setRoomCheck((memoryMb) => {
    assert.equal(memoryMb, 512);
    return room;
  });
  pool.want(version('nodejs20.x', 512));
  await delay(50);
  assert.equal(sandbox.started.length, 0, 'no room: no spare');
  assert.equal(pool.count(), 0);
  room = true;
  pool.refill();
  await settled(1);
  assert.equal(pool.count(), 1);
  assert.equal(pool.readyMemoryMb(), 512);
});
