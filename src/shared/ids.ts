import { randomUUID } from 'node:crypto';

/** RevisionId values are UUIDs on AWS too. */
export function newRevisionId(): string {
  return randomUUID();
}
