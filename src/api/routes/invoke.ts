/** Invoke (RequestResponse, Event and DryRun) and the legacy InvokeAsync: LAMBDA_REFERENCE §1.5, §7.1. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { MAX_ASYNC_PAYLOAD_BYTES, MAX_INVOKE_ASYNC_PAYLOAD_BYTES, MAX_SYNC_PAYLOAD_BYTES } from '../../model/limits.js';
import type { ApiDeps } from '../server.js';
import { ApiError } from '../wire/errors.js';
import { functionTarget } from './targets.js';

/** X-Amz-Client-Context is at most 3,583 bytes of base64 (LAMBDA_REFERENCE §6). */
const MAX_CLIENT_CONTEXT_BYTES = 3583;

export function registerInvokeRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const { functions, invoke, events, partition } = deps;
  /** Stored durably before the 202: from here on the event runs at least once (LAMBDA_REFERENCE §7.1). */
  const acceptEvent = (request: FastifyRequest, target: ReturnType<typeof functionTarget>, payload: Buffer) =>
    events.accept({
      accountId: request.accountId,
      functionName: target.functionName,
      ...(target.qualifier === undefined ? {} : { qualifier: target.qualifier }),
      requestId: request.id,
      payload,
    });

  app.post(
    '/2015-03-31/functions/:FunctionName/invocations',
    { config: { operation: 'Invoke', body: 'raw' }, bodyLimit: MAX_SYNC_PAYLOAD_BYTES },
    async (request, reply) => {
      const target = functionTarget(request, partition);
      const invocationType = header(request, 'x-amz-invocation-type') ?? 'RequestResponse';
      if (invocationType !== 'RequestResponse' && invocationType !== 'Event' && invocationType !== 'DryRun') {
        throw new ApiError(
          'ValidationException',
          `1 validation error detected: Value '${invocationType}' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]`,
        );
      }
      const logType = header(request, 'x-amz-log-type') ?? 'None';
      if (logType !== 'None' && logType !== 'Tail') {
        throw new ApiError('ValidationException', `1 validation error detected: Value '${logType}' at 'logType' failed to satisfy constraint: Member must satisfy enum value set: [None, Tail]`);
      }
      const clientContext = decodeClientContext(header(request, 'x-amz-client-context'));
      const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const payload = raw.length === 0 ? Buffer.from('{}') : checkJson(raw);
      const resolved = await functions.resolve(request.accountId, target.functionName, target.qualifier, { route: true });
      const { version } = resolved;
      assertActive(version);
      if (invocationType === 'DryRun') {
        void reply.status(204);
        return null;
      }
      if (invocationType === 'Event') {
        if (raw.length > MAX_ASYNC_PAYLOAD_BYTES) throw tooLarge(MAX_ASYNC_PAYLOAD_BYTES, 'InvokeFunction');
        await acceptEvent(request, target, payload);
        return reply.status(202).send();
      }
      const result = await invoke.invoke({
        version,
        requestId: request.id,
        invokedFunctionArn: functions.arn(target.functionName, target.qualifier),
        payload,
        ...(clientContext === undefined ? {} : { clientContext }),
        wantTail: logType === 'Tail',
      });
      void reply.status(200).header('content-type', 'application/json').header('x-amz-executed-version', result.executedVersion);
      if (result.kind === 'error') void reply.header('x-amz-function-error', 'Unhandled');
      if (result.logTail !== undefined) void reply.header('x-amz-log-result', Buffer.from(result.logTail).toString('base64'));
      return reply.send(result.payload);
    },
  );

  // Deprecated, but SDKs still have it: an Event invoke of at most 256 KB that answers {"Status":202}. A larger body
  // is refused by the body limit: 413 RequestEntityTooLargeException (the model declares no size error for it).
  app.post(
    '/2014-11-13/functions/:FunctionName/invoke-async',
    { config: { operation: 'InvokeAsync', body: 'raw' }, bodyLimit: MAX_INVOKE_ASYNC_PAYLOAD_BYTES },
    async (request, reply) => {
      const target = functionTarget(request, partition);
      const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const payload = raw.length === 0 ? Buffer.from('{}') : checkJson(raw);
      const { version } = await functions.resolve(request.accountId, target.functionName, target.qualifier);
      assertActive(version);
      await acceptEvent(request, target, payload);
      return reply.status(202).header('content-type', 'application/json').send(JSON.stringify({ Status: 202 }));
    },
  );
}

/** Invoke's modelled error name (the SDK raises RequestTooLargeException) with AWS's message. */
function tooLarge(limit: number, operation: string): ApiError {
  return new ApiError('RequestTooLargeException', `Request must be smaller than ${limit} bytes for the ${operation} operation`);
}

/** A function still being created or updated cannot be invoked yet (AWS answers the same conflict). */
function assertActive(version: { state: string }): void {
  if (version.state !== 'Active') {
    throw new ApiError(
      'ResourceConflictException',
      `The operation cannot be performed at this time. The function is currently in the following state: ${version.state}`,
    );
  }
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function checkJson(raw: Buffer): Buffer {
  try {
    JSON.parse(raw.toString('utf8'));
    return raw;
  } catch (error) {
    throw new ApiError(
      'InvalidRequestContentException',
      `Could not parse request body into json: Could not parse payload into json: ${(error as Error).message}`,
    );
  }
}

/** Base64 on the wire; the runtime gets the decoded JSON text (Lambda-Runtime-Client-Context). */
function decodeClientContext(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  const invalid = () => new ApiError('InvalidRequestContentException', 'Client context must be a valid Base64-encoded JSON object.');
  if (value.length > MAX_CLIENT_CONTEXT_BYTES) {
    throw new ApiError('InvalidRequestContentException', `Client context must be at most ${MAX_CLIENT_CONTEXT_BYTES} bytes of Base64.`);
  }
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(value)) throw invalid();
  const bytes = Buffer.from(value, 'base64');
  try {
    const parsed: unknown = JSON.parse(bytes.toString('utf8'));
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw invalid();
  } catch {
    throw invalid();
  }
  // HTTP header values are bytes: latin1 carries the UTF-8 JSON through to the runtime unchanged.
  return bytes.toString('latin1');
}
