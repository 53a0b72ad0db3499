/** The pool's capacity, concurrency and provisioned behaviour over stand-in environments (placement.ts decides). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EnvironmentTarget, ExecutionEnvironment } from '../../../src/environments/execution-environment.js';
import { EnvironmentPool, type EnvironmentPoolDeps, type SpareSandboxes } from '../../../src/invoke/environment-pool.js';
import type { FunctionVersion } from '../../../src/model/function.js';
import { createSilentLogger } from '../../../src/shared/logger.js';
import { clockReading } from '../../support/manual-clock.js';

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

/** Spares that hold nothing; tests override what they need. */
const NO_SPARES: SpareSandboxes = { memoryMb: () => 0, readyMemoryMb: () => 0, count: () => 0, readyFor: () => false, release: async () => 0, refill: () => {} };

const fake = (env: ExecutionEnvironment) => env as unknown as FakeEnvironment;
const real = (env: FakeEnvironment) => env as unknown as ExecutionEnvironment;

function version(functionName = 'fn', fields: Partial<FunctionVersion> = {}): FunctionVersion {
  return {
    accountId: '000000000000', functionName, version: '$LATEST', revisionId: 'rev-1', lastModifiedMs: 0, state: 'Active',
    code: { sha256Hex: 'a'.repeat(64), sizeBytes: 1, unzippedBytes: 1 },
    settings: { memorySizeMb: 128, timeoutSeconds: 3 } as FunctionVersion['settings'],
    ...fields,
  };
}

const target = (functionName = 'fn', initializationType: EnvironmentTarget['initializationType'] = 'on-demand'): EnvironmentTarget => ({
  version: version(functionName),
  codeDir: '/code',
  initializationType,
});

/**
 * A pool of `room` × 128 MB. With `gated`, each start waits until the test calls `open()` on it (in start order).
 */
function pool(options: { room?: number; gated?: boolean; placementWaitMs?: number; limit?: number } & Partial<EnvironmentPoolDeps> = {}) {
  const started: FakeEnvironment[] = [];
  const gates: (() => void)[] = [];
  let gateArrived: (() => void) | undefined;
  let tick = 0;
  const p = new EnvironmentPool({
    start: async (t) => {
      if (options.gated) {
        await new Promise<void>((resolve) => {
          gates.push(resolve);
          gateArrived?.();
        });
      }
      const env = new FakeEnvironment(t);
      started.push(env);
      return real(env);
    },
    // Every reading is later than the one before: "least recently used" never ties.
    clock: clockReading(() => ++tick),
    log: createSilentLogger(),
    keepAliveMs: 60_000,
    maxMemoryMb: 128 * (options.room ?? 10),
    placementWaitMs: options.placementWaitMs ?? 10_000,
    accountConcurrencyLimit: options.limit ?? 1000,
    ...(options.spares ? { spares: options.spares } : {}),
    ...(options.maxConcurrentStarts === undefined ? {} : { maxConcurrentStarts: options.maxConcurrentStarts }),
    ...(options.onProvisionedLost ? { onProvisionedLost: options.onProvisionedLost } : {}),
  });
  /** Resolves when `n` starts are waiting at their gate. */
  const gatesWaiting = async (n: number) => {
    while (gates.length < n) await new Promise<void>((resolve) => (gateArrived = resolve));
  };
  return { p, started, gates, gatesWaiting };
}

test('a request waiting for its cold start takes a warm environment released meanwhile; the new one goes idle', async (t) => {
  const { p, started, gates, gatesWaiting } = pool({ gated: true });
  t.after(() => p.close());
  const first = p.acquire(target());
  await gatesWaiting(1);
  gates[0]!();
  const a = await first;
  const second = p.acquire(target());
  await gatesWaiting(2);
  p.release(a);
  assert.equal(await second, a, 'the warm environment came first');
  gates[1]!();
  // The start completes in microtasks: by the next macrotask the new environment is idle.
  await new Promise((r) => setImmediate(r));
  const third = await p.acquire(target());
  assert.equal(started.length, 2);
  assert.equal(fake(third), started[1], 'the environment started for the second request serves the next one');
});

