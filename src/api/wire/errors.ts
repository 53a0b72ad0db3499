/**
 * AWS API errors: one table, one serializer. The message member's spelling (`message` or `Message`) follows the
 * service model per error (LAMBDA_REFERENCE §2.2); both SDKs read either.
 */
export const API_ERRORS = {
  InvalidParameterValueException: { status: 400, type: 'User', messageKey: 'message' },
  InvalidRequestContentException: { status: 400, type: 'User', messageKey: 'message' },
  ValidationException: { status: 400, type: undefined, messageKey: 'message' },
  CodeStorageExceededException: { status: 400, type: 'User', messageKey: 'message' },
  PolicyLengthExceededException: { status: 400, type: 'User', messageKey: 'message' },
  ResourceNotFoundException: { status: 404, type: 'User', messageKey: 'Message' },
  ProvisionedConcurrencyConfigNotFoundException: { status: 404, type: 'User', messageKey: 'message' },
  ResourceConflictException: { status: 409, type: 'User', messageKey: 'message' },
  PreconditionFailedException: { status: 412, type: 'User', messageKey: 'message' },
  RequestEntityTooLargeException: { status: 413, type: 'User', messageKey: 'message' },
  RequestTooLargeException: { status: 413, type: 'User', messageKey: 'message' },
  UnsupportedMediaTypeException: { status: 415, type: 'User', messageKey: 'message' },
  TooManyRequestsException: { status: 429, type: 'User', messageKey: 'message' },
  MissingAuthenticationTokenException: { status: 403, type: undefined, messageKey: 'message' },
  IncompleteSignatureException: { status: 403, type: undefined, messageKey: 'message' },
  UnrecognizedClientException: { status: 403, type: undefined, messageKey: 'message' },
  InvalidSignatureException: { status: 403, type: undefined, messageKey: 'message' },
  AccessDeniedException: { status: 403, type: undefined, messageKey: 'Message' },
  UnknownOperationException: { status: 404, type: undefined, messageKey: 'message' },
  ServiceException: { status: 500, type: 'Service', messageKey: 'Message' },
} as const satisfies Record<string, { status: number; type: 'User' | 'Service' | undefined; messageKey: 'message' | 'Message' }>;

export type ApiErrorType = keyof typeof API_ERRORS;

/** An error a client sees: an AWS error type, a message, and optional extra body members (e.g. Reason). */
export class ApiError extends Error {
  constructor(
    readonly errorType: ApiErrorType,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = errorType;
  }

  get status(): number {
    return API_ERRORS[this.errorType].status;
  }
}

export function toErrorBody(error: ApiError): Record<string, unknown> {
  const spec = API_ERRORS[error.errorType];
  const body: Record<string, unknown> = {};
  if (spec.type !== undefined) body.Type = spec.type;
  body[spec.messageKey] = error.message;
  return { ...body, ...error.extra };
}
