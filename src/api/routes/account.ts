/** GetAccountSettings: limits from configuration, usage from the store. */
import type { FastifyInstance } from 'fastify';
import { MAX_UNZIPPED_CODE_BYTES, MAX_ZIPPED_CODE_BYTES, TOTAL_CODE_SIZE_BYTES } from '../../model/limits.js';
import type { ApiDeps } from '../server.js';

export function registerAccountRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.get('/2016-08-19/account-settings', { config: { operation: 'GetAccountSettings', body: 'none' } }, async (request) => {
    const { functions } = deps.store;
    const reserved = await functions.sumReservedConcurrency(request.accountId);
    return {
      AccountLimit: {
        TotalCodeSize: TOTAL_CODE_SIZE_BYTES,
        CodeSizeUnzipped: MAX_UNZIPPED_CODE_BYTES,
        CodeSizeZipped: MAX_ZIPPED_CODE_BYTES,
        ConcurrentExecutions: deps.concurrencyLimit,
        UnreservedConcurrentExecutions: deps.concurrencyLimit - reserved,
      },
      AccountUsage: {
        TotalCodeSize: await functions.totalCodeSize(request.accountId),
        FunctionCount: await functions.countFunctions(request.accountId),
      },
    };
  });
}
