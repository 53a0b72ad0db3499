/** Put/Get/DeleteFunctionConcurrency (reserved concurrency; at least 100 stays unreserved). */
import type { FastifyInstance } from 'fastify';
import { MIN_UNRESERVED_CONCURRENCY } from '../../model/limits.js';
import type { ApiDeps, RouteConfig } from '../server.js';
import { PutFunctionConcurrencyBody } from '../wire/requests.js';
import { functionTarget } from './targets.js';

const cfg = (operation: string, body: RouteConfig['body'] = 'json'): { config: RouteConfig } => ({ config: { operation, body } });

export function registerConcurrencyRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const { functions, partition } = deps;

  app.put('/2017-10-31/functions/:FunctionName/concurrency', { ...cfg('PutFunctionConcurrency'), schema: { body: PutFunctionConcurrencyBody } }, async (request) => {
    const target = functionTarget(request, partition, 'forbidden');
    const value = (request.body as PutFunctionConcurrencyBody).ReservedConcurrentExecutions;
    await functions.setReservedConcurrency(request.accountId, target.functionName, value, deps.concurrencyLimit, MIN_UNRESERVED_CONCURRENCY);
    return { ReservedConcurrentExecutions: value };
  });

  app.get('/2019-09-30/functions/:FunctionName/concurrency', cfg('GetFunctionConcurrency', 'none'), async (request) => {
    const target = functionTarget(request, partition, 'forbidden');
    const record = await functions.findRecord(request.accountId, target.functionName);
    return record.reservedConcurrency === undefined ? {} : { ReservedConcurrentExecutions: record.reservedConcurrency };
  });

  app.delete('/2017-10-31/functions/:FunctionName/concurrency', cfg('DeleteFunctionConcurrency', 'none'), async (request, reply) => {
    const target = functionTarget(request, partition, 'forbidden');
    await functions.setReservedConcurrency(request.accountId, target.functionName, undefined, deps.concurrencyLimit, MIN_UNRESERVED_CONCURRENCY);
    void reply.status(204);
    return null;
  });
}
