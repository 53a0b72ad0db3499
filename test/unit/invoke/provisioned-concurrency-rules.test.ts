import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Alias } from '../../../src/model/function.js';
import {
  ABOVE_RESERVED,
  ALIAS_ON_PROVISIONED_VERSION,
  allocationStatus,
  belowUnreservedMinimum,
  checkProvisionedPut,
  ProvisionedConcurrencyError,
  UNPUBLISHED,
  VERSION_UNDER_PROVISIONED_ALIAS,
  type ProvisionedPutRequest,
} from '../../../src/invoke/provisioned-concurrency-rules.js';

function alias(name: string, functionVersion: string, weights?: Record<string, number>): Alias {
  return { accountId: '000000000000', functionName: 'fn', name, functionVersion, description: '', revisionId: 'r', ...(weights ? { additionalVersionWeights: weights } : {}) };
}

function put(fields: Partial<ProvisionedPutRequest> = {}): ProvisionedPutRequest {
  return {
    qualifier: '1',
    requested: 5,
    reservedConcurrency: undefined,
    otherConfigs: [],
    aliases: [],
    accountLimit: 1000,
    minUnreserved: 100,
    accountReserved: 0,
    otherUnreservedProvisioned: 0,
    ...fields,
  };
}

function refused(request: ProvisionedPutRequest, code: string, message: string): void {
  assert.throws(
    () => checkProvisionedPut(request),
    (error) => error instanceof ProvisionedConcurrencyError && error.code === code && error.message === message,
  );
}

test('$LATEST, or an alias of it, is refused as unpublished', () => {
  refused(put({ qualifier: '$LATEST' }), 'ERR_PROVISIONED_INVALID', UNPUBLISHED);
  refused(put({ qualifier: 'live', alias: alias('live', '$LATEST') }), 'ERR_PROVISIONED_INVALID', UNPUBLISHED);
  checkProvisionedPut(put({ qualifier: 'live', alias: alias('live', '1') }));
});

test('with reserved concurrency, the function\'s configurations together may not exceed it', () => {
  checkProvisionedPut(put({ reservedConcurrency: 10, requested: 6, otherConfigs: [{ qualifier: '2', requested: 4 }] }));
  refused(put({ reservedConcurrency: 10, requested: 7, otherConfigs: [{ qualifier: '2', requested: 4 }] }), 'ERR_PROVISIONED_INVALID', ABOVE_RESERVED);
  refused(put({ reservedConcurrency: 0, requested: 1 }), 'ERR_PROVISIONED_INVALID', ABOVE_RESERVED);
  // Within a reservation, the unreserved pool is not charged (the reservation already was).
  checkProvisionedPut(put({ reservedConcurrency: 900, requested: 900, accountReserved: 900 }));
});

test('without reserved concurrency, the unreserved pool must keep its minimum', () => {
  // 1000 - 300 reserved - 100 other provisioned - 500 = 100: exactly the minimum is allowed.
  checkProvisionedPut(put({ requested: 500, accountReserved: 300, otherUnreservedProvisioned: 100 }));
  refused(put({ requested: 501, accountReserved: 300, otherUnreservedProvisioned: 100 }), 'ERR_PROVISIONED_INVALID', belowUnreservedMinimum(100));
  assert.equal(
    belowUnreservedMinimum(100),
    "Specified ConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [100].",
  );
});

test('an alias and a version it routes to cannot both hold provisioned concurrency', () => {
  refused(put({ qualifier: 'live', alias: alias('live', '1'), otherConfigs: [{ qualifier: '1', requested: 1 }] }), 'ERR_PROVISIONED_CONFLICT', ALIAS_ON_PROVISIONED_VERSION);
  refused(
    put({ qualifier: 'live', alias: alias('live', '1', { '2': 0.1 }), otherConfigs: [{ qualifier: '2', requested: 1 }] }),
    'ERR_PROVISIONED_CONFLICT',
    ALIAS_ON_PROVISIONED_VERSION,
  );
  refused(
    put({ qualifier: '1', aliases: [alias('live', '1')], otherConfigs: [{ qualifier: 'live', requested: 1 }] }),
    'ERR_PROVISIONED_CONFLICT',
    VERSION_UNDER_PROVISIONED_ALIAS,
  );
  // An alias without a configuration, or a configured alias of another version, is no conflict.
  checkProvisionedPut(put({ qualifier: '1', aliases: [alias('live', '1'), alias('old', '2')], otherConfigs: [{ qualifier: 'old', requested: 1 }] }));
  checkProvisionedPut(put({ qualifier: 'live', alias: alias('live', '1'), otherConfigs: [{ qualifier: '2', requested: 1 }, { qualifier: 'other', requested: 1 }] }));
});

test('status: IN_PROGRESS until every requested environment is up, then READY; FAILED once the others settled', () => {
  assert.deepEqual(allocationStatus({ requested: 3, ready: 0, starting: 3 }), { status: 'IN_PROGRESS', allocated: 0, available: 0 });
  assert.deepEqual(allocationStatus({ requested: 3, ready: 2, starting: 1 }), { status: 'IN_PROGRESS', allocated: 2, available: 2 });
  assert.deepEqual(allocationStatus({ requested: 3, ready: 3, starting: 0 }), { status: 'READY', allocated: 3, available: 3 });
  // While a reduction drains, no more than requested is reported.
  assert.deepEqual(allocationStatus({ requested: 2, ready: 3, starting: 0 }), { status: 'READY', allocated: 2, available: 2 });
  // One start failed while another is still under way: the counts are not final yet.
  assert.deepEqual(allocationStatus({ requested: 3, ready: 1, starting: 1, failure: 'x' }), { status: 'IN_PROGRESS', allocated: 1, available: 1 });
  assert.deepEqual(allocationStatus({ requested: 3, ready: 2, starting: 0, failure: 'x' }), { status: 'FAILED', allocated: 2, available: 2 });
});
