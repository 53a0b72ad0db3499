import type { IncomingMessage } from 'node:http';

export type BodyRead = { kind: 'complete'; body: Buffer } | { kind: 'too-large' } | { kind: 'aborted' };

const EMPTY = Buffer.alloc(0);
const TOO_LARGE: BodyRead = { kind: 'too-large' };
const ABORTED: BodyRead = { kind: 'aborted' };

/**
 * Reads a request body of at most `maxBytes`. Settles 'too-large' as soon as the count passes the limit (from the
 * Content-Length at once, or mid-stream for chunked bodies) and keeps draining the rest without storing it, so the
 * keep-alive connection stays usable and memory stays at most `maxBytes`. Copies once at most: a one-chunk body is
 * used as it came, a body with a Content-Length is copied into one buffer of that size, a chunked one is
 * concatenated once at the end.
 */
export function readBoundedBody(req: IncomingMessage, maxBytes: number): Promise<BodyRead> {
  return new Promise((resolve) => {
    const header = req.headers['content-length'];
    const declared = header === undefined ? undefined : Number(header);
    if (declared !== undefined && declared > maxBytes) {
      req.resume();
      resolve(TOO_LARGE);
      return;
    }
    let settled = false;
    let received = 0;
    let first: Buffer | undefined;
    let target: Buffer | undefined; // Content-Length known, more than one chunk
    let chunks: Buffer[] | undefined; // chunked transfer, more than one chunk

    const settle = (read: BodyRead): void => {
      if (settled) return;
      settled = true;
      first = target = chunks = undefined;
      resolve(read);
    };
    const onData = (chunk: Buffer): void => {
      const total = received + chunk.length;
      if (total > maxBytes) {
        req.off('data', onData);
        req.resume(); // flowing with no listener: the rest is read and discarded
        settle(TOO_LARGE);
        return;
      }
      if (first === undefined) {
        first = chunk;
      } else if (declared !== undefined) {
        if (target === undefined) {
          target = Buffer.allocUnsafe(declared);
          first.copy(target, 0);
        }
        chunk.copy(target, received);
      } else {
        (chunks ??= [first]).push(chunk);
      }
      received = total;
    };
    req.on('data', onData);
    req.once('end', () => {
      if (settled) return;
      const body = received === 0 ? EMPTY : (target ?? (chunks ? Buffer.concat(chunks, received) : first!));
      settle({ kind: 'complete', body });
    });
    req.once('close', () => {
      if (!req.complete) settle(ABORTED);
    });
    req.once('error', () => settle(ABORTED));
  });
}
