/**
 * The Lambda REST API (2015-03-31 and its sibling path versions) on fastify. Every request: request id →
 * raw body → SigV4 → JSON parse → schema → thin route handler → AWS-shaped answer or error.
 */
import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Partition } from '../model/arn.js';
import { MAX_CODE_REQUEST_BYTES } from '../model/limits.js';
import type { Clock } from '../shared/clock.js';
import type { Logger } from '../shared/logger.js';
import type { AliasService } from '../functions/alias-service.js';
import type { FunctionService } from '../functions/function-service.js';
import type { LayerService } from '../functions/layer-service.js';
import type { PolicyService } from '../functions/policy-service.js';
import type { InvokeService } from '../invoke/invoke-service.js';
import type { EventInvokeConfigs } from '../invoke/async/event-invoke-configs.js';
import type { EventQueue } from '../invoke/async/event-queue.js';
import type { ProvisionedConcurrency } from '../invoke/provisioned-concurrency.js';
import type { BlobStore, Store } from '../store/store.js';
import { verifySigV4 } from './auth/sigv4.js';
import type { CodeLocations } from './code-locations.js';
import { registerAccountRoutes } from './routes/account.js';
import { registerCodeDownloadRoute } from './routes/code-download.js';
import { registerEventInvokeConfigRoutes } from './routes/event-invoke-config.js';
import { registerConcurrencyRoutes } from './routes/concurrency.js';
import { registerFunctionRoutes } from './routes/functions.js';
import { registerInvokeRoutes } from './routes/invoke.js';
import { registerLayerRoutes } from './routes/layers.js';
import { registerPolicyRoutes } from './routes/policy.js';
import { registerProvisionedConcurrencyRoutes } from './routes/provisioned-concurrency.js';
import { registerStatsRoutes } from './routes/stats.js';
import { registerTagRoutes } from './routes/tags.js';
import { registerUnsupportedRoutes } from './routes/unsupported.js';
import { registerVersionAliasRoutes } from './routes/versions-aliases.js';
import { ApiError, toErrorBody } from './wire/errors.js';
import { toApiError } from './wire/translate.js';
import { toValidationMessage, type SchemaFailure } from './wire/validation-message.js';

export interface ApiDeps {
  partition: Partition;
  auth: { mode: 'sigv4' | 'none'; findSecret(accessKeyId: string): string | undefined };
  concurrencyLimit: number;
  store: Store;
  blobs: BlobStore;
  functions: FunctionService;
  aliases: AliasService;
  layers: LayerService;
  policies: PolicyService;
  invoke: InvokeService;
  /** Asynchronous invocations: accepted events and their EventInvokeConfigs. */
  events: EventQueue;
  eventInvokeConfigs: EventInvokeConfigs;
  provisioned: ProvisionedConcurrency;
  codeLocations: CodeLocations;
  clock: Clock;
  log: Logger;
  /** Runtime counters for GET /kindling/stats (start kinds, pre-warmed sandboxes). */
  stats?: () => object;
}

/** Per-route settings, read by the hooks below. */
export interface RouteConfig {
  operation: string;
  /** 'json' (default): the body is parsed as JSON; 'raw': kept as bytes (Invoke payloads); 'none': no body is
   *  expected; 'public': no authentication. */
  body?: 'json' | 'raw' | 'none' | 'public';
}

declare module 'fastify' {
  interface FastifyRequest {
    accountId: string;
  }
}

const MAX_SKEW_MS = 5 * 60 * 1000;

