/**
 * Server-side verification of AWS Signature Version 4 (Authorization header form), as the JS SDK v3
 * and the AWS CLI (botocore) sign Lambda control-plane requests. See LAMBDA_REFERENCE.md §10.
 *
 * The canonical request is rebuilt here with node:crypto rather than by re-signing through
 * @smithy/signature-v4: the smithy re-sign alone measured ~23 µs against ~16 µs for this whole
 * verification (parse, body hash, compare), smithy cannot reproduce signatures made with a `Date`
 * header (it always injects `x-amz-date`), and the unit tests can then use smithy as an
 * independent signer instead of checking smithy against itself.
 *
 * Security rules that matter more than wire fidelity:
 * - the payload hash is always computed from the received body; a client-supplied
 *   `x-amz-content-sha256` is only checked against it, never trusted (both smithy and aws4 would
 *   trust it, so a tampered body would verify — LIBS.md §4.2);
 * - unsigned and streaming payloads are refused;
 * - signatures are compared in constant time.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export interface SignedRequest {
  method: string;
  /** raw request target as received on the wire: path (still percent-encoded) + optional ?query */
  url: string;
  /** node's IncomingHttpHeaders (lowercase names) */
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface SigV4Options {
  /** the server's region; a credential scope naming another region is refused */
  region: string;
  /** 'lambda' */
  service: string;
  /** server clock */
  nowMs: number;
  /** 5 minutes in production */
  maxSkewMs: number;
  findSecret(accessKeyId: string): string | undefined;
}

export type SigV4Failure =
  | 'MissingAuthenticationTokenException'
  | 'UnrecognizedClientException'
  | 'InvalidSignatureException'
  | 'IncompleteSignatureException';

export type SigV4Result = { ok: true; accessKeyId: string } | { ok: false; errorType: SigV4Failure; message: string };

const ALGORITHM = 'AWS4-HMAC-SHA256';
const TERMINATOR = 'aws4_request';
const SIGNATURE_PATTERN = /^[0-9a-f]{64}$/;
const AMZ_DATE_PATTERN = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
const SCOPE_DATE_PATTERN = /^\d{8}$/;
const HEADER_NAME_PATTERN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;
const PRESIGN_PATTERN = /(?:^|&)X-Amz-Algorithm=/i;
const MISMATCH_MESSAGE =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

/** Derived signing keys, keyed by secret + scope: four HMACs saved per request for the same day. */
const SIGNING_KEY_CACHE_SIZE = 256;
const signingKeys = new Map<string, Buffer>();

export async function verifySigV4(req: SignedRequest, options: SigV4Options): Promise<SigV4Result> {
  const authorization = headerValue(req.headers, 'authorization');
  const queryStart = req.url.indexOf('?');
  const rawPath = queryStart === -1 ? req.url : req.url.slice(0, queryStart);
  const rawQuery = queryStart === -1 ? '' : req.url.slice(queryStart + 1);

  if (authorization === undefined || authorization === '') {
    if (PRESIGN_PATTERN.test(rawQuery)) {
      return incomplete('Query-string (presigned URL) authentication is not accepted; sign the request with an Authorization header.');
    }
    return fail('MissingAuthenticationTokenException', 'Missing Authentication Token');
  }

  const parsed = parseAuthorization(authorization);
  if (!parsed.ok) return parsed;
  const { accessKeyId, scopeDate, scopeRegion, scopeService, signedHeaders, signature } = parsed;

  const requestDate = readRequestDate(req.headers);
  if (!requestDate.ok) return requestDate;
  const { longDate, timeMs } = requestDate;

  if (scopeService !== options.service) {
    return fail('InvalidSignatureException', `Credential should be scoped to correct service: '${options.service}'.`);
  }
  if (scopeRegion !== options.region) {
    return fail('InvalidSignatureException', 'Credential should be scoped to a valid region.');
  }
  if (scopeDate !== longDate.slice(0, 8)) {
    return fail(
      'InvalidSignatureException',
      `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${scopeDate}' != '${longDate.slice(0, 8)}', from '${longDate}'.`,
    );
  }

  const skewFailure = checkSkew(longDate, timeMs, options);
  if (skewFailure) return skewFailure;

  const secret = options.findSecret(accessKeyId);
  if (secret === undefined) {
    return fail('UnrecognizedClientException', 'The security token included in the request is invalid.');
  }

  const payloadHash = createHash('sha256').update(req.body).digest('hex');
  const claimedHash = headerValue(req.headers, 'x-amz-content-sha256');
  if (claimedHash !== undefined) {
    if (claimedHash === 'UNSIGNED-PAYLOAD' || claimedHash.startsWith('STREAMING-')) {
      return fail('InvalidSignatureException', `Unsigned or streaming payloads are not accepted (x-amz-content-sha256: ${claimedHash}); sign the SHA-256 of the body.`);
    }
    if (claimedHash !== payloadHash) {
      return fail('InvalidSignatureException', "The provided 'x-amz-content-sha256' header does not match what was computed.");
    }
  }

  let canonicalHeaders = '';
  for (const name of signedHeaders) {
    const value = headerValue(req.headers, name);
    // A header named in SignedHeaders but absent cannot have been signed as received.
    if (value === undefined) return fail('InvalidSignatureException', MISMATCH_MESSAGE);
    canonicalHeaders += `${name}:${canonicalHeaderValue(value)}\n`;
  }

  const canonicalRequest =
    `${req.method.toUpperCase()}\n${canonicalUri(rawPath)}\n${canonicalQuery(rawQuery)}\n` +
    `${canonicalHeaders}\n${signedHeaders.join(';')}\n${payloadHash}`;
  const scope = `${scopeDate}/${scopeRegion}/${scopeService}/${TERMINATOR}`;
  const stringToSign = `${ALGORITHM}\n${longDate}\n${scope}\n${createHash('sha256').update(canonicalRequest).digest('hex')}`;
  const expected = createHmac('sha256', signingKey(secret, scopeDate, scopeRegion, scopeService)).update(stringToSign).digest();

  if (!timingSafeEqual(expected, Buffer.from(signature, 'hex'))) {
    return fail('InvalidSignatureException', MISMATCH_MESSAGE);
  }
  return { ok: true, accessKeyId };
}

