/** Domain → AWS wire shapes. The only place PascalCase response members are built. */
import type { Partition } from '../../model/arn.js';
import { formatFunctionArn, formatRuntimeVersionArn, formatLayerArn, formatLayerVersionArn } from '../../model/arn.js';
import type { Alias, FunctionVersion, LayerVersion } from '../../model/function.js';

/** Lambda's `Timestamp` strings: `2019-08-14T22:26:11.234+0000`. */
export function toLambdaTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '+0000');
}

export function toCodeSha256(hex: string): string {
  return Buffer.from(hex, 'hex').toString('base64');
}

export interface ConfigurationOptions {
  /** The ARN to answer with (qualified when the caller asked with a qualifier). */
  functionArn: string;
  /** ListFunctions / ListVersionsByFunction omit the state members and RuntimeVersionConfig. */
  forList?: boolean;
}

export function toFunctionConfiguration(v: FunctionVersion, p: Partition, options: ConfigurationOptions): Record<string, unknown> {
  const s = v.settings;
  const out: Record<string, unknown> = {
    FunctionName: v.functionName,
    FunctionArn: options.functionArn,
    Runtime: s.runtime,
    Role: s.role,
    Handler: s.handler,
    CodeSize: v.code.sizeBytes,
    Description: s.description,
    Timeout: s.timeoutSeconds,
    MemorySize: s.memorySizeMb,
    LastModified: toLambdaTimestamp(v.lastModifiedMs),
    CodeSha256: toCodeSha256(v.code.sha256Hex),
    Version: v.version,
  };
  if (s.vpcConfig) {
    out.VpcConfig = {
      SubnetIds: s.vpcConfig.subnetIds,
      SecurityGroupIds: s.vpcConfig.securityGroupIds,
      VpcId: '',
      Ipv6AllowedForDualStack: s.vpcConfig.ipv6AllowedForDualStack,
    };
  }
  if (s.deadLetterTargetArn) out.DeadLetterConfig = { TargetArn: s.deadLetterTargetArn };
  if (s.environment !== undefined) out.Environment = { Variables: s.environment };
  if (s.kmsKeyArn) out.KMSKeyArn = s.kmsKeyArn;
  out.TracingConfig = { Mode: s.tracingMode };
  out.RevisionId = v.revisionId;
  if (s.layers.length > 0) out.Layers = s.layers.map((l) => ({ Arn: l.arn, CodeSize: l.codeSizeBytes }));
  if (!options.forList) {
    out.State = v.state;
    if (v.stateReason !== undefined) out.StateReason = v.stateReason;
    if (v.stateReasonCode !== undefined) out.StateReasonCode = v.stateReasonCode;
    if (v.lastUpdateStatus !== undefined) out.LastUpdateStatus = v.lastUpdateStatus;
    if (v.lastUpdateStatusReason !== undefined) out.LastUpdateStatusReason = v.lastUpdateStatusReason;
    if (v.lastUpdateStatusReasonCode !== undefined) out.LastUpdateStatusReasonCode = v.lastUpdateStatusReasonCode;
  }
  out.PackageType = 'Zip';
  out.Architectures = s.architectures;
  out.EphemeralStorage = { Size: s.ephemeralStorageMb };
  out.SnapStart = { ApplyOn: s.snapStartApplyOn, OptimizationStatus: 'Off' };
  if (!options.forList) out.RuntimeVersionConfig = { RuntimeVersionArn: formatRuntimeVersionArn(p.region, s.runtime) };
  const logging: Record<string, unknown> = { LogFormat: s.loggingConfig.logFormat };
  if (s.loggingConfig.applicationLogLevel !== undefined) logging.ApplicationLogLevel = s.loggingConfig.applicationLogLevel;
  if (s.loggingConfig.systemLogLevel !== undefined) logging.SystemLogLevel = s.loggingConfig.systemLogLevel;
  logging.LogGroup = s.loggingConfig.logGroup;
  out.LoggingConfig = logging;
  return out;
}

export function toAliasConfiguration(a: Alias, p: Partition): Record<string, unknown> {
  const out: Record<string, unknown> = {
    AliasArn: formatFunctionArn(p, a.functionName, a.name),
    Name: a.name,
    FunctionVersion: a.functionVersion,
    Description: a.description,
  };
  if (a.additionalVersionWeights) out.RoutingConfig = { AdditionalVersionWeights: a.additionalVersionWeights };
  out.RevisionId = a.revisionId;
  return out;
}

export function toLayerVersionsListItem(l: LayerVersion, p: Partition): Record<string, unknown> {
  const out: Record<string, unknown> = {
    LayerVersionArn: formatLayerVersionArn(p, l.layerName, l.version),
    Version: l.version,
    Description: l.description,
    CreatedDate: toLambdaTimestamp(l.createdMs),
    CompatibleRuntimes: l.compatibleRuntimes,
  };
  if (l.licenseInfo !== undefined) out.LicenseInfo = l.licenseInfo;
  out.CompatibleArchitectures = l.compatibleArchitectures;
  return out;
}

export function toLayerVersion(l: LayerVersion, p: Partition, location: string): Record<string, unknown> {
  const out: Record<string, unknown> = {
    Content: { Location: location, CodeSha256: toCodeSha256(l.code.sha256Hex), CodeSize: l.code.sizeBytes },
    LayerArn: formatLayerArn(p, l.layerName),
    LayerVersionArn: formatLayerVersionArn(p, l.layerName, l.version),
    Description: l.description,
    CreatedDate: toLambdaTimestamp(l.createdMs),
    Version: l.version,
    CompatibleRuntimes: l.compatibleRuntimes,
  };
  if (l.licenseInfo !== undefined) out.LicenseInfo = l.licenseInfo;
  out.CompatibleArchitectures = l.compatibleArchitectures;
  return out;
}

export function toLayersListItem(l: LayerVersion, p: Partition): Record<string, unknown> {
  return { LayerName: l.layerName, LayerArn: formatLayerArn(p, l.layerName), LatestMatchingVersion: toLayerVersionsListItem(l, p) };
}

/** Adds NextMarker only when there is a next page (SDK paginators stop when it is absent). */
export function withMarker(body: Record<string, unknown>, nextMarker: string | undefined): Record<string, unknown> {
  return nextMarker === undefined ? body : { ...body, NextMarker: nextMarker };
}
