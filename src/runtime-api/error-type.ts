/**
 * What a runtime's error report means: its type, and the payload the Invoke caller receives
 * (LAMBDA_REFERENCE §3.1, "Error-type header normalisation in RIE").
 */

/** Header values Lambda passes through unchanged. */
const VALID_ERROR_TYPE = /^(?:Runtime|Function)\.[A-Z][a-zA-Z]+$/;
const UNKNOWN_FUNCTION_ERROR = 'Function.Unknown';
const UNKNOWN_RUNTIME_ERROR = 'Runtime.Unknown';
/** Bodies larger than this are not parsed for their errorType: error reports are small; a huge one is not worth the CPU. */
const MAX_PARSED_ERROR_BYTES = 256 * 1024;

/**
 * The error type of a report: a well-formed `Lambda-Runtime-Function-Error-Type` header wins; any other `Function.*`
 * header becomes `Function.Unknown` (RIE's rule). Otherwise — no header, which is what the official Node client sends,
 * or a free-form one — the `errorType` of the JSON body, else `Runtime.Unknown`. (RIE maps a free-form header straight
 * to `Runtime.Unknown`; reading the body keeps the real type, e.g. `TypeError`, for logs and init reports.)
 */
export function errorTypeOf(header: string | undefined, body: Buffer): string {
  if (header !== undefined && header !== '') {
    if (VALID_ERROR_TYPE.test(header)) return header;
    if (header.startsWith('Function.')) return UNKNOWN_FUNCTION_ERROR;
  }
  return bodyErrorType(body) ?? UNKNOWN_RUNTIME_ERROR;
}

/** The payload the caller receives: the body as posted, or, when the runtime posted none, one built from the type. */
export function errorPayloadOf(errorType: string, body: Buffer): Buffer {
  if (body.length > 0) return body;
  return Buffer.from(JSON.stringify({ errorMessage: 'Unknown application error occurred', errorType }));
}

function bodyErrorType(body: Buffer): string | undefined {
  if (body.length === 0 || body.length > MAX_PARSED_ERROR_BYTES) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined; // any shape may be posted; a body that is not JSON simply names no type
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const errorType = (parsed as { errorType?: unknown }).errorType;
  return typeof errorType === 'string' && errorType !== '' ? errorType : undefined;
}
