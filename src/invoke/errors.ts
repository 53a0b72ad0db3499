import { PlatformError } from '../shared/errors.js';

export type InvokeErrorCode =
  | 'ERR_INVOKE_SHUTTING_DOWN' // the server is closing: no new environment is started
  | 'ERR_INVOKE_THROTTLED'; // no concurrency or capacity for this invocation: 429 TooManyRequestsException

/**
 * Lambda's throttle reasons (the `Reason` member of a 429 body, LAMBDA_REFERENCE §5):
 * - ReservedFunctionConcurrentInvocationLimitExceeded: the function's reserved concurrency is in use (or is 0);
 * - ConcurrentInvocationLimitExceeded: the account's unreserved concurrency (or the node's capacity, after
 *   KINDLING_PLACEMENT_WAIT_MS of waiting) is exhausted.
 */
export type ThrottleReason = 'ReservedFunctionConcurrentInvocationLimitExceeded' | 'ConcurrentInvocationLimitExceeded';

export class InvokeError extends PlatformError<InvokeErrorCode> {}

/** A throttled invocation. Sync callers answer 429 with `reason`; async attempts go back to the queue. */
export class ThrottledError extends InvokeError {
  constructor(readonly reason: ThrottleReason, message = 'Rate Exceeded.') {
    super('ERR_INVOKE_THROTTLED', message);
  }
}
