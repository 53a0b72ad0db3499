import assert from 'node:assert/strict';
import { test } from 'node:test';
import { systemClock } from '../../../src/shared/clock.js';
import { ManualClock } from '../../support/manual-clock.js';

test('advance fires due timers in due order, each seeing its own due time, and none early', () => {
  const clock = new ManualClock(1000);
  const fired: Array<[string, number]> = [];
  clock.setTimer(300, () => fired.push(['c', clock.now()]));
  clock.setTimer(100, () => fired.push(['a', clock.now()]));
  clock.setTimer(100, () => fired.push(['b', clock.now()]));
  clock.advance(99);
  assert.deepEqual(fired, []);
  clock.advance(201);
  assert.deepEqual(fired, [['a', 1100], ['b', 1100], ['c', 1300]]);
  assert.equal(clock.now(), 1300);
  assert.equal(clock.pendingTimers, 0);
});

test('a cancelled timer never fires, and a timer set by a firing timer fires within the same advance if due', () => {
  const clock = new ManualClock(0);
  const fired: number[] = [];
  clock.setTimer(10, () => fired.push(1)).cancel();
  clock.setTimer(20, () => clock.setTimer(5, () => fired.push(clock.now())));
  clock.setTimer(0, () => fired.push(-1));
  assert.equal(clock.nextDueMs(), 0);
  clock.advance(30);
  assert.deepEqual(fired, [-1, 25]);
});

test('tick resolves after the promise continuations the timers started', async () => {
  const clock = new ManualClock(0);
  let done = false;
  clock.setTimer(5, () => void Promise.resolve().then(() => Promise.resolve()).then(() => (done = true)));
  await clock.tick(5);
  assert.equal(done, true);
});

test('the system clock runs a timer and cancels one', async () => {
  let cancelledRan = false;
  systemClock.setTimer(1, () => (cancelledRan = true)).cancel();
  // The clock's timers do not hold the process open; this one does, for as long as the test may take.
  const keepAlive = setTimeout(() => undefined, 10_000);
  try {
    await new Promise<void>((resolve) => systemClock.setTimer(5, resolve));
  } finally {
    clearTimeout(keepAlive);
  }
  assert.equal(cancelledRan, false);
});
