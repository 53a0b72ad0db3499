import { PlatformError } from '../shared/errors.js';

export type InvokeErrorCode =
  | 'ERR_INVOKE_SHUTTING_DOWN'; // the server is closing: no new environment is started
export class InvokeError extends PlatformError<InvokeErrorCode> {}
