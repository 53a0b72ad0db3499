import assert from 'node:assert/strict';
import { test } from 'node:test';
import { heldBackMb, place, type EnvironmentView, type PlacementRequest, type PoolSnapshot, type Reservation } from '../../../src/invoke/placement.js';

/** An environment of function `fn` (key `fn:v1` unless given), 128 MB, idle, last used at `lastUsedMs`. */
function env(id: string, fields: Partial<EnvironmentView> = {}): EnvironmentView {
  const functionId = fields.functionId ?? 'a/f';
  return { id, key: `${functionId}:v1`, functionId, memoryMb: 128, status: 'idle', provisioned: false, lastUsedMs: 0, ...fields };
}

function snapshot(fields: Partial<PoolSnapshot> = {}): PoolSnapshot {
  return {
    capacityMb: 1024,
    maxEnvironments: Infinity,
    spareMb: 0,
    accountLimit: 1000,
    environments: [],
    reservations: new Map(),
    inFlight: new Map(),
    ...fields,
  };
}

function request(fields: Partial<PlacementRequest> = {}): PlacementRequest {
  const functionId = fields.functionId ?? 'a/f';
  return { functionId, key: `${functionId}:v1`, memoryMb: 128, admitted: false, queuedAhead: 0, ...fields };
}

const reservations = (entries: Record<string, Reservation>) => new Map(Object.entries(entries));

test('an idle environment of the key is reused: provisioned first, then the most recently used', () => {
  const environments = [env('old', { lastUsedMs: 1 }), env('recent', { lastUsedMs: 9 }), env('busy', { status: 'busy', lastUsedMs: 20 }), env('other-key', { key: 'a/f:v2', lastUsedMs: 30 })];
  assert.deepEqual(place(snapshot({ environments }), request()), { kind: 'use', environmentId: 'recent' });
  const withProvisioned = [...environments, env('prov', { provisioned: true, lastUsedMs: 0 })];
  assert.deepEqual(place(snapshot({ environments: withProvisioned }), request()), { kind: 'use', environmentId: 'prov' });
});

test('with room and no idle environment of the key, a new one starts', () => {
  const environments = [env('busy', { status: 'busy' }), env('starting', { status: 'starting' }), env('other', { key: 'a/f:v2' })];
  assert.deepEqual(place(snapshot({ environments }), request()), { kind: 'start', evict: [], releaseSpareMb: 0 });
});

test('a provisioned start never takes an idle environment', () => {
  const environments = [env('idle')];
  assert.deepEqual(place(snapshot({ environments }), request({ provisioned: true, admitted: true })), { kind: 'start', evict: [], releaseSpareMb: 0 });
});

test('when the node is short, spares are released first, then idle environments are evicted least recently used first', () => {
  // 1024 MB: 6 × 128 used by idle/busy environments of other functions, 128 MB of spares → 128 free, 256 needed.
  const environments = [
    env('g-new', { functionId: 'a/g', lastUsedMs: 50 }),
    env('g-old', { functionId: 'a/g', lastUsedMs: 10 }),
    env('h-mid', { functionId: 'a/h', lastUsedMs: 30 }),
    env('busy-old', { functionId: 'a/h', status: 'busy', lastUsedMs: 1 }),
    env('prov-old', { functionId: 'a/h', provisioned: true, lastUsedMs: 2 }),
    env('starting', { functionId: 'a/h', status: 'starting' }),
  ];
  const base = snapshot({ environments, spareMb: 128 });
  assert.deepEqual(place(base, request({ memoryMb: 256 })), { kind: 'start', evict: [], releaseSpareMb: 128 });
  assert.deepEqual(place(base, request({ memoryMb: 512 })), { kind: 'start', evict: ['g-old', 'h-mid'], releaseSpareMb: 128 });
  assert.deepEqual(place(base, request({ memoryMb: 640 })), { kind: 'start', evict: ['g-old', 'h-mid', 'g-new'], releaseSpareMb: 128 });
  // Busy, starting and provisioned environments are never evicted: 768 cannot be found.
  assert.deepEqual(place(base, request({ memoryMb: 768 })), { kind: 'wait' });
});

test('the uid range bounds the number of environments: an idle one is evicted, else the request waits', () => {
  const environments = [env('g', { functionId: 'a/g', lastUsedMs: 5 }), env('busy', { functionId: 'a/g', status: 'busy' })];
  assert.deepEqual(place(snapshot({ environments, maxEnvironments: 2 }), request()), { kind: 'start', evict: ['g'], releaseSpareMb: 0 });
  const allBusy = [env('b1', { status: 'busy' }), env('b2', { status: 'busy' })];
  assert.deepEqual(place(snapshot({ environments: allBusy, maxEnvironments: 2 }), request()), { kind: 'wait' });
});

