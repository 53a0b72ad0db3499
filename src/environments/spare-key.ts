/**
 * Which functions a pre-warmed sandbox can serve, and which sandboxes are interchangeable (pure; spare-pool.ts keeps
 * them). A spare is started before any function is chosen, so everything fixed when its process starts must be the
 * same for every function it may serve: the runtime and its argv (heap flags follow MemorySize), the memory limit,
 * the /tmp size (EphemeralStorage), and every variable the runtime's process reads only at start.
 */
import type { FunctionVersion } from '../model/function.js';
import { findRuntime, type RuntimeRow } from '../model/runtimes.js';

export interface SpareKey {
  /** `<runtime>/<MemorySize>/<EphemeralStorage>`, e.g. `nodejs20.x/1769/512`. */
  id: string;
  runtime: RuntimeRow;
  memoryMb: number;
  tmpMb: number;
}

/**
 * Variables a runtime process reads once, at start (Node: NODE_OPTIONS, NODE_PATH, NODE_EXTRA_CA_CERTS… and ICU's
 * locale from LANG; libuv's UV_THREADPOOL_SIZE; Python: PYTHONPATH, PYTHONHASHSEED… and the stdio encoding from
 * LANG/LC_*; the dynamic loader's LD_*; glibc's malloc tunables; OpenSSL's config). A function that sets one starts
 * cold, so it gets exactly what it asked for. NODE_ENV is only read by user code and does not count.
 */
const READ_AT_START = /^(NODE_(?!ENV$)|UV_|PYTHON|LD_|MALLOC_|GLIBC_TUNABLES$|LANG$|LANGUAGE$|LC_|OPENSSL_|AWS_LAMBDA_EXEC_WRAPPER$)/;

/** The spare key of a function version, or why it always starts cold. */
export function spareKeyOf(version: FunctionVersion): SpareKey | { ineligible: string } {
  const s = version.settings;
  const runtime = findRuntime(s.runtime);
  if (runtime?.bootstrapDir === undefined || runtime.command === undefined) {
    return { ineligible: `runtime ${s.runtime} has no Kindling bootstrap (custom runtimes start cold)` };
  }
  const startVariable = Object.keys(s.environment ?? {}).find((name) => READ_AT_START.test(name));
  if (startVariable !== undefined) return { ineligible: `${startVariable} is read when the runtime starts` };
  return { id: `${runtime.id}/${s.memorySizeMb}/${s.ephemeralStorageMb}`, runtime, memoryMb: s.memorySizeMb, tmpMb: s.ephemeralStorageMb };
}
