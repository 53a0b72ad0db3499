/**
 * Header names of the Runtime API 2018-06-01 (LAMBDA_REFERENCE §3.2, §3.3).
 * Outgoing names keep AWS's spelling; incoming ones are lower case, as node:http presents them.
 */

// On the 200 answer to GET /runtime/invocation/next.
export const REQUEST_ID_HEADER = 'Lambda-Runtime-Aws-Request-Id';
export const DEADLINE_MS_HEADER = 'Lambda-Runtime-Deadline-Ms';
export const INVOKED_FUNCTION_ARN_HEADER = 'Lambda-Runtime-Invoked-Function-Arn';
export const TRACE_ID_HEADER = 'Lambda-Runtime-Trace-Id';
export const CLIENT_CONTEXT_HEADER = 'Lambda-Runtime-Client-Context';
export const COGNITO_IDENTITY_HEADER = 'Lambda-Runtime-Cognito-Identity';
export const TENANT_ID_HEADER = 'Lambda-Runtime-Aws-Tenant-Id';

// Sent by the runtime.
export const FUNCTION_ERROR_TYPE_HEADER = 'lambda-runtime-function-error-type';
/** Streaming responses only, as a trailer: base64 of the error JSON. */
export const FUNCTION_ERROR_BODY_TRAILER = 'lambda-runtime-function-error-body';
export const FUNCTION_RESPONSE_MODE_HEADER = 'lambda-runtime-function-response-mode';
/** The only value of the response-mode header Lambda accepts. */
export const STREAMING_RESPONSE_MODE = 'streaming';
/** Sent by the official clients on /response and /error; accepted and ignored (X-Ray is not emulated). */
export const XRAY_ERROR_CAUSE_HEADER = 'lambda-runtime-function-xray-error-cause';
