/**
 * The one translator from internal errors to AWS errors. Known codes map to their AWS type; anything else is a
 * ServiceException whose cause is logged once and never sent.
 */
import { ThrottledError } from '../../invoke/errors.js';
import { PlatformError } from '../../shared/errors.js';
import { ApiError, type ApiErrorType } from './errors.js';

const BY_CODE: Record<string, ApiErrorType> = {
  ERR_NOT_FOUND: 'ResourceNotFoundException',
  ERR_CONFLICT: 'ResourceConflictException',
  ERR_INVALID_PARAMETER: 'InvalidParameterValueException',
  ERR_VALIDATION: 'ValidationException',
  ERR_PRECONDITION_FAILED: 'PreconditionFailedException',
  ERR_CODE_TOO_LARGE: 'RequestEntityTooLargeException',
  ERR_POLICY_TOO_LARGE: 'PolicyLengthExceededException',
  ERR_CODE_STORAGE_EXCEEDED: 'CodeStorageExceededException',
  ERR_NOT_IMPLEMENTED: 'InvalidParameterValueException',
  ERR_STORE_INVALID_MARKER: 'InvalidParameterValueException',
  ERR_INVOKE_SHUTTING_DOWN: 'ServiceException',
  ERR_ASYNC_INVALID_CONFIG: 'InvalidParameterValueException',
  ERR_ASYNC_CONFIG_NOT_FOUND: 'ResourceNotFoundException',
  ERR_PROVISIONED_NOT_FOUND: 'ResourceNotFoundException',
  ERR_PROVISIONED_CONFIG_NOT_FOUND: 'ProvisionedConcurrencyConfigNotFoundException',
  ERR_PROVISIONED_CONFLICT: 'ResourceConflictException',
  ERR_PROVISIONED_INVALID: 'InvalidParameterValueException',
};

const UNZIP_FAILED = 'Could not unzip uploaded file. Please check your file, then try to upload again.';

/** Messages for deployment-package problems (src/code): AWS's wording where AWS has one. */
const CODE_MESSAGES: Record<string, (detail: string) => string> = {
  ERR_CODE_CORRUPT_ZIP: () => UNZIP_FAILED,
  ERR_CODE_UNSAFE_PATH: (d) => `${UNZIP_FAILED} ${d}`,
  ERR_CODE_UNSAFE_LINK: (d) => `${UNZIP_FAILED} ${d}`,
  ERR_CODE_TOO_MANY_ENTRIES: (d) => `${UNZIP_FAILED} ${d}`,
  ERR_CODE_TOO_LARGE_UNZIPPED: () => 'Unzipped size must be smaller than 262144000 bytes',
};

export function toApiError(error: unknown): { apiError: ApiError; unexpected: boolean } {
  if (error instanceof ApiError) return { apiError: error, unexpected: false };
  if (error instanceof ThrottledError) {
    return { apiError: new ApiError('TooManyRequestsException', error.message, { Reason: error.reason }), unexpected: false };
  }
  if (error instanceof PlatformError && error.code === 'ERR_ASYNC_QUEUE_FULL') {
    // Lambda's throttle for a caller sending faster than it is served: SDKs back off and retry a 429.
    return { apiError: new ApiError('TooManyRequestsException', error.message, { Reason: 'CallerRateLimitExceeded' }), unexpected: false };
  }
  if (error instanceof PlatformError) {
    const type = BY_CODE[error.code];
    if (type) return { apiError: new ApiError(type, error.message), unexpected: false };
    const codeMessage = CODE_MESSAGES[error.code];
    if (codeMessage) return { apiError: new ApiError('InvalidParameterValueException', codeMessage(error.message)), unexpected: false };
    if (error.code === 'ERR_STORE_FULL' || error.code === 'ERR_CODE_DISK_FULL') {
      return {
        apiError: new ApiError('ServiceException', 'Kindling could not store the request: the server is out of disk space. Free space in its data directory and try again.'),
        unexpected: false,
      };
    }
  }
  return { apiError: new ApiError('ServiceException', 'An internal error occurred. The server log has the details.'), unexpected: true };
}
