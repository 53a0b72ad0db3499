import { PlatformError } from '../shared/errors.js';

export type EnvironmentErrorCode =
  | 'ERR_ENV_SPAWN_FAILED' // the sandbox could not be started
  | 'ERR_ENV_INVALID_STATE' // a transition the state machine does not allow
  | 'ERR_ENV_SANDBOX_UNAVAILABLE'; // the configured sandbox backend cannot run on this host
export class EnvironmentError extends PlatformError<EnvironmentErrorCode> {}