test('a request larger than the whole capacity is throttled at once', () => {
  assert.deepEqual(place(snapshot({ capacityMb: 1024 }), request({ memoryMb: 2048 })), { kind: 'throttle', reason: 'ConcurrentInvocationLimitExceeded' });
});

test('waiting is first come, first served: a later request does not start while an earlier one waits', () => {
  assert.deepEqual(place(snapshot(), request({ queuedAhead: 1 })), { kind: 'wait' });
  // ... but an idle environment of its key needs no capacity.
  assert.deepEqual(place(snapshot({ environments: [env('idle')] }), request({ queuedAhead: 3 })), { kind: 'use', environmentId: 'idle' });
  // ... and a reserved function within its guarantee does not queue behind others' demand.
  assert.deepEqual(place(snapshot(), request({ queuedAhead: 3, reservedConcurrency: 1 })), { kind: 'start', evict: [], releaseSpareMb: 0 });
  const atGuarantee = snapshot({ environments: [env('mine', { status: 'busy' })] });
  assert.deepEqual(place(atGuarantee, request({ queuedAhead: 3, reservedConcurrency: 1, admitted: true })), { kind: 'wait' });
});

test('reserved concurrency caps the function: at the cap (or 0) it is throttled at once, never queued', () => {
  const full = snapshot({ inFlight: new Map([['a/f', 3]]) });
  const reserved = 'ReservedFunctionConcurrentInvocationLimitExceeded';
  assert.deepEqual(place(full, request({ reservedConcurrency: 3 })), { kind: 'throttle', reason: reserved });
  assert.deepEqual(place(full, request({ reservedConcurrency: 4 })).kind, 'start');
  assert.deepEqual(place(snapshot(), request({ reservedConcurrency: 0 })), { kind: 'throttle', reason: reserved });
  // Admitted requests (waiters placed again) are not counted twice.
  assert.deepEqual(place(full, request({ reservedConcurrency: 3, admitted: true })).kind, 'start');
});

test('unreserved functions share the account limit minus every reservation', () => {
  const reason = 'ConcurrentInvocationLimitExceeded';
  const fields = {
    accountLimit: 200,
    reservations: reservations({ 'a/r': { reserved: 50, memoryMb: 1 } }),
    // 140 unreserved in flight (f and g) plus 30 of the reserved function, which do not count.
    inFlight: new Map([['a/f', 100], ['a/g', 40], ['a/r', 30]]),
  };
  assert.equal(place(snapshot({ ...fields, capacityMb: 1_000_000 }), request()).kind, 'start');
  const full = { ...fields, capacityMb: 1_000_000, inFlight: new Map([['a/f', 110], ['a/g', 40]]) };
  assert.deepEqual(place(snapshot(full), request()), { kind: 'throttle', reason });
  assert.deepEqual(place(snapshot(full), request({ functionId: 'a/new' })), { kind: 'throttle', reason });
  // The reserved function itself is not limited by the unreserved pool.
  assert.equal(place(snapshot(full), request({ functionId: 'a/r', reservedConcurrency: 50 })).kind, 'start');
});

test('held back = Σ over other reserved functions of (reserved − environments) × MemorySize, at most the capacity', () => {
  const r = reservations({ 'a/r': { reserved: 4, memoryMb: 256 }, 'a/s': { reserved: 2, memoryMb: 128 } });
  assert.equal(heldBackMb(10_000, r, new Map()), 4 * 256 + 2 * 128);
  assert.equal(heldBackMb(10_000, r, new Map([['a/r', 3]])), 1 * 256 + 2 * 128);
  assert.equal(heldBackMb(10_000, r, new Map([['a/r', 9], ['a/s', 1]])), 128, 'more environments than reserved hold nothing back');
  assert.equal(heldBackMb(1000, r, new Map()), 1000);
});

