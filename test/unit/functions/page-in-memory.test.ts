import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FunctionsError } from '../../../src/functions/errors.js';
import { pageInMemory } from '../../../src/functions/paging.js';

const ITEMS = ['a', 'b', 'c', 'd', 'e'];
const key = (s: string): string => `item:${s}`;

test('pages cover every item once, in order, and only the last page lacks a marker', () => {
  const seen: string[] = [];
  let marker: string | undefined;
  let pages = 0;
  do {
    const page = pageInMemory(ITEMS, marker === undefined ? { limit: 2 } : { marker, limit: 2 }, key);
    seen.push(...page.items);
    marker = page.nextMarker;
    pages++;
    assert.ok(pages <= ITEMS.length, 'paging does not end');
  } while (marker !== undefined);
  assert.deepEqual(seen, ITEMS);
  assert.equal(pages, 3);
});

test('a page that holds everything has no marker', () => {
  assert.deepEqual(pageInMemory(ITEMS, { limit: 50 }, key), { items: ITEMS });
  assert.equal(Object.hasOwn(pageInMemory(ITEMS, { limit: 5 }, key), 'nextMarker'), false);
  assert.deepEqual(pageInMemory([], { limit: 5 }, key), { items: [] });
});

test('a page that ends exactly on the last item has no marker', () => {
  const first = pageInMemory(ITEMS, { limit: 3 }, key);
  assert.deepEqual(first.items, ['a', 'b', 'c']);
  assert.ok(first.nextMarker);
  const last = pageInMemory(ITEMS, { marker: first.nextMarker, limit: 2 }, key);
  assert.deepEqual(last, { items: ['d', 'e'] });
});

test('a marker resumes right after the item it was made from', () => {
  const first = pageInMemory(ITEMS, { limit: 1 }, key);
  assert.deepEqual(first.items, ['a']);
  const second = pageInMemory(ITEMS, { marker: first.nextMarker, limit: 3 }, key);
  assert.deepEqual(second.items, ['b', 'c', 'd']);
  const third = pageInMemory(ITEMS, { marker: second.nextMarker, limit: 3 }, key);
  assert.deepEqual(third, { items: ['e'] });
});

test('a marker still resumes after its item when earlier items were removed between pages', () => {
  const first = pageInMemory(ITEMS, { limit: 2 }, key);
  const next = pageInMemory(['b', 'c', 'd', 'e'], { marker: first.nextMarker, limit: 2 }, key);
  assert.deepEqual(next.items, ['c', 'd']);
});

test('a marker that names no item is refused as an invalid parameter', () => {
  for (const marker of ['bm9wZQ', 'not a marker', '']) {
    assert.throws(
      () => pageInMemory(ITEMS, { marker, limit: 2 }, key),
      (error: unknown) => error instanceof FunctionsError && error.code === 'ERR_INVALID_PARAMETER',
      JSON.stringify(marker),
    );
  }
});
