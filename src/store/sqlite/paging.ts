/** Pagination for the SQLite store: opaque markers (base64url JSON of the last key) and page slicing. */
import assert from 'node:assert/strict';
import { StoreError, type Page, type PageRequest } from '../store.js';

export function pageLimit(page: PageRequest): number {
  assert.ok(Number.isSafeInteger(page.limit) && page.limit >= 1, `page limit ${page.limit}`);
  return page.limit;
}

/** A marker is the base64url JSON of the last key of the previous page. */
export function encodeMarker(key: string | number): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

export function decodeMarker(marker: string | undefined, type: 'string'): string;
export function decodeMarker(marker: string | undefined, type: 'number', start: number): number;
export function decodeMarker(marker: string | undefined, type: 'string' | 'number', start?: number): string | number {
  if (marker === undefined) return type === 'string' ? '' : (start ?? 0);
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(marker, 'base64url').toString('utf8'));
  } catch {
    key = undefined;
  }
  if (typeof key === type && (typeof key === 'string' || Number.isSafeInteger(key))) return key as string | number;
  // The code union has no "bad input"; the message prefix is what callers match (see the report to the lead).
  throw new StoreError('ERR_STORE_INVALID_MARKER', 'invalid marker: not one this store returned');
}

export function toPage<R, T>(rows: R[], page: PageRequest, map: (row: R) => T, keyOf: (row: R) => string | number): Page<T> {
  if (rows.length <= page.limit) return { items: rows.map(map) };
  const kept = rows.slice(0, page.limit);
  const last = kept.at(-1);
  assert.ok(last !== undefined);
  return { items: kept.map(map), nextMarker: encodeMarker(keyOf(last)) };
}