test('the reservation of another function keeps its memory free; the function itself may use it', () => {
  // 1024 MB, r reserves 4 × 128 = 512 and has one environment: 384 held back; 4 busy environments of f use 512.
  const environments = [env('r1', { functionId: 'a/r', status: 'busy' }), ...[1, 2, 3].map((i) => env(`f${i}`, { status: 'busy' }))];
  const fields = { environments, reservations: reservations({ 'a/r': { reserved: 4, memoryMb: 128 } }) };
  // f: 1024 − 512 used − 384 held = 128 free: one more fits, the next does not.
  assert.equal(place(snapshot(fields), request()).kind, 'start');
  const more = { ...fields, environments: [...environments, env('f4', { status: 'busy' })] };
  assert.deepEqual(place(snapshot(more), request()), { kind: 'wait' });
  // r starts its second, third, fourth environments regardless.
  assert.equal(place(snapshot(more), request({ functionId: 'a/r', reservedConcurrency: 4 })).kind, 'start');
});

test('an idle environment a reservation would claim straight back is not evicted for another function', () => {
  // r reserves 2 and has two idle environments (its guarantee); g has one idle, older than both.
  const environments = [
    env('r1', { functionId: 'a/r', lastUsedMs: 1 }),
    env('r2', { functionId: 'a/r', lastUsedMs: 2 }),
    env('g1', { functionId: 'a/g', lastUsedMs: 3 }),
    ...[1, 2, 3, 4, 5].map((i) => env(`f${i}`, { status: 'busy' })),
  ];
  const fields = { environments, reservations: reservations({ 'a/r': { reserved: 2, memoryMb: 128 } }) };
  assert.deepEqual(place(snapshot(fields), request()), { kind: 'start', evict: ['g1'], releaseSpareMb: 0 });
  // Beyond its reservation, r's environments are fair game (least recently used first).
  const three = reservations({ 'a/r': { reserved: 1, memoryMb: 128 } });
  assert.deepEqual(place(snapshot({ ...fields, reservations: three, capacityMb: 1024 }), request({ memoryMb: 256 })), {
    kind: 'start',
    evict: ['r1', 'g1'],
    releaseSpareMb: 0,
  });
});

test('a start that takes a ready spare of its key converts the spare memory: it fits without releasing that spare', () => {
  // 1024 MB: 7 × 128 used by idle environments of another function, one 128 MB spare (this request's key) → 0 free.
  const environments = Array.from({ length: 7 }, (_, i) => env(`g${i}`, { functionId: 'a/g', lastUsedMs: i }));
  const full = snapshot({ environments, spareMb: 128 });
  assert.deepEqual(place(full, request({ spareReady: true })), { kind: 'start', evict: [], releaseSpareMb: 0 });
  // Without a ready spare of its own key, the spare (someone else's) is released to make room.
  assert.deepEqual(place(full, request()), { kind: 'start', evict: [], releaseSpareMb: 128 });
  // Two spares (256 MB), one of them this request's: the other one goes, not the one being taken.
  const fuller = snapshot({ environments: [...environments, env('g7', { functionId: 'a/g', lastUsedMs: 7 })], capacityMb: 1280, spareMb: 256 });
  assert.deepEqual(place(fuller, request({ spareReady: true })), { kind: 'start', evict: [], releaseSpareMb: 0 });
  assert.deepEqual(place(snapshot({ environments: [...environments, env('g7', { functionId: 'a/g', lastUsedMs: 7 })], capacityMb: 1152, spareMb: 256 }), request({ spareReady: true })), {
    kind: 'start',
    evict: [],
    releaseSpareMb: 128,
  });
});

test('spares still starting cannot be released, and every spare holds a uid slot', () => {
  // 1024 MB: 6 × 128 in environments, 256 MB of spares of which only 128 are ready → releasing frees 128 at most.
  const environments = Array.from({ length: 6 }, (_, i) => env(`g${i}`, { functionId: 'a/g', status: 'busy', lastUsedMs: i }));
  const base = snapshot({ environments, spareMb: 256, releasableSpareMb: 128, spareCount: 2 });
  assert.deepEqual(place(base, request()), { kind: 'start', evict: [], releaseSpareMb: 128 });
  assert.deepEqual(place(base, request({ memoryMb: 256 })), { kind: 'wait' }, 'the starting spare is no room');
  // Eight uid slots: six environments and two spares fill them; a converted spare brings its own slot.
  const slots = snapshot({ environments, spareMb: 256, releasableSpareMb: 256, spareCount: 2, capacityMb: 4096, maxEnvironments: 8 });
  assert.deepEqual(place(slots, request()), { kind: 'wait' });
  assert.deepEqual(place(slots, request({ spareReady: true })), { kind: 'start', evict: [], releaseSpareMb: 0 });
});