test('when the node is full, the least recently used idle environment of another function is evicted', async (t) => {
  const { p, started } = pool({ room: 2 });
  t.after(() => p.close());
  const g = await p.acquire(target('g'));
  const h = await p.acquire(target('h'));
  p.release(g);
  p.release(h);
  const f = await p.acquire(target('f'));
  assert.equal(fake(g).destroyed, true, 'g was used least recently');
  assert.equal(fake(h).destroyed, false);
  assert.equal(started.length, 3);
  assert.equal(p.size, 2);
  p.release(f);
});

test('a request waits for capacity up to the placement wait, then it is throttled', async (t) => {
  const { p } = pool({ room: 1, placementWaitMs: 50 });
  t.after(() => p.close());
  const busy = await p.acquire(target('g'));
  const began = Date.now();
  await assert.rejects(p.acquire(target('f')), { code: 'ERR_INVOKE_THROTTLED', reason: 'ConcurrentInvocationLimitExceeded' });
  assert.ok(Date.now() - began >= 45, 'it waited first');
  p.release(busy);
  // Its concurrency was given back: a later request is admitted and placed (evicting g's idle environment).
  p.release(await p.acquire(target('f')));
});

test('reserved concurrency: beyond it, throttled at once; 0 throttles everything', async (t) => {
  const { p } = pool();
  t.after(() => p.close());
  const held = [await p.acquire(target(), { reservedConcurrency: 2 }), await p.acquire(target(), { reservedConcurrency: 2 })];
  await assert.rejects(p.acquire(target(), { reservedConcurrency: 2 }), { reason: 'ReservedFunctionConcurrentInvocationLimitExceeded' });
  p.release(held[0]!);
  const again = await p.acquire(target(), { reservedConcurrency: 2 });
  await assert.rejects(p.acquire(target('zero'), { reservedConcurrency: 0 }), { reason: 'ReservedFunctionConcurrentInvocationLimitExceeded' });
  p.release(again);
  p.release(held[1]!);
});

test('unreserved functions are throttled beyond the account limit minus the reservations', async (t) => {
  const { p } = pool({ room: 1000, limit: 3 });
  t.after(() => p.close());
  p.setReservations('000000000000', [{ functionName: 'r', reservedConcurrency: 1, memorySizeMb: 128 }]);
  const held = [await p.acquire(target('f')), await p.acquire(target('g'))];
  await assert.rejects(p.acquire(target('h')), { reason: 'ConcurrentInvocationLimitExceeded' });
  const reserved = await p.acquire(target('r'), { reservedConcurrency: 1 });
  for (const env of [...held, reserved]) p.release(env);
});

test('a reserved function starts within its guarantee while another floods the node', async (t) => {
  const { p } = pool({ room: 4, placementWaitMs: 1000 });
  t.after(() => p.close());
  p.setReservations('000000000000', [{ functionName: 'a', reservedConcurrency: 2, memorySizeMb: 128 }]);
  const flood = [await p.acquire(target('b')), await p.acquire(target('b'))];
  const waiting = p.acquire(target('b'));
  const guaranteed = [await p.acquire(target('a'), { reservedConcurrency: 2 }), await p.acquire(target('a'), { reservedConcurrency: 2 })];
  assert.equal(p.size, 4);
  p.release(flood[0]!);
  p.release(await waiting);
  for (const env of [flood[1]!, ...guaranteed]) p.release(env);
});

test('spares are released before anything is evicted', async (t) => {
  let spareMb = 256;
  const released: number[] = [];
  const { p } = pool({
    room: 4,
    spares: {
      ...NO_SPARES,
      memoryMb: () => spareMb,
      readyMemoryMb: () => spareMb,
      release: async (mb) => {
        released.push(mb);
        spareMb -= mb;
        return mb;
      },
    },
  });
  t.after(() => p.close());
  const idle = await p.acquire(target('g'));
  const busy = await p.acquire(target('g'));
  p.release(idle);
  p.release(await p.acquire(target('f')));
  assert.deepEqual(released, [128]);
  assert.equal(fake(idle).destroyed, false);
  p.release(busy);
});

