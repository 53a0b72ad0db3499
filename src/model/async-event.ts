/**
 * Asynchronous invocation (X-Amz-Invocation-Type: Event, LAMBDA_REFERENCE §7.1): the stored event, what its last
 * attempt answered, and the per-qualifier EventInvokeConfig that governs retries, age and destinations.
 */

/** What an attempt answered, kept for the destination record (an event can age out long after its last attempt). */
export interface AttemptOutcome {
  /** 200 for anything the function answered (errors included), 429 throttled, 500 a platform failure. */
  statusCode: number;
  executedVersion?: string;
  /** 'Unhandled' when the function failed (error, timeout, crash). */
  functionError?: string;
  /** The function's response (or error) document as text. */
  payload?: string;
}

/** An accepted event, stored until it succeeds, fails for good or ages out. */
export interface AsyncEvent {
  accountId: string;
  /** The Invoke's x-amzn-RequestId: the function sees it on every attempt. */
  requestId: string;
  functionName: string;
  /** As invoked (a version or an alias); absent for an unqualified invoke ($LATEST). */
  qualifier?: string;
  payload: Buffer;
  /** When it was accepted: MaximumEventAgeInSeconds counts from here. */
  enqueuedMs: number;
  /** Not run before this time. */
  dueMs: number;
  /** Attempts started; persisted before each starts, so a crash cannot forget one. */
  attempts: number;
  /** Consecutive throttled or platform-failed tries since the last real attempt (the backoff exponent). */
  throttles: number;
  /** An attempt holds it (at a crash: it was mid-attempt). */
  running: boolean;
  /** The one extra attempt after a crash mid-attempt was already granted (at most MaximumRetryAttempts + 2 in all). */
  redone: boolean;
  lastOutcome?: AttemptOutcome;
}

/** Destination conditions of Lambda's invocation record. */
export type DestinationCondition = 'Success' | 'RetriesExhausted' | 'EventAgeExceeded';

/** PutFunctionEventInvokeConfig's settings for one qualifier ('$LATEST', a version number or an alias name). */
export interface EventInvokeConfig {
  accountId: string;
  functionName: string;
  qualifier: string;
  /** 0–2; absent = Lambda's default (2). */
  maximumRetryAttempts?: number;
  /** 60–21600; absent = Lambda's default (21600). */
  maximumEventAgeSeconds?: number;
  /** Destination ARNs. */
  onSuccess?: string;
  onFailure?: string;
  lastModifiedMs: number;
}

export const DEFAULT_MAXIMUM_RETRY_ATTEMPTS = 2;
export const DEFAULT_MAXIMUM_EVENT_AGE_SECONDS = 21_600;
export const MIN_MAXIMUM_EVENT_AGE_SECONDS = 60;
export const MAX_MAXIMUM_RETRY_ATTEMPTS = 2;
