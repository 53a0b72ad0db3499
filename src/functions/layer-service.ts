/** Layers: versioned, immutable zips merged at /opt (LAMBDA_REFERENCE §1.2). */
import { formatLayerArn, formatLayerVersionArn, type Partition } from '../model/arn.js';
import type { Architecture, LayerVersion } from '../model/function.js';
import { MAX_UNZIPPED_CODE_BYTES } from '../model/limits.js';
import type { Clock } from '../shared/clock.js';
import type { Page, PageRequest, Store } from '../store/store.js';
import type { CodePackages } from './code-packages.js';
import { FunctionsError } from './errors.js';
import { checkRuntime } from './function-settings.js';
import { collectPages, pageInMemory } from './paging.js';

export interface PublishLayerInput {
  zipFile: Buffer;
  description?: string;
  compatibleRuntimes?: string[];
  compatibleArchitectures?: Architecture[];
  licenseInfo?: string;
}

export class LayerService {
  readonly #deps: { store: Store; code: CodePackages; clock: Clock; partition: Partition };

  constructor(deps: { store: Store; code: CodePackages; clock: Clock; partition: Partition }) {
    this.#deps = deps;
  }

  layerArn(layerName: string): string {
    return formatLayerArn(this.#deps.partition, layerName);
  }

  layerVersionArn(layerName: string, version: number): string {
    return formatLayerVersionArn(this.#deps.partition, layerName, version);
  }

  async publish(accountId: string, layerName: string, input: PublishLayerInput): Promise<LayerVersion> {
    for (const runtime of input.compatibleRuntimes ?? []) {
      try {
        checkRuntime(runtime);
      } catch (error) {
        // A layer may declare runtimes this server cannot run (it is only metadata); retired ids are still refused.
        if (!(error instanceof FunctionsError && error.message.includes('not supported by this Kindling'))) throw error;
      }
    }
    const held = await this.#deps.code.ingest(input.zipFile, '/opt', MAX_UNZIPPED_CODE_BYTES - 1);
    try {
      return await this.#deps.store.layers.publishLayerVersion(accountId, layerName, (version) => {
        const layer: LayerVersion = {
          accountId,
          layerName,
          version,
          description: input.description ?? '',
          compatibleRuntimes: input.compatibleRuntimes ?? [],
          compatibleArchitectures: input.compatibleArchitectures ?? [],
          code: held.ref,
          createdMs: this.#deps.clock.now(),
        };
        if (input.licenseInfo !== undefined) layer.licenseInfo = input.licenseInfo;
        return layer;
      });
    } finally {
      held.release();
    }
  }

  async get(accountId: string, layerName: string, version: number): Promise<LayerVersion> {
    const layer = await this.#deps.store.layers.findLayerVersion(accountId, layerName, version);
    if (!layer) throw new FunctionsError('ERR_NOT_FOUND', 'The resource you requested does not exist.');
    return layer;
  }

  async listVersions(accountId: string, layerName: string, filter: (v: LayerVersion) => boolean, page: PageRequest): Promise<Page<LayerVersion>> {
    const all = (await collectPages((p) => this.#deps.store.layers.listLayerVersions(accountId, layerName, p))).filter(filter);
    return pageInMemory(all, page, (v) => String(v.version));
  }

  listLayers(accountId: string, filter: (v: LayerVersion) => boolean, page: PageRequest): Promise<Page<LayerVersion>> {
    return this.#deps.store.layers.listLayers(accountId, filter, page);
  }

  /** Idempotent, as AWS's: deleting an absent version succeeds. Functions that use it keep their copy. */
  async delete(accountId: string, layerName: string, version: number): Promise<void> {
    await this.#deps.store.layers.deleteLayerVersion(accountId, layerName, version);
    await this.#deps.code.collectGarbage();
  }
}
