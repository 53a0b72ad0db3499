/**
 * The decisions of PutProvisionedConcurrencyConfig, pure over a snapshot of the function and the account (the
 * manager reads it from the store), and the status of an allocation. Messages are AWS's (they reach clients as is).
 */
import { LATEST, type Alias } from '../model/function.js';
import type { ProvisionedConcurrencyStatus } from '../model/provisioned-concurrency.js';
import { PlatformError } from '../shared/errors.js';

export type ProvisionedConcurrencyErrorCode =
  | 'ERR_PROVISIONED_NOT_FOUND' // → ResourceNotFoundException (function, version or alias)
  | 'ERR_PROVISIONED_CONFIG_NOT_FOUND' // → ProvisionedConcurrencyConfigNotFoundException
  | 'ERR_PROVISIONED_CONFLICT' // → ResourceConflictException (an alias and its version both provisioned)
  | 'ERR_PROVISIONED_INVALID'; // → InvalidParameterValueException
export class ProvisionedConcurrencyError extends PlatformError<ProvisionedConcurrencyErrorCode> {}

export const UNPUBLISHED = 'Provisioned Concurrency Configs cannot be applied to unpublished function versions.';
/** Get and Delete on $LATEST. */
export const NOT_ALIAS_OR_VERSION = 'The function resource provided must be an alias or a published version.';
export const ABOVE_RESERVED = 'Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution for function';
export const ALIAS_ON_PROVISIONED_VERSION = "Alias can't be used for Provisioned Concurrency configuration on an already Provisioned version";
export const VERSION_UNDER_PROVISIONED_ALIAS = 'Version is pointed by a Provisioned Concurrency alias';
/** StatusReason when an environment's init failed (AWS's value). */
export const INIT_FAILURE_REASON = 'FUNCTION_ERROR_INIT_FAILURE';

export function belowUnreservedMinimum(minUnreserved: number): string {
  return `Specified ConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [${minUnreserved}].`;
}

/** Everything a Put is judged on. */
export interface ProvisionedPutRequest {
  qualifier: string;
  requested: number;
  /** The alias named by the qualifier, when it names one (a version number otherwise). */
  alias?: Alias;
  /** The function's reserved concurrency (undefined: none). */
  reservedConcurrency: number | undefined;
  /** The function's other configurations (not the one being put). */
  otherConfigs: readonly { qualifier: string; requested: number }[];
  /** The function's aliases (to find those that point at a version). */
  aliases: readonly Alias[];
  accountLimit: number;
  minUnreserved: number;
  /** Σ reserved concurrency over the account's functions (this one included). */
  accountReserved: number;
  /** Σ requested over provisioned configurations of functions without reserved concurrency, this config excluded. */
  otherUnreservedProvisioned: number;
}

/** The versions an alias routes to: its primary version and any weighted one. */
function versionsOf(alias: Alias): string[] {
  return [alias.functionVersion, ...Object.keys(alias.additionalVersionWeights ?? {})];
}

/** Throws the error AWS answers for a Put that cannot be accepted; returns when it can. */
export function checkProvisionedPut(r: ProvisionedPutRequest): void {
  const invalid = (message: string) => new ProvisionedConcurrencyError('ERR_PROVISIONED_INVALID', message);
  if (r.qualifier === LATEST || r.alias?.functionVersion === LATEST) throw invalid(UNPUBLISHED);
  if (r.reservedConcurrency !== undefined) {
    // Provisioned environments of a function with reserved concurrency come out of its reservation.
    const provisioned = r.otherConfigs.reduce((sum, c) => sum + c.requested, 0) + r.requested;
    if (provisioned > r.reservedConcurrency) throw invalid(ABOVE_RESERVED);
  } else if (r.accountLimit - r.accountReserved - r.otherUnreservedProvisioned - r.requested < r.minUnreserved) {
    // Otherwise they come out of the unreserved pool, which must keep its minimum.
    throw invalid(belowUnreservedMinimum(r.minUnreserved));
  }
  const configured = new Set(r.otherConfigs.map((c) => c.qualifier));
  if (r.alias) {
    if (versionsOf(r.alias).some((v) => configured.has(v))) {
      throw new ProvisionedConcurrencyError('ERR_PROVISIONED_CONFLICT', ALIAS_ON_PROVISIONED_VERSION);
    }
  } else if (r.aliases.some((a) => configured.has(a.name) && versionsOf(a).includes(r.qualifier))) {
    throw new ProvisionedConcurrencyError('ERR_PROVISIONED_CONFLICT', VERSION_UNDER_PROVISIONED_ALIAS);
  }
}

/**
 * What Get/List report for an allocation: READY once every requested environment is up; FAILED once one could not be
 * and the others have settled (so the counts a client reads with FAILED are final); IN_PROGRESS before.
 */
export function allocationStatus(a: { requested: number; ready: number; starting: number; failure?: string }): {
  status: ProvisionedConcurrencyStatus;
  allocated: number;
  available: number;
} {
  const allocated = Math.min(a.ready, a.requested);
  const failed = a.failure !== undefined && a.starting === 0;
  const status = failed ? 'FAILED' : allocated >= a.requested ? 'READY' : 'IN_PROGRESS';
  return { status, allocated, available: allocated };
}