test('provisioned environments are preferred, never reclaimed, reported when lost and retired on request', async (t) => {
  const lost: string[] = [];
  const { p } = pool({ room: 3, onProvisionedLost: (env) => lost.push(env.id) });
  t.after(() => p.close());
  const prov = await p.startProvisioned(target('fn', 'provisioned-concurrency'));
  assert.equal(await p.acquire(target()), prov);
  const onDemand = await p.acquire(target());
  p.release(prov);
  p.release(onDemand);
  assert.equal(await p.acquire(target()), prov, 'the provisioned environment is taken before a more recent on-demand one');
  fake(prov).reusable = false;
  p.release(prov);
  assert.deepEqual(lost, [prov.id]);
  const second = await p.startProvisioned(target('fn', 'provisioned-concurrency'));
  // A full node: the idle on-demand environment is evicted for a provisioned one; then nothing more fits.
  await p.startProvisioned(target('other', 'provisioned-concurrency'));
  await p.startProvisioned(target('other', 'provisioned-concurrency'));
  assert.equal(fake(onDemand).destroyed, true);
  await assert.rejects(p.startProvisioned(target('other', 'provisioned-concurrency')), { code: 'ERR_INVOKE_THROTTLED' });
  const busy = await p.acquire(target());
  assert.equal(busy, second);
  await p.retireProvisioned(second);
  assert.equal(fake(second).destroyed, false, 'busy: it stops when released');
  p.release(second);
  assert.equal(fake(second).destroyed, true);
  assert.deepEqual(lost, [prov.id], 'a retired environment is not reported lost');
});

test('with a start gate, at most N environments start at once; a request still at the gate is served by a released environment and starts nothing', async (t) => {
  const { p, started, gates, gatesWaiting } = pool({ gated: true, maxConcurrentStarts: 1 });
  t.after(() => p.close());
  const first = p.acquire(target());
  const second = p.acquire(target());
  const third = p.acquire(target());
  await gatesWaiting(1);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(gates.length, 1, 'one start under way, two requests queued at the gate');
  assert.equal(p.size, 3, 'the queued starts hold their place (and memory) in the pool');
  gates[0]!();
  const a = await first;
  await gatesWaiting(2); // the slot passed to the second request's start
  p.release(a);
  assert.equal(await second, a, 'the warm environment came before the second start finished');
  p.release(a);
  assert.equal(await third, a, 'the third request, still at the gate, took it too');
  gates[1]!();
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(gates.length, 2, 'no start was made for the request served at the gate');
  assert.equal(started.length, 2);
  assert.equal(p.size, 2, 'the second start went idle');
});

test('hasRoomForSpare: only memory no environment, spare or guarantee holds, a free slot, and nobody waiting', async (t) => {
  let spareMb = 0;
  const { p } = pool({ room: 3, spares: { ...NO_SPARES, memoryMb: () => spareMb } });
  t.after(() => p.close());
  assert.equal(p.hasRoomForSpare(128), true);
  const a = await p.acquire(target('f'));
  spareMb = 128;
  assert.equal(p.hasRoomForSpare(128), true, '128 of 384 left');
  assert.equal(p.hasRoomForSpare(256), false);
  const b = await p.acquire(target('f'));
  assert.equal(p.hasRoomForSpare(128), false, 'two environments and a spare fill 384 MB');
  p.release(a);
  p.release(b);
  p.setReservations('000000000000', [{ functionName: 'r', reservedConcurrency: 1, memorySizeMb: 128 }]);
  spareMb = 0;
  assert.equal(p.hasRoomForSpare(128), false, "128 MB is held back for r's guarantee");
});
