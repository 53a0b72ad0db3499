/** PublishLayerVersion, GetLayerVersion, GetLayerVersionByArn, ListLayers, ListLayerVersions, DeleteLayerVersion. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { parseLayerName, parseLayerVersionArn } from '../../model/arn.js';
import type { LayerVersion } from '../../model/function.js';
import type { ApiDeps, RouteConfig } from '../server.js';
import { ApiError } from '../wire/errors.js';
import { PublishLayerVersionBody } from '../wire/requests.js';
import { toLayersListItem, toLayerVersion, toLayerVersionsListItem, withMarker } from '../wire/responses.js';
import { decodeZip, originOf, pageRequest } from './targets.js';

const LAYER = '/2018-10-31/layers/:LayerName';
const cfg = (operation: string, body: RouteConfig['body'] = 'json'): { config: RouteConfig } => ({ config: { operation, body } });

export function registerLayerRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const { layers, partition } = deps;
  const answer = (request: FastifyRequest, layer: LayerVersion) =>
    toLayerVersion(layer, partition, deps.codeLocations.urlFor({ accountId: request.accountId, sha256Hex: layer.code.sha256Hex }, originOf(request)));

  app.post(`${LAYER}/versions`, { ...cfg('PublishLayerVersion'), schema: { body: PublishLayerVersionBody } }, async (request, reply) => {
    const layerName = layerNameOf(request, deps);
    const body = request.body as PublishLayerVersionBody;
    const layer = await layers.publish(request.accountId, layerName, {
      zipFile: decodeZip(body.Content.ZipFile, 'Content'),
      ...(body.Description === undefined ? {} : { description: body.Description }),
      ...(body.CompatibleRuntimes === undefined ? {} : { compatibleRuntimes: body.CompatibleRuntimes }),
      ...(body.CompatibleArchitectures === undefined ? {} : { compatibleArchitectures: body.CompatibleArchitectures }),
      ...(body.LicenseInfo === undefined ? {} : { licenseInfo: body.LicenseInfo }),
    });
    void reply.status(201);
    return answer(request, layer);
  });

  app.get(`${LAYER}/versions/:VersionNumber`, cfg('GetLayerVersion', 'none'), async (request) => {
    const layer = await layers.get(request.accountId, layerNameOf(request, deps), versionNumberOf(request));
    return answer(request, layer);
  });

  app.get('/2018-10-31/layers', cfg('ListLayers', 'none'), async (request) => {
    const query = request.query as { find?: string; Arn?: string };
    if (query.find === 'LayerVersion') {
      // GetLayerVersionByArn shares this path, told apart by the constant ?find=LayerVersion.
      const ref = query.Arn === undefined ? undefined : parseLayerVersionArn(query.Arn);
      if (!ref) {
        throw new ApiError('ValidationException', `1 validation error detected: Value '${query.Arn ?? 'null'}' at 'arn' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+`);
      }
      if (ref.region !== partition.region || ref.accountId !== request.accountId) {
        throw new ApiError('ResourceNotFoundException', 'The resource you requested does not exist.');
      }
      return answer(request, await layers.get(request.accountId, ref.layerName, ref.version));
    }
    const page = await layers.listLayers(request.accountId, layerFilter(request), pageRequest(request, 50));
    return withMarker({ Layers: page.items.map((l) => toLayersListItem(l, partition)) }, page.nextMarker);
  });

  app.get(`${LAYER}/versions`, cfg('ListLayerVersions', 'none'), async (request) => {
    const page = await layers.listVersions(request.accountId, layerNameOf(request, deps), layerFilter(request), pageRequest(request, 50));
    return withMarker({ LayerVersions: page.items.map((l) => toLayerVersionsListItem(l, partition)) }, page.nextMarker);
  });

  app.delete(`${LAYER}/versions/:VersionNumber`, cfg('DeleteLayerVersion', 'none'), async (request, reply) => {
    await layers.delete(request.accountId, layerNameOf(request, deps), versionNumberOf(request));
    void reply.status(204);
    return null;
  });
}

function layerNameOf(request: FastifyRequest, deps: ApiDeps): string {
  const raw = (request.params as { LayerName?: string }).LayerName ?? '';
  const parsed = parseLayerName(raw);
  if (!parsed) {
    throw new ApiError('ValidationException', `1 validation error detected: Value '${raw}' at 'layerName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{12}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+`);
  }
  if ((parsed.region !== undefined && parsed.region !== deps.partition.region) || (parsed.accountId !== undefined && parsed.accountId !== request.accountId)) {
    throw new ApiError('ResourceNotFoundException', 'The resource you requested does not exist.');
  }
  return parsed.layerName;
}

function versionNumberOf(request: FastifyRequest): number {
  const raw = (request.params as { VersionNumber?: string }).VersionNumber ?? '';
  if (!/^\d{1,15}$/.test(raw)) {
    throw new ApiError('ValidationException', `1 validation error detected: Value '${raw}' at 'versionNumber' failed to satisfy constraint: Member must be a number`);
  }
  return Number(raw);
}

function layerFilter(request: FastifyRequest): (v: LayerVersion) => boolean {
  const q = request.query as { CompatibleRuntime?: string; CompatibleArchitecture?: string };
  return (v) =>
    (q.CompatibleRuntime === undefined || v.compatibleRuntimes.includes(q.CompatibleRuntime)) &&
    (q.CompatibleArchitecture === undefined || (v.compatibleArchitectures as string[]).includes(q.CompatibleArchitecture));
}
