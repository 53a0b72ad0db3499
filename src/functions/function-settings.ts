/**
 * Pure rules for a function's settings: defaults as AWS fills them, and the semantic checks AWS answers with
 * InvalidParameterValueException (LAMBDA_REFERENCE §1.4). Model constraints (ranges, patterns) are checked at the edge.
 */
import { isDeadLetterTarget } from '../model/destination-arn.js';
import type { Architecture, FunctionSettings, LoggingConfig, VpcSettings } from '../model/function.js';
import { MAX_ENVIRONMENT_BYTES } from '../model/limits.js';
import { AWS_RUNTIME_IDS, DEPRECATED_RUNTIMES, findRuntime } from '../model/runtimes.js';
import { FunctionsError } from './errors.js';

/** What CreateFunction / UpdateFunctionConfiguration may carry; absent = keep (update) or default (create). */
export interface SettingsInput {
  runtime?: string;
  handler?: string;
  role?: string;
  description?: string;
  timeoutSeconds?: number;
  memorySizeMb?: number;
  environment?: Record<string, string>;
  layerArns?: string[];
  architectures?: Architecture[];
  ephemeralStorageMb?: number;
  tracingMode?: 'Active' | 'PassThrough';
  /** '' removes it. */
  deadLetterTargetArn?: string;
  /** '' removes it. */
  kmsKeyArn?: string;
  loggingConfig?: Partial<LoggingConfig>;
  vpcConfig?: VpcSettings;
  snapStartApplyOn?: 'PublishedVersions' | 'None';
  packageType?: string;
}

/** Keys a function may not set: Lambda sets them itself (docs: configuration-envvars.html#configuration-envvars-runtime). */
export const RESERVED_ENVIRONMENT_KEYS: ReadonlySet<string> = new Set([
  '_HANDLER', '_X_AMZN_TRACE_ID', 'AWS_DEFAULT_REGION', 'AWS_REGION', 'AWS_EXECUTION_ENV', 'AWS_LAMBDA_FUNCTION_NAME',
  'AWS_LAMBDA_FUNCTION_MEMORY_SIZE', 'AWS_LAMBDA_FUNCTION_VERSION', 'AWS_LAMBDA_INITIALIZATION_TYPE',
  'AWS_LAMBDA_LOG_GROUP_NAME', 'AWS_LAMBDA_LOG_STREAM_NAME', 'AWS_ACCESS_KEY', 'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_LAMBDA_RUNTIME_API', 'LAMBDA_TASK_ROOT', 'LAMBDA_RUNTIME_DIR',
]);

/** The model's EnvironmentVariableName, `[a-zA-Z]([a-zA-Z0-9_])+`: two characters at least. */
const ENV_KEY = /^[a-zA-Z][a-zA-Z0-9_]+$/;

export function hostArchitecture(): Architecture {
  return process.arch === 'arm64' ? 'arm64' : 'x86_64';
}

export function checkRuntime(runtime: string): void {
  if (DEPRECATED_RUNTIMES.has(runtime)) {
    throw new FunctionsError(
      'ERR_INVALID_PARAMETER',
      `The runtime parameter of ${runtime} is no longer supported for creating or updating AWS Lambda functions. We recommend you use a supported runtime while creating or updating functions.`,
    );
  }
  if (!AWS_RUNTIME_IDS.has(runtime)) {
    throw new FunctionsError(
      'ERR_VALIDATION',
      `1 validation error detected: Value '${runtime}' at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [${[...AWS_RUNTIME_IDS].filter((r) => !DEPRECATED_RUNTIMES.has(r)).join(', ')}] or be a valid ARN`,
    );
  }
  if (!findRuntime(runtime)) {
    throw new FunctionsError(
      'ERR_INVALID_PARAMETER',
      `The runtime parameter of ${runtime} is not supported by this Kindling server. Supported runtimes: nodejs20.x, python3.11, provided.al2023, provided.al2.`,
    );
  }
}

export function checkEnvironment(variables: Record<string, string>): void {
  const reserved = Object.keys(variables).filter((k) => RESERVED_ENVIRONMENT_KEYS.has(k));
  if (reserved.length > 0) {
    throw new FunctionsError(
      'ERR_INVALID_PARAMETER',
      `Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: ${reserved.join(', ')}`,
    );
  }
  const bad = Object.keys(variables).find((k) => !ENV_KEY.test(k));
  if (bad !== undefined) {
    throw new FunctionsError(
      'ERR_VALIDATION',
      `1 validation error detected: Value at 'environment.variables' failed to satisfy constraint: Map keys must satisfy constraint: [Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]`,
    );
  }
  const measured = JSON.stringify(variables);
  if (Buffer.byteLength(measured) > MAX_ENVIRONMENT_BYTES) {
    throw new FunctionsError(
      'ERR_INVALID_PARAMETER',
      `Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: ${measured}`,
    );
  }
}

