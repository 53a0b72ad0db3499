/**
 * Function and layer ARNs, and the forms AWS accepts wherever a FunctionName appears:
 * `name`, `name:qualifier`, `account:function:name[:qualifier]`, and the full ARN
 * (LAMBDA_REFERENCE §1.1). Pure: parse errors are returned, the API layer words them.
 */
import { createHash } from 'node:crypto';

export interface Partition {
  region: string;
  accountId: string;
}

export interface FunctionReference {
  functionName: string;
  qualifier?: string;
  /** Present when the caller gave an ARN naming a region. */
  region?: string;
  /** Present when the caller gave a full or partial ARN. */
  accountId?: string;
}

const FUNCTION_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
const QUALIFIER = /^(\$LATEST|[a-zA-Z0-9_-]{1,128})$/;
const FULL_ARN = /^arn:aws[a-zA-Z-]*:lambda:([a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d):(\d{12}):function:([^:]+)(?::([^:]+))?$/;
const PARTIAL_ARN = /^(\d{12}):function:([^:]+)(?::([^:]+))?$/;

export function isValidFunctionName(name: string): boolean {
  return FUNCTION_NAME.test(name);
}

export function isValidQualifier(qualifier: string): boolean {
  return QUALIFIER.test(qualifier);
}

/** Parses any accepted FunctionName form; undefined when it matches none. */
export function parseFunctionReference(input: string): FunctionReference | undefined {
  let ref: FunctionReference;
  const full = FULL_ARN.exec(input);
  const partial = full ? null : PARTIAL_ARN.exec(input);
  if (full) {
    ref = { region: full[1], accountId: full[2], functionName: full[3]!, qualifier: full[4] };
  } else if (partial) {
    ref = { accountId: partial[1], functionName: partial[2]!, qualifier: partial[3] };
  } else if (input.startsWith('arn:')) {
    return undefined;
  } else {
    const parts = input.split(':');
    if (parts.length > 2) return undefined;
    ref = { functionName: parts[0]!, qualifier: parts[1] };
  }
  if (!isValidFunctionName(ref.functionName)) return undefined;
  if (ref.qualifier !== undefined && !isValidQualifier(ref.qualifier)) return undefined;
  if (ref.qualifier === undefined) delete ref.qualifier;
  return ref;
}

/**
 * The ARN partition a region lives in: AWS spells China and GovCloud ARNs `arn:aws-cn:` and `arn:aws-us-gov:`,
 * so a server configured for such a region must not answer with `arn:aws:`.
 */
export function arnPartition(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  const iso = /^[a-z]{2}-iso([a-z]?)-/.exec(region);
  if (iso) return iso[1] ? `aws-iso-${iso[1]}` : 'aws-iso';
  return 'aws';
}

export function formatFunctionArn(p: Partition, functionName: string, qualifier?: string): string {
  const base = `arn:${arnPartition(p.region)}:lambda:${p.region}:${p.accountId}:function:${functionName}`;
  return qualifier === undefined ? base : `${base}:${qualifier}`;
}

export function formatLayerArn(p: Partition, layerName: string): string {
  return `arn:${arnPartition(p.region)}:lambda:${p.region}:${p.accountId}:layer:${layerName}`;
}

export function formatLayerVersionArn(p: Partition, layerName: string, version: number): string {
  return `${formatLayerArn(p, layerName)}:${version}`;
}

export interface LayerVersionReference {
  region: string;
  accountId: string;
  layerName: string;
  version: number;
}

const LAYER_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
const LAYER_VERSION_ARN = /^arn:aws[a-zA-Z-]*:lambda:([a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d):(\d{12}):layer:([a-zA-Z0-9_-]{1,64}):([0-9]{1,15})$/;
const LAYER_ARN = /^arn:aws[a-zA-Z-]*:lambda:([a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d):(\d{12}):layer:([a-zA-Z0-9_-]{1,64})$/;

export function parseLayerVersionArn(input: string): LayerVersionReference | undefined {
  const m = LAYER_VERSION_ARN.exec(input);
  if (!m) return undefined;
  return { region: m[1]!, accountId: m[2]!, layerName: m[3]!, version: Number(m[4]) };
}

/** A LayerName path parameter may be a name or a layer ARN. */
export function parseLayerName(input: string): { layerName: string; region?: string; accountId?: string } | undefined {
  const m = LAYER_ARN.exec(input);
  if (m) return { region: m[1], accountId: m[2], layerName: m[3]! };
  return LAYER_NAME.test(input) ? { layerName: input } : undefined;
}

/** A stable runtime-version ARN per runtime id, shaped as AWS's (`arn:aws:lambda:<region>::runtime:<64 hex>`). */
export function formatRuntimeVersionArn(region: string, runtime: string): string {
  return `arn:${arnPartition(region)}:lambda:${region}::runtime:${createHash('sha256').update(`kindling:${runtime}`).digest('hex')}`;
}
