import { PlatformError } from '../shared/errors.js';

export type EnvironmentErrorCode =
  | 'ERR_ENV_SPAWN_FAILED' // the sandbox could not be started
  | 'ERR_ENV_INVALID_STATE'; // a transition the state machine does not allow
export class EnvironmentError extends PlatformError<EnvironmentErrorCode> {}
