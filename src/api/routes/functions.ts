/** CreateFunction, GetFunction, GetFunctionConfiguration, ListFunctions, UpdateFunctionCode/Configuration, DeleteFunction. */
import type { FastifyInstance } from 'fastify';
import { parseFunctionReference } from '../../model/arn.js';
import type { SettingsInput } from '../../functions/function-settings.js';
import type { ResolvedVersion } from '../../functions/function-service.js';
import type { ApiDeps, RouteConfig } from '../server.js';
import { ApiError } from '../wire/errors.js';
import {
  CreateFunctionBody,
  UpdateFunctionCodeBody,
  UpdateFunctionConfigurationBody,
} from '../wire/requests.js';
import { toFunctionConfiguration, withMarker } from '../wire/responses.js';
import { decodeZip, functionTarget, originOf, pageRequest } from './targets.js';

const FN = '/2015-03-31/functions/:FunctionName';
const cfg = (operation: string, body: RouteConfig['body'] = 'json'): { config: RouteConfig } => ({ config: { operation, body } });

export function registerFunctionRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const { functions, partition } = deps;

  /** The configuration as the caller addressed it: qualified ARN when a qualifier was given. */
  const configurationOf = (resolved: ResolvedVersion) =>
    toFunctionConfiguration(resolved.version, partition, {
      functionArn: functions.arn(resolved.version.functionName, resolved.qualifier),
    });

  app.post('/2015-03-31/functions', { ...cfg('CreateFunction'), schema: { body: CreateFunctionBody } }, async (request, reply) => {
    const body = request.body as CreateFunctionBody;
    const ref = parseFunctionReference(body.FunctionName);
    if (!ref || ref.qualifier !== undefined) {
      throw new ApiError(
        'ValidationException',
        `1 validation error detected: Value '${body.FunctionName}' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)`,
      );
    }
    if (body.PackageType === 'Image' || body.Code.ImageUri !== undefined) {
      throw new ApiError('InvalidParameterValueException', 'PackageType Image is not supported by Kindling: deploy a .zip file archive.');
    }
    if (body.Role === undefined) {
      throw new ApiError('ValidationException', "1 validation error detected: Value null at 'role' failed to satisfy constraint: Member must not be null");
    }
    const created = await functions.create(request.accountId, {
      functionName: ref.functionName,
      settings: toSettingsInput(body),
      zipFile: decodeZip(body.Code.ZipFile, 'Code'),
      publish: body.Publish === true,
      tags: body.Tags ?? {},
    });
    // Create answers with the unqualified ARN even when it published version 1 (as AWS does).
    void reply.status(201);
    return toFunctionConfiguration(created, partition, { functionArn: functions.arn(created.functionName) });
  });

  app.get('/2015-03-31/functions', cfg('ListFunctions', 'none'), async (request) => {
    const query = request.query as { FunctionVersion?: string };
    if (query.FunctionVersion !== undefined && query.FunctionVersion !== 'ALL') {
      throw new ApiError(
        'ValidationException',
        `1 validation error detected: Value '${query.FunctionVersion}' at 'functionVersion' failed to satisfy constraint: Member must satisfy enum value set: [ALL]`,
      );
    }
    const all = query.FunctionVersion === 'ALL';
    const page = await functions.listFunctions(request.accountId, all, pageRequest(request, 10000));
    const items = page.items.map((v) =>
      toFunctionConfiguration(v, partition, { functionArn: functions.arn(v.functionName, all ? v.version : undefined), forList: true }),
    );
    return withMarker({ Functions: items }, page.nextMarker);
  });

  app.get(FN, cfg('GetFunction', 'none'), async (request) => {
    const target = functionTarget(request, partition);
    const resolved = await functions.resolve(request.accountId, target.functionName, target.qualifier);
    const record = await functions.findRecord(request.accountId, target.functionName);
    const out: Record<string, unknown> = {
      Configuration: configurationOf(resolved),
      Code: {
        RepositoryType: 'S3',
        Location: deps.codeLocations.urlFor({ accountId: request.accountId, sha256Hex: resolved.version.code.sha256Hex }, originOf(request)),
      },
    };
    if (Object.keys(record.tags).length > 0) out.Tags = record.tags;
    if (record.reservedConcurrency !== undefined) out.Concurrency = { ReservedConcurrentExecutions: record.reservedConcurrency };
    return out;
  });

  app.get(`${FN}/configuration`, cfg('GetFunctionConfiguration', 'none'), async (request) => {
    const target = functionTarget(request, partition);
    return configurationOf(await functions.resolve(request.accountId, target.functionName, target.qualifier));
  });

  app.put(`${FN}/code`, { ...cfg('UpdateFunctionCode'), schema: { body: UpdateFunctionCodeBody } }, async (request) => {
    const target = functionTarget(request, partition, 'forbidden');
    const body = request.body as UpdateFunctionCodeBody;
    if (body.ImageUri !== undefined) {
      throw new ApiError('InvalidParameterValueException', 'PackageType Image is not supported by Kindling: deploy a .zip file archive.');
    }
    const updated = await functions.updateCode(request.accountId, target.functionName, {
      zipFile: decodeZip(body.ZipFile, 'UpdateFunctionCode'),
      publish: body.Publish === true,
      dryRun: body.DryRun === true,
      ...(body.RevisionId === undefined ? {} : { revisionId: body.RevisionId }),
    });
    const qualifier = updated.version === '$LATEST' ? undefined : updated.version;
    return toFunctionConfiguration(updated, partition, { functionArn: functions.arn(updated.functionName, qualifier) });
  });

  app.put(`${FN}/configuration`, { ...cfg('UpdateFunctionConfiguration'), schema: { body: UpdateFunctionConfigurationBody } }, async (request) => {
    const target = functionTarget(request, partition, 'forbidden');
    const body = request.body as UpdateFunctionConfigurationBody;
    const input = { ...toSettingsInput(body), ...(body.RevisionId === undefined ? {} : { revisionId: body.RevisionId }) };
    const updated = await functions.updateConfiguration(request.accountId, target.functionName, input);
    return toFunctionConfiguration(updated, partition, { functionArn: functions.arn(updated.functionName) });
  });

  app.delete(FN, cfg('DeleteFunction', 'none'), async (request, reply) => {
    const target = functionTarget(request, partition);
    await functions.deleteFunction(request.accountId, target.functionName, target.qualifier);
    void reply.status(204);
    return null;
  });
}