export function createApiApp(deps: ApiDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.log.child({ component: 'api' }),
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: () => randomUUID(),
    bodyLimit: MAX_CODE_REQUEST_BYTES,
    routerOptions: { maxParamLength: 2048, ignoreTrailingSlash: true },
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, verbose: true, allErrors: false } },
    schemaErrorFormatter: (errors) => new ApiError('ValidationException', toValidationMessage(errors as unknown as SchemaFailure[])),
  }) as unknown as FastifyInstance;
  app.decorateRequest('accountId', '');

  // Every body arrives as raw bytes: the signature covers them, and JSON is parsed only after it verified.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-amzn-RequestId', request.id);
  });

  app.addHook('preValidation', async (request) => {
    const config = request.routeOptions.config as Partial<RouteConfig>;
    const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    if (config.body === 'public') return;
    request.accountId = await authenticate(deps, request, raw);
    if (config.body === 'none' || config.body === 'raw') return;
    request.body = parseJsonBody(raw);
  });

  app.setErrorHandler((error, request, reply) => sendError(deps, error, request, reply));
  app.setNotFoundHandler((request, reply) => {
    sendError(deps, new ApiError("UnknownOperationException", `Kindling does not implement this operation yet: ${request.method} ${request.url.split("?")[0]}`), request, reply);
  });

  app.get('/kindling/health', { config: { operation: 'Health', body: 'public' } }, async () => ({ status: 'ok' }));
  registerCodeDownloadRoute(app, deps);
  registerFunctionRoutes(app, deps);
  registerInvokeRoutes(app, deps);
  registerVersionAliasRoutes(app, deps);
  registerLayerRoutes(app, deps);
  registerConcurrencyRoutes(app, deps);
  registerTagRoutes(app, deps);
  registerPolicyRoutes(app, deps);
  registerAccountRoutes(app, deps);
  registerEventInvokeConfigRoutes(app, deps);
  registerProvisionedConcurrencyRoutes(app, deps);
  registerUnsupportedRoutes(app, deps);
  registerStatsRoutes(app, deps);
  return app;
}

async function authenticate(deps: ApiDeps, request: FastifyRequest, body: Buffer): Promise<string> {
  if (deps.auth.mode === 'none') return deps.partition.accountId;
  const result = await verifySigV4(
    { method: request.method, url: request.raw.url ?? request.url, headers: request.headers, body },
    { region: deps.partition.region, service: 'lambda', nowMs: deps.clock.now(), maxSkewMs: MAX_SKEW_MS, findSecret: deps.auth.findSecret },
  );
  if (!result.ok) throw new ApiError(result.errorType, result.message);
  // One account per server for now: every known key acts in it.
  return deps.partition.accountId;
}

function parseJsonBody(raw: Buffer): unknown {
  if (raw.length === 0) return {};
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch (error) {
    throw new ApiError('InvalidRequestContentException', `Could not parse request body into json: ${(error as Error).message}`);
  }
}

function sendError(deps: ApiDeps, error: unknown, request: FastifyRequest, reply: FastifyReply): void {
  let apiError: ApiError;
  const code = (error as { code?: unknown }).code;
  const operation = (request.routeOptions.config as Partial<RouteConfig> | undefined)?.operation ?? 'unknown';
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    // AWS names the Invoke operation "InvokeFunction" in this message (LAMBDA_REFERENCE §1.5).
    const limit = request.routeOptions.bodyLimit ?? MAX_CODE_REQUEST_BYTES;
    const named = operation === 'Invoke' ? 'InvokeFunction' : operation;
    apiError = new ApiError('RequestEntityTooLargeException', `Request must be smaller than ${limit} bytes for the ${named} operation`);
  } else if (typeof code === 'string' && code.startsWith('FST_ERR_CTP')) {
    apiError = new ApiError('InvalidRequestContentException', `Could not read the request body: ${(error as Error).message}`);
  } else {
    const translated = toApiError(error);
    apiError = translated.apiError;
    if (translated.unexpected) deps.log.error({ err: error, requestId: request.id, operation }, 'unexpected error');
  }
  void reply
    .status(apiError.status)
    .header('x-amzn-ErrorType', apiError.errorType)
    .header('content-type', 'application/json')
    .send(JSON.stringify(toErrorBody(apiError)));
}
