// Errors as the Lambda Node runtime reports them: the Runtime.* types it raises itself, the payload posted to the
// Runtime API ({errorType, errorMessage, trace}) and the JSON appended to "Invoke Error" / "Uncaught Exception" log
// lines ({errorType, errorMessage, …own fields, stack}). LAMBDA_REFERENCE §1.5, §3.4, §5.2.
import { types } from 'node:util';

/** Base of the errors the runtime raises itself; subclasses get `Runtime.<ClassName>` as their name. */
class RuntimeError extends Error {}

export class MalformedHandlerName extends RuntimeError {}
export class ImportModuleError extends RuntimeError {}
export class UserCodeSyntaxError extends RuntimeError {}
export class HandlerNotFound extends RuntimeError {}
/** An invocation still open when the event loop ran empty: the handler's promise can never settle. */
export class NodeJsExit extends RuntimeError {}
/** Response streaming (awslambda.streamifyResponse) is not served by this runtime yet. */
export class StreamingNotSupported extends RuntimeError {}

/** Wraps a rejection reason that reached the process's unhandledRejection handler (message = String(reason)). */
export class UnhandledPromiseRejection extends RuntimeError {
  constructor(reason, promise) {
    super(describe(reason));
    this.reason = reason;
    this.promise = promise;
  }
}

// The name lives on the prototype (as in the official client) so that it is in the stack header and does not show
// up as an own field in the log JSON.
for (const cls of [MalformedHandlerName, ImportModuleError, UserCodeSyntaxError, HandlerNotFound, NodeJsExit,
  StreamingNotSupported, UnhandledPromiseRejection]) {
  Object.defineProperty(cls.prototype, 'name', { value: `Runtime.${cls.name}`, writable: true, configurable: true });
}

/**
 * A Runtime.* error raised because of `cause` (a failed require/import): message = String(cause), and the stack keeps
 * the cause's stack under the runtime's header so that the file and line of a syntax error are not lost.
 */
export function wrapLoadError(Cls, cause) {
  const error = new Cls(describe(cause));
  const causeStack = isErrorLike(cause) ? cause.stack : undefined;
  if (typeof causeStack === 'string') error.stack = `${error.name}: ${error.message}\n${causeStack}`;
  return error;
}

/** Error objects, including ones from other realms and plain objects shaped like errors (as the official client). */
export function isErrorLike(value) {
  if (types.isNativeError(value) || value instanceof Error) return true;
  return value !== null && typeof value === 'object' && typeof value.name === 'string'
    && typeof value.message === 'string' && typeof value.stack === 'string';
}

/** The body posted to /error and /init/error. A non-Error value x → {errorType: typeof x, errorMessage: String(x), trace: []}. */
export function toErrorPayload(value) {
  try {
    if (isErrorLike(value)) {
      return {
        errorType: String(value.name),
        errorMessage: typeof value.message === 'string' ? value.message : String(value.message),
        trace: typeof value.stack === 'string' ? value.stack.split('\n') : [],
      };
    }
    return { errorType: typeof value, errorMessage: describe(value), trace: [] };
  } catch {
    // A getter that throws, a Symbol.toPrimitive that throws…: still report something.
    return { errorType: 'handled', errorMessage: 'the error value could not be read (its name, message or stack threw)', trace: [] };
  }
}

/** `\t{…}`: the JSON appended after "Invoke Error" / "Uncaught Exception" in log lines (Text format). */
export function formatForLog(value) {
  try {
    return `\t${JSON.stringify(value, errorReplacer)}`;
  } catch {
    return `\t${JSON.stringify(toErrorPayload(value))}`;
  }
}

function errorReplacer(_key, value) {
  if (!isErrorLike(value)) return value;
  const out = { errorType: value.name, errorMessage: value.message, code: value.code };
  for (const key of Object.keys(value)) out[key] = value[key];
  if (typeof value.stack === 'string') out.stack = value.stack.split('\n');
  return out;
}

function describe(value) {
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** A header value the Runtime API accepts (printable ASCII, no spaces); anything else becomes Runtime.Unknown. */
export function errorTypeHeader(errorType) {
  return /^[\x21-\x7e]{1,256}$/.test(errorType) ? errorType : 'Runtime.Unknown';
}
