import { PlatformError } from '../shared/errors.js';

/** Errors of the Runtime API server's own API (the runtime's mistakes are HTTP answers, never exceptions). */
export type RuntimeApiErrorCode =
  | 'ERR_RUNTIME_API_LISTEN' // the socket or port could not be bound
  | 'ERR_RUNTIME_API_CLOSED' // the server was closed (pending invocations and waiters are rejected with this)
  | 'ERR_RUNTIME_API_BUSY' // invoke() while another invocation is still open
  | 'ERR_RUNTIME_API_INIT_FAILED' // invoke() after the runtime reported an init error
  | 'ERR_RUNTIME_API_INVALID_INVOCATION' // an invocation field cannot be sent as a header
  | 'ERR_RUNTIME_API_ABANDONED' // the open invocation was abandoned (timeout, runtime died)
  | 'ERR_RUNTIME_API_INVALID_TRANSITION'; // a state change the transition table forbids (a bug, not a runtime's mistake)
export class RuntimeApiError extends PlatformError<RuntimeApiErrorCode> {}
