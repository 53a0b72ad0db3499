/** TagResource, UntagResource, ListTags on function ARNs. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { parseFunctionReference } from '../../model/arn.js';
import type { ApiDeps, RouteConfig } from '../server.js';
import { ApiError } from '../wire/errors.js';
import { TagResourceBody } from '../wire/requests.js';

const TAGS = '/2017-03-31/tags/:Resource';
const cfg = (operation: string, body: RouteConfig['body'] = 'json'): { config: RouteConfig } => ({ config: { operation, body } });

export function registerTagRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const { functions } = deps;

  app.post(TAGS, { ...cfg('TagResource'), schema: { body: TagResourceBody } }, async (request, reply) => {
    const name = taggedFunction(request, deps);
    const tags = (request.body as TagResourceBody).Tags;
    await functions.setTags(request.accountId, name, (current) => ({ ...current, ...tags }));
    void reply.status(204);
    return null;
  });

  app.delete(TAGS, cfg('UntagResource', 'none'), async (request, reply) => {
    const name = taggedFunction(request, deps);
    const raw = (request.query as { tagKeys?: string | string[] }).tagKeys;
    if (raw === undefined) {
      throw new ApiError('ValidationException', "1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null");
    }
    const keys = new Set(Array.isArray(raw) ? raw : [raw]);
    await functions.setTags(request.accountId, name, (current) => Object.fromEntries(Object.entries(current).filter(([k]) => !keys.has(k))));
    void reply.status(204);
    return null;
  });

  app.get(TAGS, cfg('ListTags', 'none'), async (request) => {
    const record = await functions.findRecord(request.accountId, taggedFunction(request, deps));
    return { Tags: record.tags };
  });
}

/** Tags live on the unqualified function ARN. */
function taggedFunction(request: FastifyRequest, deps: ApiDeps): string {
  const raw = (request.params as { Resource?: string }).Resource ?? '';
  const ref = raw.startsWith('arn:') ? parseFunctionReference(raw) : undefined;
  if (!ref || ref.region === undefined) {
    throw new ApiError('ValidationException', `1 validation error detected: Value '${raw}' at 'resource' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*):lambda:[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:\\d{12}:(function:[a-zA-Z0-9-_]+(:(\\$LATEST|[a-zA-Z0-9-_]+))?|layer:([a-zA-Z0-9-_]+)|code-signing-config:csc-[a-z0-9]{17}|event-source-mapping:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})`);
  }
  if (ref.qualifier !== undefined) {
    throw new ApiError('InvalidParameterValueException', 'Tags are not supported on function versions or aliases: use the unqualified function ARN.');
  }
  if (ref.region !== deps.partition.region || ref.accountId !== request.accountId) {
    throw new ApiError('ResourceNotFoundException', `Function not found: ${raw}`);
  }
  return ref.functionName;
}
