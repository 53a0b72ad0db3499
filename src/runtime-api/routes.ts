/**
 * The router and one handler per endpoint of the Runtime API 2018-06-01 (LAMBDA_REFERENCE §3.1). Each handler
 * validates (request id, then response mode, then state) before it changes any state, and never throws: a bug in
 * here answers 500 instead of ending the process.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { BINDING_PATH, NOT_BOUND, type BindingGate } from './binding-gate.js';
import { readBoundedBody } from './body-reader.js';
import { errorPayloadOf, errorTypeOf } from './error-type.js';
import {
  FUNCTION_ERROR_BODY_TRAILER,
  FUNCTION_ERROR_TYPE_HEADER,
  FUNCTION_RESPONSE_MODE_HEADER,
  STREAMING_RESPONSE_MODE,
} from './headers.js';
import {
  ACCEPTED,
  CLOSING,
  INTERNAL_ERROR,
  INVALID_REQUEST_ID,
  INVALID_RESPONSE_MODE,
  NOT_FOUND,
  invalidStateTransition,
  methodNotAllowed,
  reply,
  tooLarge,
} from './replies.js';
import type { AnswerCheck, RuntimeSession } from './runtime-session.js';
import type { InitOutcome, InvocationOutcome } from './server.js';

const PREFIX = '/2018-06-01/runtime/';
const INVOCATION = 'invocation/';
const EMPTY = Buffer.alloc(0);
const TOO_LARGE_OUTCOME: InvocationOutcome = { kind: 'too-large' };
const GET_ONLY = methodNotAllowed('GET');
const POST_ONLY = methodNotAllowed('POST');

export function createRequestListener(session: RuntimeSession, maxResponseBytes: number, gate?: BindingGate): RequestListener {
  const handlers = new RuntimeApiHandlers(session, maxResponseBytes, gate);
  return (req, res) => {
    try {
      handlers.route(req, res);
    } catch {
      answerInternalError(res);
    }
  };
}

class RuntimeApiHandlers {
  readonly #session: RuntimeSession;
  readonly #maxBytes: number;
  readonly #tooLarge: ReturnType<typeof tooLarge>;
  readonly #gate: BindingGate | undefined;

  constructor(session: RuntimeSession, maxResponseBytes: number, gate: BindingGate | undefined) {
    this.#session = session;
    this.#gate = gate;
    this.#maxBytes = maxResponseBytes;
    this.#tooLarge = tooLarge(maxResponseBytes);
  }

  route(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '';
    const query = url.indexOf('?');
    const path = query === -1 ? url : url.slice(0, query);
    if (path === BINDING_PATH && this.#gate) return req.method === 'GET' ? this.#gate.request(res) : reply(res, GET_ONLY);
    if (!path.startsWith(PREFIX)) return reply(res, NOT_FOUND);
    if (this.#gate && !this.#gate.bound) return reply(res, NOT_BOUND);
    const rest = path.slice(PREFIX.length);
    if (rest === 'invocation/next') {
      return req.method === 'GET' ? this.#session.next(res) : reply(res, GET_ONLY);
    }
    if (rest === 'init/error') {
      return req.method === 'POST' ? this.#initError(req, res) : reply(res, POST_ONLY);
    }
    if (!rest.startsWith(INVOCATION)) return reply(res, NOT_FOUND);
    const slash = rest.indexOf('/', INVOCATION.length);
    if (slash === -1 || slash === INVOCATION.length) return reply(res, NOT_FOUND);
    const action = rest.slice(slash + 1);
    if (action !== 'response' && action !== 'error') return reply(res, NOT_FOUND);
    if (req.method !== 'POST') return reply(res, POST_ONLY);
    // Clients encodeURIComponent the id (aws-lambda-ric), so an id with '/' arrives as %2F and stays one segment.
    const requestId = decodeRequestId(rest.slice(INVOCATION.length, slash));
    return action === 'response' ? this.#response(req, res, requestId) : this.#error(req, res, requestId);
  }

  /** POST /runtime/invocation/{id}/response: buffered, or `Lambda-Runtime-Function-Response-Mode: streaming`. */
  #response(req: IncomingMessage, res: ServerResponse, requestId: string | undefined): void {
    const check = requestId === undefined ? 'invalid-request-id' : this.#session.checkAnswer(requestId);
    if (this.#refusedId(res, check)) return;
    const mode = req.headers[FUNCTION_RESPONSE_MODE_HEADER];
    if (mode !== undefined && mode !== STREAMING_RESPONSE_MODE) return reply(res, INVALID_RESPONSE_MODE);
    if (check === 'invalid-state') return reply(res, invalidStateTransition(this.#session.state, 'response'));
    this.#readAnswer(req, res, (body) => (mode === undefined ? responseOutcome(req, body) : streamedOutcome(req, body)));
  }

  /** POST /runtime/invocation/{id}/error: any body, any content type, error type header optional. */
  #error(req: IncomingMessage, res: ServerResponse, requestId: string | undefined): void {
    const check = requestId === undefined ? 'invalid-request-id' : this.#session.checkAnswer(requestId);
    if (this.#refusedId(res, check)) return;
    if (check === 'invalid-state') return reply(res, invalidStateTransition(this.#session.state, 'error'));
    this.#readAnswer(req, res, (body): InvocationOutcome => {
      const errorType = errorTypeOf(headerOf(req, FUNCTION_ERROR_TYPE_HEADER), body);
      return { kind: 'error', errorType, payload: errorPayloadOf(errorType, body) };
    });
  }

  /** Reads an accepted answer's body (bounded) and settles the invocation with what toOutcome makes of it. */
  #readAnswer(req: IncomingMessage, res: ServerResponse, toOutcome: (body: Buffer) => InvocationOutcome): void {
    const token = this.#session.beginAnswer();
    readBoundedBody(req, this.#maxBytes)
      .then((read) => {
        if (read.kind === 'aborted') return this.#session.abortAnswer(token);
        if (read.kind === 'too-large') {
          this.#session.finishAnswer(token, TOO_LARGE_OUTCOME);
          return reply(res, this.#tooLarge);
        }
        this.#answered(res, this.#session.finishAnswer(token, toOutcome(read.body)));
      })
      .catch(() => answerInternalError(res));
  }

  /** POST /runtime/init/error: only before the first /next. Settles `initialized`; the runtime is expected to exit. */
  #initError(req: IncomingMessage, res: ServerResponse): void {
    const check = this.#session.checkInitError();
    if (check === 'closed') return reply(res, CLOSING);
    if (check === 'invalid-state') return reply(res, invalidStateTransition(this.#session.state, 'init error'));
    this.#session.beginInitError();
    const header = headerOf(req, FUNCTION_ERROR_TYPE_HEADER);
    readBoundedBody(req, this.#maxBytes)
      .then((read) => {
        // Too large or cut off, the report still happened: settle it with what the header says.
        const body = read.kind === 'complete' ? read.body : EMPTY;
        const errorType = errorTypeOf(header, body);
        const outcome: InitOutcome = { kind: 'init-error', errorType, payload: errorPayloadOf(errorType, body) };
        this.#session.settleInitError(outcome);
        if (read.kind === 'too-large') reply(res, this.#tooLarge);
        else if (read.kind === 'complete') reply(res, ACCEPTED);
      })
      .catch(() => answerInternalError(res));
  }

  /** 400 for an id that is not the open invocation's (checked before anything else); 500 once closed. */
  #refusedId(res: ServerResponse, check: AnswerCheck): boolean {
    if (check === 'invalid-request-id') reply(res, INVALID_REQUEST_ID);
    else if (check === 'closed') reply(res, CLOSING);
    else return false;
    return true;
  }

  #answered(res: ServerResponse, settled: boolean): void {
    // Not settled: the invocation was abandoned (or the server closed) while its body was arriving.
    reply(res, settled ? ACCEPTED : invalidStateTransition(this.#session.state, 'response'));
  }
}

function responseOutcome(req: IncomingMessage, payload: Buffer): InvocationOutcome {
  const contentType = req.headers['content-type'];
  return contentType === undefined ? { kind: 'response', payload } : { kind: 'response', payload, contentType };
}

/** A streamed response that failed midway says so in trailers (§3.3): error type, and the error JSON in base64. */
function streamedOutcome(req: IncomingMessage, body: Buffer): InvocationOutcome {
  const trailerType = req.trailers[FUNCTION_ERROR_TYPE_HEADER];
  if (trailerType === undefined || trailerType === '') return responseOutcome(req, body);
  const encoded = req.trailers[FUNCTION_ERROR_BODY_TRAILER];
  const posted = encoded ? Buffer.from(encoded, 'base64') : EMPTY;
  const errorType = errorTypeOf(trailerType, posted);
  return { kind: 'error', errorType, payload: errorPayloadOf(errorType, posted) };
}

function headerOf(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function decodeRequestId(raw: string): string | undefined {
  if (!raw.includes('%')) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined; // malformed escapes name no invocation
  }
}

function answerInternalError(res: ServerResponse): void {
  if (!res.headersSent) reply(res, INTERNAL_ERROR);
  else res.destroy();
}
