/**
 * A synchronous invocation after the API accepted it: find the code on disk, take an environment from the pool
 * (warm or cold), run the invocation in it, give the environment back. Function errors come back as values.
 */
import type { FunctionVersion } from '../model/function.js';
import type { InvocationResult } from '../model/invocation.js';
import type { Logger } from '../shared/logger.js';
import type { EnvironmentPool } from './environment-pool.js';

export interface CodeLocator {
  /** Host directories of the unpacked code and the merged /opt of a version (unpacking again if they were removed). */
  locate(version: FunctionVersion): Promise<{ codeDir: string; optDir?: string }>;
}

export interface SyncInvocation {
  version: FunctionVersion;
  requestId: string;
  invokedFunctionArn: string;
  payload: Buffer;
  /** The decoded X-Amz-Client-Context (raw JSON). */
  clientContext?: string;
  wantTail: boolean;
}

export interface InvokeServiceDeps {
  pool: EnvironmentPool;
  code: CodeLocator;
  log: Logger;
}

export class InvokeService {
  readonly #deps: InvokeServiceDeps;

  constructor(deps: InvokeServiceDeps) {
    this.#deps = deps;
  }

  async invoke(request: SyncInvocation): Promise<InvocationResult & { cold: boolean }> {
    const { pool, code } = this.#deps;
    const dirs = await code.locate(request.version);
    const env = await pool.acquire({ version: request.version, ...dirs, initializationType: 'on-demand' });
    try {
      const { result, cold } = await env.invoke({
        requestId: request.requestId,
        payload: request.payload,
        invokedFunctionArn: request.invokedFunctionArn,
        ...(request.clientContext === undefined ? {} : { clientContext: request.clientContext }),
        wantTail: request.wantTail,
      });
      return { ...result, cold };
    } finally {
      pool.release(env);
    }
  }
}
