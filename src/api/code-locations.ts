/**
 * `Code.Location` / `Content.Location`: a link that serves the original zip for ten minutes, signed with a
 * server key so it needs no credentials (AWS hands out presigned S3 URLs the same way).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { CODE_LOCATION_TTL_MS } from '../model/limits.js';
import type { Clock } from '../shared/clock.js';

export interface CodeLink {
  accountId: string;
  sha256Hex: string;
}

export class CodeLocations {
  readonly #key: Buffer;
  readonly #clock: Clock;

  constructor(deps: { signingKey: Buffer; clock: Clock }) {
    this.#key = deps.signingKey;
    this.#clock = deps.clock;
  }

  /** An absolute URL on the host the client used to reach us. */
  urlFor(link: CodeLink, origin: string): string {
    const expires = this.#clock.now() + CODE_LOCATION_TTL_MS;
    const payload = `${link.accountId}.${link.sha256Hex}.${expires}`;
    return `${origin}/kindling/code/${payload}.${this.#sign(payload)}`;
  }

  /** The link a token names, or undefined when it is forged, malformed or expired. */
  verify(token: string): CodeLink | undefined {
    const m = /^(\d{12})\.([0-9a-f]{64})\.(\d{1,15})\.([A-Za-z0-9_-]{43})$/.exec(token);
    if (!m) return undefined;
    const payload = `${m[1]}.${m[2]}.${m[3]}`;
    const expected = Buffer.from(this.#sign(payload));
    const given = Buffer.from(m[4]!);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
    if (Number(m[3]) < this.#clock.now()) return undefined;
    return { accountId: m[1]!, sha256Hex: m[2]! };
  }

  #sign(payload: string): string {
    return createHmac('sha256', this.#key).update(payload).digest('base64url');
  }
}
