import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  decideAfterAttempt,
  decideBeforeAttempt,
  LAMBDA_RETRY_DELAYS,
  throttleBackoffMs,
  type EventLimits,
} from '../../../src/invoke/async/retry-policy.js';

const T0 = 1_700_000_000_000;
const DEFAULTS: EventLimits = { maximumRetryAttempts: 2, maximumEventAgeMs: 21_600_000 };
const progress = (attempts: number, throttles = 0) => ({ enqueuedMs: T0, attempts, throttles });

test("Lambda's delays: about a minute before the second attempt, two before the third; throttles from 1 s to 5 min", () => {
  assert.deepEqual(LAMBDA_RETRY_DELAYS, { functionErrorMs: [60_000, 120_000], throttleBaseMs: 1_000, throttleMaxMs: 300_000 });
});

test('a success finishes the event with Success whatever attempt it was', () => {
  assert.deepEqual(decideAfterAttempt(progress(3), 'success', DEFAULTS, LAMBDA_RETRY_DELAYS, T0), { kind: 'finish', condition: 'Success' });
});

test('function errors retry 1 min then 2 min after the failed attempt, then the retries are exhausted', () => {
  const now = T0 + 5_000;
  assert.deepEqual(decideAfterAttempt(progress(1), 'function-error', DEFAULTS, LAMBDA_RETRY_DELAYS, now), {
    kind: 'retry', dueMs: now + 60_000, attempts: 1, throttles: 0,
  });
  assert.deepEqual(decideAfterAttempt(progress(2, 4), 'function-error', DEFAULTS, LAMBDA_RETRY_DELAYS, now), {
    kind: 'retry', dueMs: now + 120_000, attempts: 2, throttles: 0,
  });
  assert.deepEqual(decideAfterAttempt(progress(3), 'function-error', DEFAULTS, LAMBDA_RETRY_DELAYS, now), { kind: 'finish', condition: 'RetriesExhausted' });
});

test('MaximumRetryAttempts 0 makes the first failed attempt the last', () => {
  const limits = { ...DEFAULTS, maximumRetryAttempts: 0 };
  assert.deepEqual(decideAfterAttempt(progress(1), 'function-error', limits, LAMBDA_RETRY_DELAYS, T0), { kind: 'finish', condition: 'RetriesExhausted' });
});

test('a retry that would come after the maximum event age ends the event as EventAgeExceeded now', () => {
  const limits = { maximumRetryAttempts: 2, maximumEventAgeMs: 60_000 };
  assert.deepEqual(decideAfterAttempt(progress(1), 'function-error', limits, LAMBDA_RETRY_DELAYS, T0 + 1), { kind: 'finish', condition: 'EventAgeExceeded' });
  const twoMinutes = { maximumRetryAttempts: 2, maximumEventAgeMs: 120_000 };
  assert.equal(decideAfterAttempt(progress(1), 'function-error', twoMinutes, LAMBDA_RETRY_DELAYS, T0 + 1).kind, 'retry');
  assert.deepEqual(decideAfterAttempt(progress(2), 'function-error', twoMinutes, LAMBDA_RETRY_DELAYS, T0 + 60_002), { kind: 'finish', condition: 'EventAgeExceeded' });
});

test('throttles and platform failures keep the attempt count and back off exponentially, never past the expiry', () => {
  const now = T0 + 10;
  for (const result of ['throttled', 'platform-error'] as const) {
    assert.deepEqual(decideAfterAttempt(progress(1, 0), result, DEFAULTS, LAMBDA_RETRY_DELAYS, now), { kind: 'retry', dueMs: now + 1_000, attempts: 1, throttles: 1 });
    assert.deepEqual(decideAfterAttempt(progress(1, 3), result, DEFAULTS, LAMBDA_RETRY_DELAYS, now), { kind: 'retry', dueMs: now + 8_000, attempts: 1, throttles: 4 });
  }
  const limits = { maximumRetryAttempts: 2, maximumEventAgeMs: 60_000 };
  assert.deepEqual(decideAfterAttempt(progress(0, 10), 'throttled', limits, LAMBDA_RETRY_DELAYS, T0 + 59_000), { kind: 'retry', dueMs: T0 + 60_000, attempts: 0, throttles: 11 });
});

test('the throttle backoff doubles from 1 s and stays at 5 min', () => {
  assert.deepEqual([0, 1, 2, 8, 9, 50, 5000].map((n) => throttleBackoffMs(n, LAMBDA_RETRY_DELAYS)), [1_000, 2_000, 4_000, 256_000, 300_000, 300_000, 300_000]);
});

test('an event may start an attempt until its age is reached and while attempts are left', () => {
  assert.deepEqual(decideBeforeAttempt(progress(0), DEFAULTS, T0 + 21_599_999), { kind: 'run' });
  assert.deepEqual(decideBeforeAttempt(progress(0), DEFAULTS, T0 + 21_600_000), { kind: 'finish', condition: 'EventAgeExceeded' });
  assert.deepEqual(decideBeforeAttempt(progress(2), DEFAULTS, T0), { kind: 'run' });
  // Only a crash during the last attempt leaves three counted attempts and the event still stored.
  assert.deepEqual(decideBeforeAttempt(progress(3), DEFAULTS, T0), { kind: 'finish', condition: 'RetriesExhausted' });
});

test('custom delays (KINDLING_ASYNC_RETRY_DELAYS_MS) apply in order and the last repeats', () => {
  const delays = { ...LAMBDA_RETRY_DELAYS, functionErrorMs: [100] };
  const limits = { ...DEFAULTS, maximumRetryAttempts: 2 };
  assert.equal((decideAfterAttempt(progress(1), 'function-error', limits, delays, T0) as { dueMs: number }).dueMs, T0 + 100);
  assert.equal((decideAfterAttempt(progress(2), 'function-error', limits, delays, T0) as { dueMs: number }).dueMs, T0 + 100);
});
