/**
 * Everything the Runtime API writes back to the runtime: the event on GET /next and the status bodies of
 * LAMBDA_REFERENCE §3.1. Fixed replies are encoded once; each reply is a single writeHead + end.
 */
import type { ServerResponse } from 'node:http';
import { RuntimeApiError } from './errors.js';
import {
  CLIENT_CONTEXT_HEADER,
  COGNITO_IDENTITY_HEADER,
  DEADLINE_MS_HEADER,
  INVOKED_FUNCTION_ARN_HEADER,
  REQUEST_ID_HEADER,
  TENANT_ID_HEADER,
  TRACE_ID_HEADER,
} from './headers.js';
import type { RuntimeState } from './runtime-state.js';
import type { InvocationRequest } from './server.js';

interface FixedReply {
  readonly status: number;
  readonly headers: readonly string[];
  readonly body: Buffer;
}

function fixed(status: number, body: object, extraHeaders: readonly string[] = []): FixedReply {
  const bytes = Buffer.from(JSON.stringify(body));
  return { status, headers: ['Content-Type', 'application/json', 'Content-Length', String(bytes.length), ...extraHeaders], body: bytes };
}

export const ACCEPTED = fixed(202, { status: 'OK' });
export const INVALID_REQUEST_ID = fixed(400, { errorType: 'InvalidRequestID', errorMessage: 'Invalid request ID' });
export const INVALID_RESPONSE_MODE = fixed(400, {
  errorType: 'InvalidFunctionResponseMode',
  errorMessage: 'Invalid function response mode: only "streaming" is accepted',
});
export const NOT_FOUND = fixed(404, { errorType: 'NotFound', errorMessage: 'No such Runtime API endpoint' });
/** The runtime is told to exit (500 = container error, §3.1); `Connection: close` so its socket goes with it. */
export const CLOSING = fixed(500, { errorType: 'InternalServerError', errorMessage: 'The execution environment is shutting down' }, [
  'Connection',
  'close',
]);
export const INTERNAL_ERROR = fixed(500, { errorType: 'InternalServerError', errorMessage: 'Internal error' });

/** 403 with an error type of its own (the pre-warm binding endpoint). */
export function forbidden(errorType: string, errorMessage: string): FixedReply {
  return fixed(403, { errorType, errorMessage });
}

export function tooLarge(maxBytes: number): FixedReply {
  return fixed(413, {
    errorType: 'RequestEntityTooLarge',
    errorMessage: `Exceeded maximum allowed payload size (${maxBytes} bytes).`,
  });
}

export function methodNotAllowed(allowed: 'GET' | 'POST'): FixedReply {
  return fixed(405, { errorType: 'MethodNotAllowed', errorMessage: `Use ${allowed}` }, ['Allow', allowed]);
}

/** 403: the runtime asked for something its current state does not allow (RIE's wording, our state names). */
export function invalidStateTransition(from: RuntimeState, action: string): FixedReply {
  return fixed(403, {
    errorType: 'InvalidStateTransition',
    errorMessage: `State transition from ${from} to ${action} failed for runtime. Error: State transition is not allowed`,
  });
}

export function reply(res: ServerResponse, r: FixedReply): void {
  res.writeHead(r.status, r.headers as string[]);
  res.end(r.body);
}

/** Resolves once the reply has left (or its connection is gone); used by close() before connections are cut. */
export function replyAndWait(res: ServerResponse, r: FixedReply): Promise<void> {
  return new Promise((resolve) => {
    res.once('close', resolve);
    res.once('finish', resolve);
    reply(res, r);
  });
}

/** Node's own rule for header values (it would throw inside writeHead, on the runtime's /next, far too late). */
const INVALID_HEADER_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

/**
 * The headers of the 200 answer to GET /next (§3.2): the optional ones only when non-empty, as RIE does. Built once
 * per invocation at invoke(), so a bad value is refused to the caller instead of breaking the runtime's /next.
 */
export function eventHeadersOf(request: InvocationRequest): string[] {
  if (request.requestId === '') invalid('requestId', 'is empty');
  if (!Number.isFinite(request.deadlineMs)) invalid('deadlineMs', 'is not a finite number');
  const headers = [
    REQUEST_ID_HEADER,
    checked('requestId', request.requestId),
    DEADLINE_MS_HEADER,
    String(Math.floor(request.deadlineMs)),
    INVOKED_FUNCTION_ARN_HEADER,
    checked('invokedFunctionArn', request.invokedFunctionArn),
  ];
  if (request.traceId) headers.push(TRACE_ID_HEADER, checked('traceId', request.traceId));
  if (request.clientContext) headers.push(CLIENT_CONTEXT_HEADER, checked('clientContext', request.clientContext));
  if (request.cognitoIdentity) headers.push(COGNITO_IDENTITY_HEADER, checked('cognitoIdentity', request.cognitoIdentity));
  if (request.tenantId) headers.push(TENANT_ID_HEADER, checked('tenantId', request.tenantId));
  headers.push('Content-Type', 'application/json', 'Content-Length', String(request.payload.length));
  return headers;
}

export function writeEvent(res: ServerResponse, headers: readonly string[], payload: Buffer): void {
  res.writeHead(200, headers as string[]);
  res.end(payload);
}

function checked(field: string, value: string): string {
  if (INVALID_HEADER_VALUE.test(value)) invalid(field, 'contains characters a header cannot carry (decode to latin1 bytes)');
  return value;
}

function invalid(field: string, why: string): never {
  throw new RuntimeApiError('ERR_RUNTIME_API_INVALID_INVOCATION', `invocation ${field} ${why}`);
}
