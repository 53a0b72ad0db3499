import { randomUUID } from 'node:crypto';

/** A request id as AWS formats it: a lowercase v4 UUID. */
export function newRequestId(): string {
  return randomUUID();
}

/** RevisionId values are UUIDs on AWS too. */
export function newRevisionId(): string {
  return randomUUID();
}
