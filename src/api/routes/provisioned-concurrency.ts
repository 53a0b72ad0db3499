/** Put/Get/Delete/ListProvisionedConcurrencyConfig(s): thin over ProvisionedConcurrency (src/invoke). */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ProvisionedConcurrencyView } from '../../invoke/provisioned-concurrency.js';
import type { ApiDeps, RouteConfig } from '../server.js';
import { ApiError } from '../wire/errors.js';
import { PutProvisionedConcurrencyConfigBody } from '../wire/requests.js';
import { toLambdaTimestamp } from '../wire/responses.js';
import { functionTarget, pageRequest } from './targets.js';

const PATH = '/2019-09-30/functions/:FunctionName/provisioned-concurrency';
const cfg = (operation: string, body: RouteConfig['body'] = 'json'): { config: RouteConfig } => ({ config: { operation, body } });

/** Get, Put and Delete name a version or alias; the model requires the qualifier (in the query or the name). */
function qualifiedTarget(request: FastifyRequest, deps: ApiDeps): { functionName: string; qualifier: string } {
  const target = functionTarget(request, deps.partition);
  if (target.qualifier === undefined) {
    throw new ApiError('ValidationException', "1 validation error detected: Value null at 'qualifier' failed to satisfy constraint: Member must not be null");
  }
  return { functionName: target.functionName, qualifier: target.qualifier };
}

function toWire(view: ProvisionedConcurrencyView): Record<string, unknown> {
  return {
    RequestedProvisionedConcurrentExecutions: view.config.requested,
    AvailableProvisionedConcurrentExecutions: view.available,
    AllocatedProvisionedConcurrentExecutions: view.allocated,
    Status: view.status,
    ...(view.statusReason === undefined ? {} : { StatusReason: view.statusReason }),
    LastModified: toLambdaTimestamp(view.config.lastModifiedMs),
  };
}

export function registerProvisionedConcurrencyRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const { provisioned, functions } = deps;

  app.put(PATH, { ...cfg('PutProvisionedConcurrencyConfig'), schema: { body: PutProvisionedConcurrencyConfigBody } }, async (request, reply) => {
    const { functionName, qualifier } = qualifiedTarget(request, deps);
    const requested = (request.body as PutProvisionedConcurrencyConfigBody).ProvisionedConcurrentExecutions;
    const view = await provisioned.put(request.accountId, functionName, qualifier, requested);
    void reply.status(202);
    return toWire(view);
  });

  // One path for Get and List: the SDK sends ?List=ALL (a constant of the model) for List.
  app.get(PATH, cfg('GetProvisionedConcurrencyConfig', 'none'), async (request) => {
    if ((request.query as { List?: string }).List === 'ALL') {
      const target = functionTarget(request, deps.partition, 'forbidden');
      const page = await provisioned.list(request.accountId, target.functionName, pageRequest(request, 50));
      return {
        ProvisionedConcurrencyConfigs: page.items.map((view) => ({
          FunctionArn: functions.arn(view.config.functionName, view.config.qualifier),
          ...toWire(view),
        })),
        ...(page.nextMarker === undefined ? {} : { NextMarker: page.nextMarker }),
      };
    }
    const { functionName, qualifier } = qualifiedTarget(request, deps);
    return toWire(await provisioned.get(request.accountId, functionName, qualifier));
  });

  app.delete(PATH, cfg('DeleteProvisionedConcurrencyConfig', 'none'), async (request, reply) => {
    const { functionName, qualifier } = qualifiedTarget(request, deps);
    await provisioned.delete(request.accountId, functionName, qualifier);
    void reply.status(204);
    return null;
  });
}
