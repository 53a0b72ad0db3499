/** PublishVersion, ListVersionsByFunction, Create/Get/Update/Delete/ListAliases. */
import type { FastifyInstance } from 'fastify';
import type { AliasInput } from '../../functions/alias-service.js';
import type { ApiDeps, RouteConfig } from '../server.js';
import { ApiError } from '../wire/errors.js';
import { CreateAliasBody, PublishVersionBody, UpdateAliasBody } from '../wire/requests.js';
import { toAliasConfiguration, toFunctionConfiguration, withMarker } from '../wire/responses.js';
import { functionTarget, pageRequest } from './targets.js';

const FN = '/2015-03-31/functions/:FunctionName';
const cfg = (operation: string, body: RouteConfig['body'] = 'json'): { config: RouteConfig } => ({ config: { operation, body } });

export function registerVersionAliasRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const { functions, aliases, partition } = deps;

  app.post(`${FN}/versions`, { ...cfg('PublishVersion'), schema: { body: PublishVersionBody } }, async (request, reply) => {
    const target = functionTarget(request, partition, 'forbidden');
    const body = request.body as PublishVersionBody;
    const published = await functions.publish(request.accountId, target.functionName, {
      ...(body.CodeSha256 === undefined ? {} : { codeSha256: body.CodeSha256 }),
      ...(body.RevisionId === undefined ? {} : { revisionId: body.RevisionId }),
      ...(body.Description === undefined ? {} : { description: body.Description }),
    });
    void reply.status(201);
    return toFunctionConfiguration(published, partition, { functionArn: functions.arn(published.functionName, published.version) });
  });

  app.get(`${FN}/versions`, cfg('ListVersionsByFunction', 'none'), async (request) => {
    const target = functionTarget(request, partition, 'forbidden');
    const page = await functions.listVersions(request.accountId, target.functionName, pageRequest(request, 10000));
    const versions = page.items.map((v) =>
      toFunctionConfiguration(v, partition, { functionArn: functions.arn(v.functionName, v.version), forList: true }),
    );
    return withMarker({ Versions: versions }, page.nextMarker);
  });

  app.post(`${FN}/aliases`, { ...cfg('CreateAlias'), schema: { body: CreateAliasBody } }, async (request, reply) => {
    const target = functionTarget(request, partition, 'forbidden');
    const body = request.body as CreateAliasBody;
    const alias = await aliases.create(request.accountId, target.functionName, body.Name, toAliasInput(body));
    void reply.status(201);
    return toAliasConfiguration(alias, partition);
  });

  app.get(`${FN}/aliases`, cfg('ListAliases', 'none'), async (request) => {
    const target = functionTarget(request, partition, 'forbidden');
    const version = (request.query as { FunctionVersion?: string }).FunctionVersion;
    const page = await aliases.list(request.accountId, target.functionName, version, pageRequest(request, 10000));
    return withMarker({ Aliases: page.items.map((a) => toAliasConfiguration(a, partition)) }, page.nextMarker);
  });

  app.get(`${FN}/aliases/:Name`, cfg('GetAlias', 'none'), async (request) => {
    const target = functionTarget(request, partition, 'forbidden');
    return toAliasConfiguration(await aliases.get(request.accountId, target.functionName, aliasName(request.params)), partition);
  });

  app.put(`${FN}/aliases/:Name`, { ...cfg('UpdateAlias'), schema: { body: UpdateAliasBody } }, async (request) => {
    const target = functionTarget(request, partition, 'forbidden');
    const body = request.body as UpdateAliasBody;
    const alias = await aliases.update(request.accountId, target.functionName, aliasName(request.params), toAliasInput(body));
    // Provisioned concurrency on the alias follows it to its new version.
    await deps.provisioned.sync(request.accountId, target.functionName);
    return toAliasConfiguration(alias, partition);
  });

  app.delete(`${FN}/aliases/:Name`, cfg('DeleteAlias', 'none'), async (request, reply) => {
    const target = functionTarget(request, partition, 'forbidden');
    await aliases.delete(request.accountId, target.functionName, aliasName(request.params));
    // The store deleted the alias's provisioned concurrency config with it: its environments stop.
    await deps.provisioned.sync(request.accountId, target.functionName);
    void reply.status(204);
    return null;
  });
}

function aliasName(params: unknown): string {
  const name = (params as { Name?: string }).Name ?? '';
  if (!/^(?!^[0-9]+$)([a-zA-Z0-9-_]+)$/.test(name) || name.length > 128) {
    throw new ApiError(
      'ValidationException',
      `1 validation error detected: Value '${name}' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)`,
    );
  }
  return name;
}

function toAliasInput(body: UpdateAliasBody): AliasInput {
  const input: AliasInput = {};
  if (body.FunctionVersion !== undefined) input.functionVersion = body.FunctionVersion;
  if (body.Description !== undefined) input.description = body.Description;
  if (body.RoutingConfig !== undefined) input.additionalVersionWeights = body.RoutingConfig.AdditionalVersionWeights ?? {};
  if (body.RevisionId !== undefined) input.revisionId = body.RevisionId;
  return input;
}
