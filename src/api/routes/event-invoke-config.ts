/** Put/Update/Get/Delete/ListFunctionEventInvokeConfig(s) on a function, version or alias (LAMBDA_REFERENCE rows 94–98). */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiDeps, RouteConfig } from '../server.js';
import { EventInvokeConfigBody, fromEventInvokeConfigBody, toFunctionEventInvokeConfig } from '../wire/event-invoke-config.js';
import { functionTarget, pageRequest, type FunctionTarget } from './targets.js';

const PATH = '/2019-09-25/functions/:FunctionName/event-invoke-config';
const cfg = (operation: string, body: RouteConfig['body'] = 'json'): { config: RouteConfig } => ({ config: { operation, body } });

export function registerEventInvokeConfigRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const { functions, eventInvokeConfigs: configs, partition } = deps;
  /** The function and qualifier must exist: 404 as for any function operation. */
  const existing = async (request: FastifyRequest): Promise<FunctionTarget> => {
    const target = functionTarget(request, partition);
    await functions.resolve(request.accountId, target.functionName, target.qualifier);
    return target;
  };
  const shape = (config: Parameters<typeof toFunctionEventInvokeConfig>[0]) =>
    toFunctionEventInvokeConfig(config, functions.arn(config.functionName, config.qualifier));

  app.put(PATH, { ...cfg('PutFunctionEventInvokeConfig'), schema: { body: EventInvokeConfigBody } }, async (request) => {
    const { functionName, qualifier } = await existing(request);
    const input = fromEventInvokeConfigBody(request.body as EventInvokeConfigBody);
    return shape(await configs.put(request.accountId, functionName, qualifier, input));
  });

  app.post(PATH, { ...cfg('UpdateFunctionEventInvokeConfig'), schema: { body: EventInvokeConfigBody } }, async (request) => {
    const { functionName, qualifier } = await existing(request);
    const input = fromEventInvokeConfigBody(request.body as EventInvokeConfigBody);
    return shape(await configs.update(request.accountId, functionName, qualifier, input));
  });

  app.get(PATH, cfg('GetFunctionEventInvokeConfig', 'none'), async (request) => {
    const { functionName, qualifier } = await existing(request);
    return shape(await configs.get(request.accountId, functionName, qualifier));
  });

  app.delete(PATH, cfg('DeleteFunctionEventInvokeConfig', 'none'), async (request, reply) => {
    const { functionName, qualifier } = await existing(request);
    await configs.delete(request.accountId, functionName, qualifier);
    return reply.status(204).send();
  });

  app.get(`${PATH}/list`, cfg('ListFunctionEventInvokeConfigs', 'none'), async (request) => {
    const target = functionTarget(request, partition, 'forbidden');
    await functions.findRecord(request.accountId, target.functionName);
    const page = await configs.list(request.accountId, target.functionName, pageRequest(request, 50));
    return {
      FunctionEventInvokeConfigs: page.items.map(shape),
      ...(page.nextMarker === undefined ? {} : { NextMarker: page.nextMarker }),
    };
  });
}

