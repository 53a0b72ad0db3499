import { PlatformError } from '../../shared/errors.js';

export type AsyncInvokeErrorCode =
  | 'ERR_ASYNC_QUEUE_FULL' // the stored events' payloads reached KINDLING_ASYNC_QUEUE_MAX_MB: 429, the caller retries later
  | 'ERR_ASYNC_INVALID_CONFIG' // an EventInvokeConfig the API cannot accept (destination, empty update)
  | 'ERR_ASYNC_CONFIG_NOT_FOUND'; // no EventInvokeConfig for this function or qualifier

export class AsyncInvokeError extends PlatformError<AsyncInvokeErrorCode> {}
