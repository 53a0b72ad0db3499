/** Provisioned concurrency as configured (what is stored); what is running is the manager's (src/invoke). */

/** Lambda's allocation states (ProvisionedConcurrencyStatusEnum). */
export type ProvisionedConcurrencyStatus = 'IN_PROGRESS' | 'READY' | 'FAILED';

/** One PutProvisionedConcurrencyConfig: that many environments for a published version or an alias. */
export interface ProvisionedConcurrencyConfig {
  accountId: string;
  functionName: string;
  /** A version number or an alias name (never $LATEST). */
  qualifier: string;
  requested: number;
  lastModifiedMs: number;
}
