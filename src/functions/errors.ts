import { PlatformError } from '../shared/errors.js';

/**
 * Control-plane errors. Messages are already worded as AWS words them (they reach clients verbatim);
 * src/api/wire/translate.ts maps each code to its AWS error type.
 */
export type FunctionsErrorCode =
  | 'ERR_NOT_FOUND' // → ResourceNotFoundException
  | 'ERR_CONFLICT' // → ResourceConflictException
  | 'ERR_INVALID_PARAMETER' // → InvalidParameterValueException
  | 'ERR_VALIDATION' // → ValidationException (a model constraint)
  | 'ERR_PRECONDITION_FAILED' // → PreconditionFailedException (RevisionId)
  | 'ERR_CODE_TOO_LARGE' // → RequestEntityTooLargeException (zipped package over 50 MB)
  | 'ERR_POLICY_TOO_LARGE' // → PolicyLengthExceededException
  | 'ERR_CODE_STORAGE_EXCEEDED' // → CodeStorageExceededException
  | 'ERR_NOT_IMPLEMENTED'; // → InvalidParameterValueException naming the missing feature
export class FunctionsError extends PlatformError<FunctionsErrorCode> {}

/** A stale RevisionId: AWS names the call that returns the current one. */
export function revisionMismatch(api: 'GetFunction' | 'GetAlias' | 'GetPolicy'): FunctionsError {
  return new FunctionsError(
    'ERR_PRECONDITION_FAILED',
    `The Revision Id provided does not match the latest Revision Id. Call the ${api} API to retrieve the latest Revision Id`,
  );
}