export function checkArchitectures(architectures: readonly Architecture[]): void {
  const host = hostArchitecture();
  const other = architectures.find((a) => a !== host);
  if (other !== undefined) {
    throw new FunctionsError(
      'ERR_INVALID_PARAMETER',
      `Architecture ${other} is not supported by this Kindling server: it runs functions on ${host} only.`,
    );
  }
}

/** Merges an input over current settings (or over AWS's defaults on create) and checks the result. */
export function resolveSettings(
  functionName: string,
  input: SettingsInput,
  current: Omit<FunctionSettings, 'layers'> | undefined,
): Omit<FunctionSettings, 'layers'> {
  if (input.packageType !== undefined && input.packageType !== 'Zip') {
    throw new FunctionsError('ERR_INVALID_PARAMETER', 'PackageType Image is not supported by Kindling: deploy a .zip file archive.');
  }
  const runtime = input.runtime ?? current?.runtime;
  const handler = input.handler ?? current?.handler;
  if (runtime === undefined) throw new FunctionsError('ERR_INVALID_PARAMETER', 'Runtime and Handler are mandatory parameters for functions created with deployment packages.');
  if (handler === undefined) throw new FunctionsError('ERR_INVALID_PARAMETER', 'Runtime and Handler are mandatory parameters for functions created with deployment packages.');
  if (input.runtime !== undefined) checkRuntime(input.runtime);
  if (input.environment !== undefined) checkEnvironment(input.environment);
  const architectures = input.architectures ?? current?.architectures ?? [hostArchitecture()];
  if (input.architectures !== undefined) checkArchitectures(architectures);
  const base = current?.loggingConfig ?? { logFormat: 'Text' as const, logGroup: `/aws/lambda/${functionName}` };
  const loggingConfig: LoggingConfig = { ...base, ...stripUndefined(input.loggingConfig ?? {}) };
  if (loggingConfig.logFormat === 'JSON') {
    loggingConfig.applicationLogLevel ??= 'INFO';
    loggingConfig.systemLogLevel ??= 'INFO';
  } else if (input.loggingConfig?.applicationLogLevel !== undefined || input.loggingConfig?.systemLogLevel !== undefined) {
    throw new FunctionsError('ERR_INVALID_PARAMETER', 'Advanced logging controls (ApplicationLogLevel, SystemLogLevel) are only available with LogFormat JSON.');
  } else {
    // Levels exist only with JSON: a function switched back to Text loses the ones it had.
    delete loggingConfig.applicationLogLevel;
    delete loggingConfig.systemLogLevel;
  }
  const settings: Omit<FunctionSettings, 'layers'> = {
    runtime,
    handler,
    role: input.role ?? current?.role ?? '',
    description: input.description ?? current?.description ?? '',
    timeoutSeconds: input.timeoutSeconds ?? current?.timeoutSeconds ?? 3,
    memorySizeMb: input.memorySizeMb ?? current?.memorySizeMb ?? 128,
    architectures,
    ephemeralStorageMb: input.ephemeralStorageMb ?? current?.ephemeralStorageMb ?? 512,
    tracingMode: input.tracingMode ?? current?.tracingMode ?? 'PassThrough',
    loggingConfig,
    snapStartApplyOn: input.snapStartApplyOn ?? current?.snapStartApplyOn ?? 'None',
  };
  const environment = input.environment ?? current?.environment;
  if (environment !== undefined) settings.environment = environment;
  // An empty TargetArn removes the dead-letter queue, as on AWS; anything else must name a queue or a topic.
  const dlq = input.deadLetterTargetArn ?? current?.deadLetterTargetArn;
  if (input.deadLetterTargetArn && !isDeadLetterTarget(input.deadLetterTargetArn)) {
    throw new FunctionsError('ERR_INVALID_PARAMETER', `The dead-letter target ${input.deadLetterTargetArn} must be the ARN of an Amazon SQS queue or an Amazon SNS topic.`);
  }
  if (dlq) settings.deadLetterTargetArn = dlq;
  const kms = input.kmsKeyArn ?? current?.kmsKeyArn;
  if (kms) settings.kmsKeyArn = kms;
  const vpc = input.vpcConfig ?? current?.vpcConfig;
  if (vpc && (vpc.subnetIds.length > 0 || vpc.securityGroupIds.length > 0)) settings.vpcConfig = vpc;
  return settings;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
