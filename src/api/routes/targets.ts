/** Path and query parsing shared by the routes: function names in every accepted form, qualifiers, pages. */
import type { FastifyRequest } from 'fastify';
import { parseFunctionReference, type Partition } from '../../model/arn.js';
import type { PageRequest } from '../../store/store.js';
import { ApiError } from '../wire/errors.js';

export interface FunctionTarget {
  functionName: string;
  qualifier?: string;
}

type Params = { FunctionName?: string };
type Query = { Qualifier?: string };

/**
 * Resolves `{FunctionName}` (+ `?Qualifier=`). `qualifier: 'forbidden'` is for operations on the unqualified
 * function only (AWS: 140-character ARN forms without a qualifier).
 */
export function functionTarget(request: FastifyRequest, partition: Partition, qualifier: 'allowed' | 'forbidden' = 'allowed'): FunctionTarget {
  const raw = (request.params as Params).FunctionName ?? '';
  const ref = parseFunctionReference(raw);
  if (!ref) {
    throw new ApiError(
      'ValidationException',
      `1 validation error detected: Value '${raw}' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?`,
    );
  }
  if (ref.region !== undefined && ref.region !== partition.region) {
    throw new ApiError('ResourceNotFoundException', `Functions from '${ref.region}' are not reachable in this region ('${partition.region}')`);
  }
  if (ref.accountId !== undefined && ref.accountId !== partition.accountId) {
    throw new ApiError('AccessDeniedException', `The account ${ref.accountId} in the function ARN is not the account of these credentials (${partition.accountId}).`);
  }
  const fromQuery = (request.query as Query).Qualifier;
  if (fromQuery !== undefined && ref.qualifier !== undefined && fromQuery !== ref.qualifier) {
    throw new ApiError('InvalidParameterValueException', 'The derived qualifier from the function name does not match the specified qualifier.');
  }
  const q = ref.qualifier ?? fromQuery;
  if (q !== undefined && !/^(\$LATEST|[a-zA-Z0-9-_]{1,128})$/.test(q)) {
    throw new ApiError('ValidationException', `1 validation error detected: Value '${q}' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: (|[a-zA-Z0-9$_-]+)`);
  }
  if (qualifier === 'forbidden' && q !== undefined) {
    throw new ApiError('InvalidParameterValueException', `This operation takes an unqualified function name; remove the qualifier ${q}.`);
  }
  return q === undefined ? { functionName: ref.functionName } : { functionName: ref.functionName, qualifier: q };
}

/** Marker/MaxItems with the operation's bounds (1–max, default as AWS pages). */
export function pageRequest(request: FastifyRequest, max: number, fallback = 50): PageRequest {
  const query = request.query as { Marker?: string; MaxItems?: string };
  let limit = fallback;
  if (query.MaxItems !== undefined) {
    const n = Number(query.MaxItems);
    if (!/^\d+$/.test(query.MaxItems) || n < 1 || n > max) {
      throw new ApiError(
        'ValidationException',
        `1 validation error detected: Value '${query.MaxItems}' at 'maxItems' failed to satisfy constraint: Member must have value ${n < 1 ? 'greater than or equal to 1' : `less than or equal to ${max}`}`,
      );
    }
    limit = Math.min(n, fallback);
  }
  return query.Marker === undefined ? { limit } : { limit, marker: query.Marker };
}

/** The origin the client used (for links back to us). */
export function originOf(request: FastifyRequest): string {
  return `${request.protocol}://${request.headers.host ?? 'localhost'}`;
}

export function decodeZip(base64: string | undefined, field: string): Buffer {
  if (base64 === undefined) {
    throw new ApiError('InvalidParameterValueException', `Kindling accepts code as ${field}.ZipFile only: S3Bucket/S3Key and ImageUri are not supported.`);
  }
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(base64)) {
    throw new ApiError('InvalidParameterValueException', 'Could not unzip uploaded file. Please check your file, then try to upload again.');
  }
  return Buffer.from(base64, 'base64');
}
