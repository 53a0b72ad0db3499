import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CodeLocations } from '../../../src/api/code-locations.js';
import { CODE_LOCATION_TTL_MS } from '../../../src/model/limits.js';
import { ManualClock } from '../../support/manual-clock.js';

const ORIGIN = 'http://127.0.0.1:9000';
const LINK = { accountId: '123456789012', sha256Hex: 'ab'.repeat(32) };
const PREFIX = `${ORIGIN}/kindling/code/`;


function setup(key = Buffer.alloc(32, 7)) {
  const clock = new ManualClock(Date.UTC(2024, 0, 1));
  const locations = new CodeLocations({ signingKey: key, clock });
  const url = locations.urlFor(LINK, ORIGIN);
  assert.ok(url.startsWith(PREFIX), url);
  const token = url.slice(PREFIX.length);
  return { clock, locations, token };
}

/** Token fields: account.digest.expiresMs.signature */
function withField(token: string, index: number, value: string): string {
  const parts = token.split('.');
  parts[index] = value;
  return parts.join('.');
}

test('a fresh link verifies to the account and digest it was made for', () => {
  const { locations, token } = setup();
  assert.deepEqual(locations.verify(token), LINK);
});

test('a link verifies until ten minutes have passed and not one millisecond later', () => {
  assert.equal(CODE_LOCATION_TTL_MS, 600_000);
  const { clock, locations, token } = setup();
  clock.advance(CODE_LOCATION_TTL_MS);
  assert.deepEqual(locations.verify(token), LINK);
  clock.advance(1);
  assert.equal(locations.verify(token), undefined);
});

test('changing the digest, the account, the expiry or the signature breaks the link', () => {
  const { locations, token } = setup();
  const [account, digest, expires, signature] = token.split('.') as [string, string, string, string];
  // The first character carries six real bits (the last one's low bits are base64 padding).
  const flip = (s: string): string => `${s.startsWith('A') ? 'B' : 'A'}${s.slice(1)}`;
  const tampered = [
    withField(token, 1, `cd${digest.slice(2)}`),
    withField(token, 0, account.replace(/^1/, '9')),
    withField(token, 2, String(Number(expires) + 60_000)),
    withField(token, 3, flip(signature)),
  ];
  for (const t of tampered) {
    assert.notEqual(t, token);
    assert.equal(locations.verify(t), undefined, t);
  }
});

test('a link signed with another key does not verify', () => {
  const { token } = setup(Buffer.alloc(32, 1));
  const { locations } = setup(Buffer.alloc(32, 2));
  assert.equal(locations.verify(token), undefined);
});

test('malformed tokens are refused without throwing', () => {
  const { locations, token } = setup();
  const malformed = [
    '',
    '.',
    '...',
    token.slice(0, -1),
    `${token}A`,
    `${token}.extra`,
    token.toUpperCase(),
    withField(token, 0, '12345'),
    withField(token, 2, '-1'),
    withField(token, 2, '9'.repeat(16)),
    withField(token, 3, '!'.repeat(43)),
    '../../etc/passwd',
    '%00',
    'x'.repeat(10_000),
  ];
  for (const t of malformed) {
    assert.doesNotThrow(() => locations.verify(t), t.slice(0, 40));
    assert.equal(locations.verify(t), undefined, t.slice(0, 40));
  }
});
