import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EnvironmentTarget, ExecutionEnvironment } from '../../../src/environments/execution-environment.js';
import { EnvironmentPool } from '../../../src/invoke/environment-pool.js';
import type { FunctionVersion } from '../../../src/model/function.js';
import { systemClock } from '../../../src/shared/clock.js';
import { createSilentLogger } from '../../../src/shared/logger.js';

/** Stand-in environments: the pool only needs identity, reusability and destroy(). */
class FakeEnvironment {
  static count = 0;
  readonly id = `env-${++FakeEnvironment.count}`;
  reusable = true;
  destroyed = false;
  constructor(readonly target: EnvironmentTarget) {}
  get isReusable(): boolean {
    return this.reusable && !this.destroyed;
  }
  async destroy(): Promise<void> {
    this.destroyed = true;
  }
}

function version(fields: Partial<FunctionVersion> = {}): FunctionVersion {
  return {
    accountId: '000000000000', functionName: 'fn', version: '$LATEST', revisionId: 'rev-1', lastModifiedMs: 0, state: 'Active',
    code: { sha256Hex: 'a'.repeat(64), sizeBytes: 1, unzippedBytes: 1 },
    settings: { memorySizeMb: 128, timeoutSeconds: 3 } as FunctionVersion['settings'],
    ...fields,
  };
}

/** `room` environments of 128 MB fit the node. */
function pool(options: { room?: number; keepAliveMs?: number } = {}) {
  const started: FakeEnvironment[] = [];
  const p = new EnvironmentPool({
    start: async (target) => {
      const env = new FakeEnvironment(target);
      started.push(env);
      return env as unknown as ExecutionEnvironment;
    },
    clock: systemClock,
    log: createSilentLogger(),
    keepAliveMs: options.keepAliveMs ?? 60_000,
    maxMemoryMb: 128 * (options.room ?? 10),
    placementWaitMs: 10_000,
    accountConcurrencyLimit: 1000,
  });
  return { p, started };
}

const target = (v: FunctionVersion): EnvironmentTarget => ({ version: v, codeDir: '/code', initializationType: 'on-demand' });

test('a released environment is handed out again warm; a busy one is not', async (t) => {
  const { p, started } = pool();
  t.after(() => p.close());
  const a = await p.acquire(target(version()));
  const b = await p.acquire(target(version()));
  assert.notEqual(a, b, 'concurrent invocations get separate environments');
  p.release(a);
  assert.equal(await p.acquire(target(version())), a);
  assert.equal(started.length, 2);
});

test('when the node is full, a request waits for the next release, in order', async (t) => {
  const { p, started } = pool({ room: 1 });
  t.after(() => p.close());
  const a = await p.acquire(target(version()));
  const order: string[] = [];
  const first = p.acquire(target(version())).then((env) => (order.push('first'), env));
  const second = p.acquire(target(version())).then((env) => (order.push('second'), env));
  p.release(a);
  assert.equal(await first, a);
  p.release(a);
  assert.equal(await second, a);
  assert.deepEqual(order, ['first', 'second']);
  assert.equal(started.length, 1);
});

test('an environment that cannot be reused is destroyed and a waiter gets a fresh one', async (t) => {
  const { p, started } = pool({ room: 1 });
  t.after(() => p.close());
  const a = (await p.acquire(target(version()))) as unknown as FakeEnvironment;
  const next = p.acquire(target(version()));
  a.reusable = false;
  p.release(a as unknown as ExecutionEnvironment);
  const b = await next;
  assert.notEqual(b, a);
  assert.equal(a.destroyed, true);
  assert.equal(started.length, 2);
});

test('new code or configuration (another revision) gets a new environment and the old ones drain', async (t) => {
  const { p } = pool();
  t.after(() => p.close());
  const old = (await p.acquire(target(version()))) as unknown as FakeEnvironment;
  const idleOld = (await p.acquire(target(version()))) as unknown as FakeEnvironment;
  p.release(idleOld as unknown as ExecutionEnvironment);
  const fresh = await p.acquire(target(version({ revisionId: 'rev-2' })));
  assert.notEqual(fresh, old);
  assert.equal(idleOld.destroyed, true, 'an idle environment of the old revision stops at once');
  p.release(old as unknown as ExecutionEnvironment);
  assert.equal(old.destroyed, true, 'a busy one stops when it is released');
});

test('retiring a deleted function stops its idle environments and those in use when they come back', async (t) => {
  const { p } = pool();
  t.after(() => p.close());
  const busy = (await p.acquire(target(version()))) as unknown as FakeEnvironment;
  const idle = (await p.acquire(target(version()))) as unknown as FakeEnvironment;
  const other = (await p.acquire(target(version({ functionName: 'fn2' })))) as unknown as FakeEnvironment;
  p.release(idle as unknown as ExecutionEnvironment);
  p.release(other as unknown as ExecutionEnvironment);
  await p.retire('000000000000', 'fn');
  assert.equal(idle.destroyed, true);
  assert.equal(other.destroyed, false, 'another function (even one whose name starts the same) is untouched');
  p.release(busy as unknown as ExecutionEnvironment);
  assert.equal(busy.destroyed, true);
});

test('an idle environment is reclaimed after the keep-alive', async (t) => {
  const { p } = pool({ keepAliveMs: 20 });
  t.after(() => p.close());
  const env = (await p.acquire(target(version()))) as unknown as FakeEnvironment;
  p.release(env as unknown as ExecutionEnvironment);
  const deadline = Date.now() + 5000;
  while (!env.destroyed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  assert.equal(env.destroyed, true);
  assert.equal(p.size, 0);
});

test('closing the pool stops every environment and refuses waiters and new requests', async (t) => {
  const { p } = pool({ room: 1 });
  t.after(() => p.close());
  const env = (await p.acquire(target(version()))) as unknown as FakeEnvironment;
  const waiting = p.acquire(target(version()));
  await p.close();
  assert.equal(env.destroyed, true);
  await assert.rejects(waiting, { code: 'ERR_INVOKE_SHUTTING_DOWN' });
  await assert.rejects(p.acquire(target(version())), { code: 'ERR_INVOKE_SHUTTING_DOWN' });
});
