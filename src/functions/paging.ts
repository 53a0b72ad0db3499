/** Paging helpers of the control plane: walking every page of a store listing, and paging a list in memory. */
import type { Page, PageRequest } from '../store/store.js';
import { FunctionsError } from './errors.js';

/** Every item of a paged store listing, read 1,000 at a time. */
export async function collectPages<T>(list: (page: PageRequest) => Promise<Page<T>>): Promise<T[]> {
  const out: T[] = [];
  let marker: string | undefined;
  do {
    const page = await list(marker === undefined ? { limit: 1000 } : { marker, limit: 1000 });
    out.push(...page.items);
    marker = page.nextMarker;
  } while (marker !== undefined);
  return out;
}

/** Pages a list already in memory; the marker is the key of the last item of the previous page. */
export function pageInMemory<T>(items: readonly T[], page: PageRequest, key: (item: T) => string): Page<T> {
  let start = 0;
  if (page.marker !== undefined) {
    const after = Buffer.from(page.marker, 'base64url').toString('utf8');
    const index = items.findIndex((item) => key(item) === after);
    if (index < 0) throw new FunctionsError('ERR_INVALID_PARAMETER', 'Invalid Marker: the marker does not match any item.');
    start = index + 1;
  }
  const slice = items.slice(start, start + page.limit);
  const last = slice[slice.length - 1];
  if (start + page.limit < items.length && last !== undefined) {
    return { items: slice, nextMarker: Buffer.from(key(last), 'utf8').toString('base64url') };
  }
  return { items: slice };
}
