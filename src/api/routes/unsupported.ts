/**
 * Read-only operations of features Kindling does not have yet answer what AWS answers for a function that does
 * not use the feature, because infrastructure tools (Terraform, CDK, SAM) read them after every change.
 * Other operations not built yet fall through to the not-found handler, which names them.
 */
import type { FastifyInstance } from 'fastify';
import { LATEST } from '../../model/function.js';
import type { ApiDeps } from '../server.js';
import { ApiError } from '../wire/errors.js';
import { functionTarget, pageRequest } from './targets.js';

const none = (operation: string) => ({ config: { operation, body: 'none' as const } });

export function registerUnsupportedRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const { functions, partition } = deps;
  /** The function must exist: these answer 404 for an unknown one, as AWS does. */
  const existing = async (request: Parameters<typeof functionTarget>[0]) => {
    const target = functionTarget(request, partition);
    await functions.resolve(request.accountId, target.functionName, target.qualifier);
    return target;
  };

  app.get('/2020-06-30/functions/:FunctionName/code-signing-config', none('GetFunctionCodeSigningConfig'), async (request) => {
    const target = await existing(request);
    return { CodeSigningConfigArn: '', FunctionName: target.functionName };
  });

  app.get('/2024-08-31/functions/:FunctionName/recursion-config', none('GetFunctionRecursionConfig'), async (request) => {
    await existing(request);
    return { RecursiveLoop: 'Terminate' };
  });

  app.get('/2021-07-20/functions/:FunctionName/runtime-management-config', none('GetRuntimeManagementConfig'), async (request) => {
    const target = await existing(request);
    return { UpdateRuntimeOn: 'Auto', FunctionArn: functions.arn(target.functionName, target.qualifier ?? LATEST) };
  });

  app.get('/2021-10-31/functions/:FunctionName/urls', none('ListFunctionUrlConfigs'), async (request) => {
    await existing(request);
    pageRequest(request, 50);
    return { FunctionUrlConfigs: [] };
  });

  app.get('/2021-10-31/functions/:FunctionName/url', none('GetFunctionUrlConfig'), async (request) => {
    await existing(request);
    throw new ApiError('ResourceNotFoundException', 'The resource you requested does not exist.');
  });

  app.get('/2015-03-31/event-source-mappings', none('ListEventSourceMappings'), async (request) => {
    pageRequest(request, 10000);
    return { EventSourceMappings: [] };
  });

  app.get('/2020-04-22/code-signing-configs', none('ListCodeSigningConfigs'), async (request) => {
    pageRequest(request, 10000);
    return { CodeSigningConfigs: [] };
  });

  app.get('/2018-10-31/layers/:LayerName/versions/:VersionNumber/policy', none('GetLayerVersionPolicy'), async () => {
    throw new ApiError('ResourceNotFoundException', 'No policy is associated with the given resource.');
  });
}
