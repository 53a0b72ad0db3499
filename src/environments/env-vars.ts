/**
 * The environment of a runtime process, built from nothing (never from the server's own environment): the function's
 * variables, then what Lambda sets (docs: configuration-envvars.html#configuration-envvars-runtime; LAMBDA_REFERENCE §4.1).
 * Reserved keys cannot come from the function (CreateFunction refuses them), so the platform's values win. No
 * credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN stay unset until role credentials exist.
 */
import type { FunctionVersion } from '../model/function.js';
import type { RuntimeRow } from '../model/runtimes.js';

export interface EnvironmentContext {
  region: string;
  logStreamName: string;
  /** host:port as the runtime must use it (clients split on ':'; no path prefix). */
  runtimeApi: string;
  initializationType: 'on-demand' | 'provisioned-concurrency';
}

export function buildEnvironmentVariables(v: FunctionVersion, runtime: RuntimeRow, ctx: EnvironmentContext): Record<string, string> {
  const s = v.settings;
  const env: Record<string, string> = { ...runtime.environment, ...(s.environment ?? {}) };
  Object.assign(env, {
    _HANDLER: s.handler,
    AWS_REGION: ctx.region,
    AWS_DEFAULT_REGION: ctx.region,
    AWS_LAMBDA_FUNCTION_NAME: v.functionName,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(s.memorySizeMb),
    AWS_LAMBDA_FUNCTION_VERSION: v.version,
    AWS_LAMBDA_INITIALIZATION_TYPE: ctx.initializationType,
    AWS_LAMBDA_LOG_GROUP_NAME: s.loggingConfig.logGroup,
    AWS_LAMBDA_LOG_STREAM_NAME: ctx.logStreamName,
    AWS_LAMBDA_RUNTIME_API: ctx.runtimeApi,
    LAMBDA_TASK_ROOT: '/var/task',
    LAMBDA_RUNTIME_DIR: '/var/runtime',
    TZ: ':UTC',
  });
  if (runtime.executionEnv !== undefined) env.AWS_EXECUTION_ENV = runtime.executionEnv;
  if (s.loggingConfig.logFormat === 'JSON') {
    env.AWS_LAMBDA_LOG_FORMAT = 'JSON';
    if (s.loggingConfig.applicationLogLevel !== undefined) env.AWS_LAMBDA_LOG_LEVEL = s.loggingConfig.applicationLogLevel;
  }
  return env;
}

/**
 * The environment a pre-warmed runtime starts with: what the runtime itself needs and nothing that depends on a
 * function (no handler, name, memory, log stream, user variables). On binding, the runtime replaces it entirely with
 * buildEnvironmentVariables' (spare-key.ts keeps functions whose variables matter at start away from spares).
 */
export function buildSpareEnvironment(runtime: RuntimeRow, ctx: { runtimeApi: string; runtimeApiSocketInside?: string }): Record<string, string> {
  const env: Record<string, string> = {
    ...runtime.environment,
    AWS_LAMBDA_RUNTIME_API: ctx.runtimeApi,
    LAMBDA_TASK_ROOT: '/var/task',
    LAMBDA_RUNTIME_DIR: '/var/runtime',
    TZ: ':UTC',
    _KINDLING_BINDING: '1',
  };
  if (runtime.executionEnv !== undefined) env.AWS_EXECUTION_ENV = runtime.executionEnv;
  if (ctx.runtimeApiSocketInside !== undefined) env._KINDLING_RUNTIME_API_SOCKET = ctx.runtimeApiSocketInside;
  return env;
}

/**
 * V8 heap flags for MemorySize, as Lambda's Node bootstrap derives them, unless NODE_OPTIONS already sets them.
 * Old space gets 90% of the memory (the rest is code, stacks and buffers); semi space grows with memory up to 64 MB.
 */
export function nodeHeapFlags(memorySizeMb: number, nodeOptions: string | undefined): string[] {
  if (nodeOptions !== undefined && /--max-old-space-size|--max-semi-space-size/.test(nodeOptions)) return [];
  const oldSpace = Math.floor(memorySizeMb * 0.9);
  const semiSpace = Math.max(1, Math.min(64, Math.floor(memorySizeMb / 64)));
  return [`--max-semi-space-size=${semiSpace}`, `--max-old-space-size=${oldSpace}`];
}
