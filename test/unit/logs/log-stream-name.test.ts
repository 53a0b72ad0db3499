import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newLogStreamName } from '../../../src/logs/log-stream-name.js';

test('names a stream by date, bracketed version and 32 lowercase hex digits', () => {
  const name = newLogStreamName('$LATEST', new Date(Date.UTC(2019, 5, 7, 12)));
  assert.match(name, /^2019\/06\/07\/\[\$LATEST\][0-9a-f]{32}$/);
});

test('takes the date in UTC, not in the server time zone', () => {
  // 23:30 at UTC-5 on the 7th is already the 8th in UTC.
  const name = newLogStreamName('3', new Date('2019-06-07T23:30:00-05:00'));
  assert.match(name, /^2019\/06\/08\/\[3\][0-9a-f]{32}$/);
});

test('pads single-digit months and days', () => {
  assert.match(newLogStreamName('1', new Date(Date.UTC(2024, 0, 2))), /^2024\/01\/02\/\[1\]/);
});

test('gives every environment a stream of its own', () => {
  const now = new Date();
  const names = new Set(Array.from({ length: 100 }, () => newLogStreamName('$LATEST', now)));
  assert.equal(names.size, 100);
});
