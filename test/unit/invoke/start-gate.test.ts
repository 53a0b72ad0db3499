import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StartGate } from '../../../src/invoke/start-gate.js';

test('the gate lets N callers in at once and the rest in arrival order as slots are released', async () => {
  const gate = new StartGate(2);
  const order: number[] = [];
  const leaves = new Map<number, () => void>();
  const enter = (n: number) => gate.enter().then((leave) => {
    order.push(n);
    leaves.set(n, leave);
  });
  const all = [1, 2, 3, 4].map(enter);
  await Promise.all(all.slice(0, 2));
  assert.deepEqual(order, [1, 2]);
  assert.equal(gate.queued, 2);
  leaves.get(2)!();
  leaves.get(2)!(); // a second release of the same slot is ignored
  await all[2];
  assert.deepEqual(order, [1, 2, 3]);
  assert.equal(gate.running, 2);
  assert.equal(gate.queued, 1);
  leaves.get(1)!();
  await all[3];
  leaves.get(3)!();
  leaves.get(4)!();
  assert.equal(gate.running, 0);
  assert.throws(() => new StartGate(0), /positive limit/);
});