/** Wire → domain for the settings members CreateFunction and UpdateFunctionConfiguration share. */
export function toSettingsInput(body: UpdateFunctionConfigurationBody & { Architectures?: ('x86_64' | 'arm64')[]; PackageType?: string }): SettingsInput {
  const input: SettingsInput = {};
  if (body.Runtime !== undefined) input.runtime = body.Runtime;
  if (body.Handler !== undefined) input.handler = body.Handler;
  if (body.Role !== undefined) input.role = body.Role;
  if (body.Description !== undefined) input.description = body.Description;
  if (body.Timeout !== undefined) input.timeoutSeconds = body.Timeout;
  if (body.MemorySize !== undefined) input.memorySizeMb = body.MemorySize;
  if (body.Environment !== undefined) input.environment = body.Environment.Variables ?? {};
  if (body.Layers !== undefined) input.layerArns = body.Layers;
  if (body.Architectures !== undefined) input.architectures = body.Architectures;
  if (body.EphemeralStorage !== undefined) input.ephemeralStorageMb = body.EphemeralStorage.Size;
  if (body.TracingConfig?.Mode !== undefined) input.tracingMode = body.TracingConfig.Mode;
  if (body.DeadLetterConfig !== undefined) input.deadLetterTargetArn = body.DeadLetterConfig.TargetArn ?? '';
  if (body.KMSKeyArn !== undefined) input.kmsKeyArn = body.KMSKeyArn;
  if (body.LoggingConfig !== undefined) {
    const l = body.LoggingConfig;
    input.loggingConfig = {};
    if (l.LogFormat !== undefined) input.loggingConfig.logFormat = l.LogFormat;
    if (l.ApplicationLogLevel !== undefined) input.loggingConfig.applicationLogLevel = l.ApplicationLogLevel;
    if (l.SystemLogLevel !== undefined) input.loggingConfig.systemLogLevel = l.SystemLogLevel;
    if (l.LogGroup !== undefined) input.loggingConfig.logGroup = l.LogGroup;
  }
  if (body.VpcConfig !== undefined) {
    input.vpcConfig = {
      subnetIds: body.VpcConfig.SubnetIds ?? [],
      securityGroupIds: body.VpcConfig.SecurityGroupIds ?? [],
      ipv6AllowedForDualStack: body.VpcConfig.Ipv6AllowedForDualStack ?? false,
    };
  }
  if (body.SnapStart?.ApplyOn !== undefined) input.snapStartApplyOn = body.SnapStart.ApplyOn;
  if (body.PackageType !== undefined) input.packageType = body.PackageType;
  return input;
}