interface ParsedAuthorization {
  ok: true;
  accessKeyId: string;
  scopeDate: string;
  scopeRegion: string;
  scopeService: string;
  /** sorted, lowercase */
  signedHeaders: string[];
  signature: string;
}

function parseAuthorization(authorization: string): ParsedAuthorization | Extract<SigV4Result, { ok: false }> {
  const space = authorization.indexOf(' ');
  const algorithm = space === -1 ? authorization : authorization.slice(0, space);
  if (algorithm !== ALGORITHM) {
    return incomplete(`Unsupported Authorization algorithm '${algorithm}'; only ${ALGORITHM} is accepted.`);
  }
  let credential: string | undefined;
  let signedHeaderList: string | undefined;
  let signature: string | undefined;
  for (const part of authorization.slice(space + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    const name = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (name === 'Credential') credential = value;
    else if (name === 'SignedHeaders') signedHeaderList = value;
    else if (name === 'Signature') signature = value;
  }
  const missing: string[] = [];
  if (!credential) missing.push("Authorization header requires 'Credential' parameter.");
  if (!signature) missing.push("Authorization header requires 'Signature' parameter.");
  if (!signedHeaderList) missing.push("Authorization header requires 'SignedHeaders' parameter.");
  if (!credential || !signature || !signedHeaderList) return incomplete(missing.join(' '));

  const scope = credential.split('/');
  const [accessKeyId, scopeDate, scopeRegion, scopeService, terminator] = scope;
  if (scope.length !== 5 || !accessKeyId || !scopeDate || !scopeRegion || !scopeService || terminator === undefined) {
    return incomplete(`Credential must have the form <AccessKeyId>/<YYYYMMDD>/<region>/<service>/${TERMINATOR}; got '${credential}'.`);
  }
  if (!SCOPE_DATE_PATTERN.test(scopeDate)) {
    return incomplete(`Credential scope date must be YYYYMMDD; got '${scopeDate}'.`);
  }
  if (terminator !== TERMINATOR) {
    return incomplete(`Credential should be scoped with a valid terminator: '${TERMINATOR}', not '${terminator}'.`);
  }

  const signedHeaders = signedHeaderList.split(';');
  if (!signedHeaders.every((name) => HEADER_NAME_PATTERN.test(name))) {
    return incomplete(`SignedHeaders must be a ';'-separated list of lowercase header names; got '${signedHeaderList}'.`);
  }
  if (!signedHeaders.includes('host')) {
    return incomplete("'Host' must be a 'SignedHeader' in the AWS Authorization.");
  }
  signedHeaders.sort();
  if (!SIGNATURE_PATTERN.test(signature)) {
    return incomplete('Signature must be 64 lowercase hexadecimal characters.');
  }
  return { ok: true, accessKeyId, scopeDate, scopeRegion, scopeService, signedHeaders, signature };
}

/** The request time: `x-amz-date` (ISO-8601 basic), else an HTTP `Date` header, as SigV4 allows. */
function readRequestDate(
  headers: SignedRequest['headers'],
): { ok: true; longDate: string; timeMs: number } | Extract<SigV4Result, { ok: false }> {
  const amzDate = headerValue(headers, 'x-amz-date');
  if (amzDate !== undefined) {
    const timeMs = parseAmzDate(amzDate);
    if (timeMs === undefined) {
      return incomplete(`Date must be in ISO-8601 'basic format'. Got '${amzDate}'. See http://en.wikipedia.org/wiki/ISO_8601`);
    }
    return { ok: true, longDate: amzDate, timeMs };
  }
  const httpDate = headerValue(headers, 'date');
  if (httpDate !== undefined) {
    const timeMs = Date.parse(httpDate);
    if (Number.isNaN(timeMs)) return incomplete(`The Date header is not a valid HTTP date: '${httpDate}'.`);
    return { ok: true, longDate: toAmzDate(timeMs), timeMs };
  }
  return incomplete("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
}

function parseAmzDate(value: string): number | undefined {
  const m = AMZ_DATE_PATTERN.exec(value);
  if (!m) return undefined;
  const timeMs = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  // Date.UTC rolls 20261332 over into January; only a round trip proves the calendar date exists.
  return toAmzDate(timeMs) === value ? timeMs : undefined;
}

function toAmzDate(timeMs: number): string {
  return new Date(timeMs).toISOString().replace(/[-:]|\.\d{3}/g, '');
}

function checkSkew(longDate: string, timeMs: number, options: SigV4Options): Extract<SigV4Result, { ok: false }> | undefined {
  const window = formatWindow(options.maxSkewMs);
  const now = toAmzDate(options.nowMs);
  if (timeMs < options.nowMs - options.maxSkewMs) {
    return fail(
      'InvalidSignatureException',
      `Signature expired: ${longDate} is now earlier than ${toAmzDate(options.nowMs - options.maxSkewMs)} (${now} - ${window}.)`,
    );
  }
  if (timeMs > options.nowMs + options.maxSkewMs) {
    return fail(
      'InvalidSignatureException',
      `Signature not yet current: ${longDate} is still later than ${toAmzDate(options.nowMs + options.maxSkewMs)} (${now} + ${window}.)`,
    );
  }
  return undefined;
}

function formatWindow(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000} min` : `${ms / 1000} s`;
}

/**
 * The raw path is already percent-encoded by the client; both signers encode it once more per
 * segment (after removing dot segments and empty segments), so `%3A` becomes `%253A`.
 */
function canonicalUri(rawPath: string): string {
  const segments: string[] = [];
  for (const segment of rawPath.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(uriEscape(segment));
  }
  if (segments.length === 0) return '/';
  return `/${segments.join('/')}${rawPath.endsWith('/') ? '/' : ''}`;
}

/** Decode each name and value, re-encode per RFC 3986, sort by name then value. */
function canonicalQuery(rawQuery: string): string {
  if (rawQuery === '') return '';
  const pairs: Array<[string, string]> = [];
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = eq === -1 ? part : part.slice(0, eq);
    const value = eq === -1 ? '' : part.slice(eq + 1);
    pairs.push([uriEscape(uriDecode(name)), uriEscape(uriDecode(value))]);
  }
  pairs.sort((a, b) => compare(a[0], b[0]) || compare(a[1], b[1]));
  return pairs.map(([name, value]) => `${name}=${value}`).join('&');
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `+` stays a literal plus: both signers encode spaces as %20, never as `+`. */
function uriDecode(value: string): string {
  if (!value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    // Malformed escapes are kept verbatim; the signature then simply fails to match.
    return value;
  }
}

/** RFC 3986: everything except A-Z a-z 0-9 - _ . ~ is percent-encoded with uppercase hex. */
function uriEscape(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Line breaks become spaces, runs of spaces and tabs collapse to one, ends are trimmed (as the signers do). */
function canonicalHeaderValue(value: string): string {
  return value.replace(/[\r\n]/g, ' ').replace(/[ \t]+/g, ' ').replace(/^ | $/g, '');
}

function headerValue(headers: SignedRequest['headers'], name: string): string | undefined {
  // Only own string values count: a name such as `__proto__` must not reach an inherited object.
  const value = Object.hasOwn(headers, name) ? headers[name] : undefined;
  if (typeof value === 'string') return value;
  return Array.isArray(value) ? value.join(',') : undefined;
}

function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  const cacheKey = `${date}\n${region}\n${service}\n${secret}`;
  const cached = signingKeys.get(cacheKey);
  if (cached) return cached;
  let key = createHmac('sha256', `AWS4${secret}`).update(date).digest();
  for (const part of [region, service, TERMINATOR]) key = createHmac('sha256', key).update(part).digest();
  if (signingKeys.size >= SIGNING_KEY_CACHE_SIZE) {
    // Map iterates in insertion order: drop the oldest entry.
    const oldest = signingKeys.keys().next();
    if (!oldest.done) signingKeys.delete(oldest.value);
  }
  signingKeys.set(cacheKey, key);
  return key;
}

function fail(errorType: SigV4Failure, message: string): Extract<SigV4Result, { ok: false }> {
  return { ok: false, errorType, message };
}

function incomplete(message: string): Extract<SigV4Result, { ok: false }> {
  return fail('IncompleteSignatureException', message);
}
