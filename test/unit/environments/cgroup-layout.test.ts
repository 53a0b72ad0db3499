import assert from 'node:assert/strict';
import { test } from 'node:test';
import { detectCgroupLayout, type CgroupLayoutSources } from '../../../src/environments/cgroups/cgroup-layout.js';
import { CgroupV1Driver } from '../../../src/environments/cgroups/cgroup-v1.js';
import { CgroupV2Driver } from '../../../src/environments/cgroups/cgroup-v2.js';
import { createCgroupDriver } from '../../../src/environments/cgroups/create-cgroup-driver.js';
import { SandboxError } from '../../../src/environments/sandbox.js';

// This machine's layout: v1 hierarchies per controller, cgroup2 mounted on the side with none of ours.
const HYBRID: CgroupLayoutSources = {
  procSelfCgroup: [
    '9:name=systemd:/',
    '8:pids:/',
    '6:freezer:/',
    '4:memory:/process_api/aff0584f',
    '2:cpuacct:/',
    '1:cpu:/',
    '0::/',
  ].join('\n'),
  mountinfo: [
    '30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
    '31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu',
    '32 30 0:29 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct',
    '34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
    '36 30 0:33 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer',
    '38 30 0:35 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids',
    '39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd',
    '40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
  ].join('\n'),
  v2Controllers: () => ['hugetlb'],
};

const UNIFIED: CgroupLayoutSources = {
  procSelfCgroup: '0::/system.slice/kindling.service\n',
  mountinfo: '25 21 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n',
  v2Controllers: (dir) => (dir === '/sys/fs/cgroup/system.slice/kindling.service' ? ['cpu', 'io', 'memory', 'pids'] : []),
};

test('a hybrid host places each controller on its v1 hierarchy even though cgroup2 is mounted', () => {
  const layout = detectCgroupLayout(HYBRID);
  assert.deepEqual(layout.controllers, {
    memory: { version: 'v1', dir: '/sys/fs/cgroup/memory/process_api/aff0584f' },
    cpu: { version: 'v1', dir: '/sys/fs/cgroup/cpu' },
    cpuacct: { version: 'v1', dir: '/sys/fs/cgroup/cpuacct' },
    pids: { version: 'v1', dir: '/sys/fs/cgroup/pids' },
    freezer: { version: 'v1', dir: '/sys/fs/cgroup/freezer' },
  });
  assert.equal(layout.unifiedDir, '/sys/fs/cgroup/unified');
  assert.ok(createCgroupDriver('abc', { layout }) instanceof CgroupV1Driver);
});

test('a unified host places every controller its cgroup offers in the process\'s own v2 directory', () => {
  const layout = detectCgroupLayout(UNIFIED);
  const own = { version: 'v2', dir: '/sys/fs/cgroup/system.slice/kindling.service' };
  assert.deepEqual(layout.controllers, { memory: own, cpu: own, cpuacct: own, pids: own, freezer: own });
  assert.ok(createCgroupDriver('abc', { layout }) instanceof CgroupV2Driver);
});

test('co-mounted v1 controllers share one directory', () => {
  const layout = detectCgroupLayout({
    procSelfCgroup: '4:cpu,cpuacct:/a\n3:memory:/a\n2:pids:/a\n1:freezer:/a\n',
    mountinfo: [
      '31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct',
      '34 30 0:31 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory',
      '35 30 0:32 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids',
      '36 30 0:33 / /sys/fs/cgroup/freezer rw - cgroup cgroup rw,freezer',
    ].join('\n'),
    v2Controllers: () => [],
  });
  assert.equal(layout.controllers.cpu?.dir, '/sys/fs/cgroup/cpu,cpuacct/a');
  assert.equal(layout.controllers.cpuacct?.dir, '/sys/fs/cgroup/cpu,cpuacct/a');
});

test('a mount of a sub-tree (a container) maps cgroup paths relative to its root', () => {
  const layout = detectCgroupLayout({
    procSelfCgroup: '0::/docker/abc/inner\n',
    mountinfo: '25 21 0:22 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n',
    v2Controllers: () => ['memory', 'cpu', 'pids'],
  });
  assert.equal(layout.unifiedDir, '/sys/fs/cgroup/inner');
});

test('a layout that splits the controllers between v1 and v2 is refused with the placements found', () => {
  const layout = detectCgroupLayout({
    ...HYBRID,
    procSelfCgroup: HYBRID.procSelfCgroup.replace('8:pids:/\n', ''),
    v2Controllers: () => ['pids'],
  });
  assert.equal(layout.controllers.pids?.version, 'v2');
  assert.throws(
    () => createCgroupDriver('abc', { layout }),
    (error: unknown) =>
      error instanceof SandboxError && error.code === 'ERR_SANDBOX_UNAVAILABLE' && /pids: v2/.test(error.message),
  );
});
