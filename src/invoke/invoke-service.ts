/**
 * A synchronous invocation after the API accepted it: find the code on disk, take an environment from the pool
 * (warm or cold; throttled beyond the concurrency limits or the node's capacity), run the invocation in it, give
 * the environment back. Function errors come back as values.
 */
import type { StartKind } from '../environments/execution-environment.js';
import type { FunctionVersion } from '../model/function.js';
import type { InvocationResult } from '../model/invocation.js';
import type { Logger } from '../shared/logger.js';
import type { FunctionReservation } from '../store/store.js';
import type { EnvironmentPool } from './environment-pool.js';

export interface CodeLocator {
  /** Host directories of the unpacked code and the merged /opt of a version (unpacking again if they were removed). */
  locate(version: FunctionVersion): Promise<{ codeDir: string; optDir?: string }>;
}

export interface ReservationSource {
  /** The account's reserved functions, read on every invocation (one indexed query), so changes apply at once. */
  listReservations(accountId: string): Promise<FunctionReservation[]>;
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
  reservations: ReservationSource;
  log: Logger;
}

export class InvokeService {
  readonly #deps: InvokeServiceDeps;

  constructor(deps: InvokeServiceDeps) {
    this.#deps = deps;
  }

  /** Throws ThrottledError when the function's or the account's concurrency, or the node's capacity, is exhausted. */
  async invoke(request: SyncInvocation): Promise<InvocationResult & { cold: boolean; start: StartKind }> {
    const { pool, code, reservations } = this.#deps;
    const { accountId, functionName } = request.version;
    const reserved = await reservations.listReservations(accountId);
    pool.setReservations(accountId, reserved);
    const own = reserved.find((r) => r.functionName === functionName)?.reservedConcurrency;
    const dirs = await code.locate(request.version);
    const env = await pool.acquire(
      { version: request.version, ...dirs, initializationType: 'on-demand' },
      own === undefined ? {} : { reservedConcurrency: own },
    );
    try {
      const { result, cold, start } = await env.invoke({
        requestId: request.requestId,
        payload: request.payload,
        invokedFunctionArn: request.invokedFunctionArn,
        ...(request.clientContext === undefined ? {} : { clientContext: request.clientContext }),
        wantTail: request.wantTail,
      });
      return { ...result, cold, start };
    } finally {
      pool.release(env);
    }
  }
}
