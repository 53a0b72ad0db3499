import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultMaxMemoryMb, memoryCgroup, memoryLimitFiles, parseMemoryLimitMb } from '../../../src/config/host-memory.js';
import { loadConfig } from '../../../src/config/config.js';

test('the default capacity is 80% of the smaller of host RAM and the cgroup limit', () => {
  assert.equal(defaultMaxMemoryMb({ totalMb: 10_000 }), 8000);
  assert.equal(defaultMaxMemoryMb({ totalMb: 10_000, cgroupLimitMb: 4096 }), 3276);
  assert.equal(defaultMaxMemoryMb({ totalMb: 2048, cgroupLimitMb: 4096 }), 1638);
});

test('the memory cgroup is found for cgroup v1 (also in a hybrid layout) and v2', () => {
  const hybrid = '9:name=systemd:/\n5:cpu,cpuacct:/\n4:memory:/process_api/abc\n0::/\n';
  assert.deepEqual(memoryCgroup(hybrid), { version: 1, path: '/process_api/abc' });
  assert.deepEqual(memoryCgroup('3:cpu,memory:/\n'), { version: 1, path: '/' });
  assert.deepEqual(memoryCgroup('0::/system.slice/kindling.service\n'), { version: 2, path: '/system.slice/kindling.service' });
  assert.equal(memoryCgroup(''), undefined);
  assert.equal(memoryCgroup('2:cpu:/\n'), undefined);
});

test('limit files: the own cgroup first, then the root of the mount (what a container sees)', () => {
  assert.deepEqual(memoryLimitFiles({ version: 1, path: '/a/b' }), ['/sys/fs/cgroup/memory/a/b/memory.limit_in_bytes', '/sys/fs/cgroup/memory/memory.limit_in_bytes']);
  assert.deepEqual(memoryLimitFiles({ version: 2, path: '/' }), ['/sys/fs/cgroup/memory.max']);
  assert.deepEqual(memoryLimitFiles({ version: 2, path: '/k.service' }, '/cg'), ['/cg/k.service/memory.max', '/cg/memory.max']);
});

test('"max" and page-rounded 2^63 mean no limit; bytes become whole MB', () => {
  assert.equal(parseMemoryLimitMb('max\n'), undefined);
  assert.equal(parseMemoryLimitMb('9223372036854771712\n'), undefined);
  assert.equal(parseMemoryLimitMb('2147483648\n'), 2048);
  assert.equal(parseMemoryLimitMb(''), undefined);
});

test('KINDLING_MAX_MEMORY_MB and KINDLING_PLACEMENT_WAIT_MS are read and checked; the measured default is used otherwise', () => {
  const measured = () => ({ totalMb: 8192, cgroupLimitMb: 1000 });
  assert.equal(loadConfig({}, {}, '/', measured).maxMemoryMb, 800);
  const config = loadConfig({ KINDLING_MAX_MEMORY_MB: '2048', KINDLING_PLACEMENT_WAIT_MS: '0' }, {}, '/', () => assert.fail('not measured when set'));
  assert.deepEqual([config.maxMemoryMb, config.placementWaitMs], [2048, 0]);
  assert.throws(() => loadConfig({ KINDLING_MAX_MEMORY_MB: '64', KINDLING_PLACEMENT_WAIT_MS: '-1' }, {}, '/', measured), (error: Error & { problems?: string[] }) => {
    assert.equal(error.problems?.length, 2);
    return true;
  });
  // A tiny host still gets room for one smallest function.
  assert.equal(loadConfig({}, {}, '/', () => ({ totalMb: 100 })).maxMemoryMb, 128);
});
