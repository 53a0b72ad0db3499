/**
 * Configuration: flags win over environment, environment over defaults. Parsed once in main/, every problem
 * reported at once, frozen. Every key is listed in docs/config.md (a test keeps the two in step).
 */
import { availableParallelism } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { PlatformError } from '../shared/errors.js';
import { defaultMaxMemoryMb, measureHostMemory, type HostMemory } from './host-memory.js';

export interface Config {
  host: string;
  port: number;
  dataDir: string;
  region: string;
  accountId: string;
  concurrencyLimit: number;
  auth: 'sigv4' | 'none';
  accessKeyId?: string;
  secretAccessKey?: string;
  logLevel: string;
  /** How functions are confined: bubblewrap + cgroups (default), or a plain process (development only). */
  sandbox: 'bubblewrap' | 'process';
  /** Host uids given to sandboxes, one per environment: [first, last]. */
  uidRange: [number, number];
  initTimeoutMs: number;
  logMaxBytesPerFunction: number;
  keepAliveMs: number;
  /** Memory the node gives to execution environments (their MemorySize summed): the pool's capacity. */
  maxMemoryMb: number;
  /** Environments starting at once at most (the others queue; a burst reuses the first ones). */
  maxConcurrentStarts: number;
  /** How long an invocation waits for capacity before it is throttled. */
  placementWaitMs: number;
  freezeIdle: boolean;
  /** Stored async event payloads at most (bytes); beyond, Invoke Event answers 429. */
  asyncQueueMaxBytes: number;
  /** Async attempts in flight at most, over all functions. */
  asyncMaxParallel: number;
  /** Delays before the 2nd, 3rd… attempt of a failed async event (Lambda: about 1 min, then 2 min). */
  asyncRetryDelaysMs: number[];
  /** Pre-warmed sandboxes kept per (runtime, memory, /tmp size); 0 disables them. */
  prewarmPerKey: number;
  /** At most this many (runtime, memory, /tmp size) keys have pre-warmed sandboxes. */
  prewarmMaxKeys: number;
}

export interface ConfigFlags {
  host?: string;
  port?: string;
  dataDir?: string;
}

/** The environment variables Kindling reads, with their defaults (documented in docs/config.md). */
export const CONFIG_KEYS = [
  'KINDLING_HOST',
  'KINDLING_PORT',
  'KINDLING_DATA_DIR',
  'KINDLING_REGION',
  'KINDLING_ACCOUNT_ID',
  'KINDLING_CONCURRENCY_LIMIT',
  'KINDLING_AUTH',
  'KINDLING_ACCESS_KEY_ID',
  'KINDLING_SECRET_ACCESS_KEY',
  'KINDLING_LOG_LEVEL',
  'KINDLING_SANDBOX',
  'KINDLING_UID_RANGE',
  'KINDLING_INIT_TIMEOUT_MS',
  'KINDLING_LOG_MAX_MB',
  'KINDLING_KEEP_ALIVE_MS',
  'KINDLING_MAX_MEMORY_MB',
  'KINDLING_PLACEMENT_WAIT_MS',
  'KINDLING_FREEZE_IDLE',
  'KINDLING_ASYNC_QUEUE_MAX_MB',
  'KINDLING_ASYNC_MAX_PARALLEL',
  'KINDLING_ASYNC_RETRY_DELAYS_MS',
  'KINDLING_MAX_CONCURRENT_STARTS',
  'KINDLING_PREWARM',
  'KINDLING_PREWARM_KEYS',
] as const;

export class ConfigError extends PlatformError<'ERR_CONFIG_INVALID'> {
  constructor(readonly problems: string[]) {
    super('ERR_CONFIG_INVALID', `invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|localhost)$/;
const REGION = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK.test(host);
}

/** `measureHost` measures the memory the default capacity derives from (tests pass fixed numbers). */
export function loadConfig(
  env: Readonly<Record<string, string | undefined>>,
  flags: ConfigFlags = {},
  cwd = process.cwd(),
  measureHost: () => HostMemory = measureHostMemory,
): Readonly<Config> {
  const problems: string[] = [];
  const pick = (flag: string | undefined, key: (typeof CONFIG_KEYS)[number], fallback: string): string => {
    const value = flag ?? env[key];
    return value === undefined || value === '' ? fallback : value;
  };
  const integer = (label: string, raw: string, min: number, max: number): number => {
    const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      problems.push(`${label}=${JSON.stringify(raw)}: expected an integer from ${min} to ${max}`);
      return min;
    }
    return n;
  };

  const host = pick(flags.host, 'KINDLING_HOST', '127.0.0.1');
  const port = integer('--port/KINDLING_PORT', pick(flags.port, 'KINDLING_PORT', '9000'), 0, 65535);
  const dataDirRaw = pick(flags.dataDir, 'KINDLING_DATA_DIR', './.kindling');
  const dataDir = isAbsolute(dataDirRaw) ? dataDirRaw : resolve(cwd, dataDirRaw);
  const region = pick(undefined, 'KINDLING_REGION', 'us-east-1');
  if (!REGION.test(region)) problems.push(`KINDLING_REGION=${JSON.stringify(region)}: expected a region name such as us-east-1`);
  const accountId = pick(undefined, 'KINDLING_ACCOUNT_ID', '000000000000');
  if (!/^\d{12}$/.test(accountId)) problems.push(`KINDLING_ACCOUNT_ID=${JSON.stringify(accountId)}: expected 12 digits`);
  const concurrencyLimit = integer('KINDLING_CONCURRENCY_LIMIT', pick(undefined, 'KINDLING_CONCURRENCY_LIMIT', '1000'), 100, 1_000_000);
  const auth = pick(undefined, 'KINDLING_AUTH', 'sigv4');
  if (auth !== 'sigv4' && auth !== 'none') problems.push(`KINDLING_AUTH=${JSON.stringify(auth)}: expected sigv4 or none`);
  if (auth === 'none' && !isLoopbackHost(host)) {
    problems.push(`KINDLING_AUTH=none is refused on a non-loopback host (${host}): anyone who can reach it could deploy code`);
  }
  const accessKeyId = env.KINDLING_ACCESS_KEY_ID || undefined;
  const secretAccessKey = env.KINDLING_SECRET_ACCESS_KEY || undefined;
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    problems.push('KINDLING_ACCESS_KEY_ID and KINDLING_SECRET_ACCESS_KEY must be set together');
  }
  if (accessKeyId !== undefined && !/^[A-Z0-9]{16,128}$/.test(accessKeyId)) {
    problems.push('KINDLING_ACCESS_KEY_ID: expected 16 to 128 upper-case letters and digits');
  }
  const logLevel = pick(undefined, 'KINDLING_LOG_LEVEL', 'info');
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`KINDLING_LOG_LEVEL=${JSON.stringify(logLevel)}: expected one of ${LOG_LEVELS.join(', ')}`);

  const sandbox = pick(undefined, 'KINDLING_SANDBOX', 'bubblewrap');
  if (sandbox !== 'bubblewrap' && sandbox !== 'process') problems.push(`KINDLING_SANDBOX=${JSON.stringify(sandbox)}: expected bubblewrap or process`);
  const uidRaw = pick(undefined, 'KINDLING_UID_RANGE', '200000-299999');
  const uidMatch = /^(\d+)-(\d+)$/.exec(uidRaw);
  const uidRange: [number, number] = uidMatch ? [Number(uidMatch[1]), Number(uidMatch[2])] : [0, 0];
  if (!uidMatch || uidRange[0] < 1000 || uidRange[1] < uidRange[0] || uidRange[1] > 4_294_967_294) {
    problems.push(`KINDLING_UID_RANGE=${JSON.stringify(uidRaw)}: expected FIRST-LAST host uids, at least 1000 (never root)`);
  }
  const initTimeoutMs = integer('KINDLING_INIT_TIMEOUT_MS', pick(undefined, 'KINDLING_INIT_TIMEOUT_MS', '10000'), 100, 900_000);
  const logMaxMb = integer('KINDLING_LOG_MAX_MB', pick(undefined, 'KINDLING_LOG_MAX_MB', '100'), 1, 1_000_000);
  const keepAliveMs = integer('KINDLING_KEEP_ALIVE_MS', pick(undefined, 'KINDLING_KEEP_ALIVE_MS', '600000'), 1000, 86_400_000);
  const maxMemoryRaw = pick(undefined, 'KINDLING_MAX_MEMORY_MB', '');
  // The smallest function (128 MB) must fit; no upper bound beyond sanity: the operator may overcommit knowingly.
  const maxMemoryMb = maxMemoryRaw === '' ? Math.max(128, defaultMaxMemoryMb(measureHost())) : integer('KINDLING_MAX_MEMORY_MB', maxMemoryRaw, 128, 1_000_000_000);
  const placementWaitMs = integer('KINDLING_PLACEMENT_WAIT_MS', pick(undefined, 'KINDLING_PLACEMENT_WAIT_MS', '10000'), 0, 900_000);
  const freezeRaw = pick(undefined, 'KINDLING_FREEZE_IDLE', 'true');
  if (freezeRaw !== 'true' && freezeRaw !== 'false') problems.push(`KINDLING_FREEZE_IDLE=${JSON.stringify(freezeRaw)}: expected true or false`);

  const asyncQueueMaxMb = integer('KINDLING_ASYNC_QUEUE_MAX_MB', pick(undefined, 'KINDLING_ASYNC_QUEUE_MAX_MB', '512'), 1, 1_000_000);
  const asyncMaxParallel = integer('KINDLING_ASYNC_MAX_PARALLEL', pick(undefined, 'KINDLING_ASYNC_MAX_PARALLEL', '32'), 1, 10_000);
  const retryRaw = pick(undefined, 'KINDLING_ASYNC_RETRY_DELAYS_MS', '60000,120000');
  const asyncRetryDelaysMs = /^\d+(,\d+)*$/.test(retryRaw) ? retryRaw.split(',').map(Number) : [];
  if (asyncRetryDelaysMs.length === 0 || asyncRetryDelaysMs.some((ms) => ms > 86_400_000)) {
    problems.push(`KINDLING_ASYNC_RETRY_DELAYS_MS=${JSON.stringify(retryRaw)}: expected comma-separated delays in ms (each at most 86400000), e.g. 60000,120000`);
  }
  const startsRaw = pick(undefined, 'KINDLING_MAX_CONCURRENT_STARTS', '');
  const maxConcurrentStarts = startsRaw === '' ? defaultConcurrentStarts() : integer('KINDLING_MAX_CONCURRENT_STARTS', startsRaw, 1, 1024);
  const prewarmPerKey = integer('KINDLING_PREWARM', pick(undefined, 'KINDLING_PREWARM', '1'), 0, 16);
  const prewarmMaxKeys = integer('KINDLING_PREWARM_KEYS', pick(undefined, 'KINDLING_PREWARM_KEYS', '8'), 1, 256);

  if (problems.length > 0) throw new ConfigError(problems);
  const config: Config = {
    host,
    port,
    dataDir,
    region,
    accountId,
    concurrencyLimit,
    auth: auth as Config['auth'],
    logLevel,
    sandbox: sandbox as Config['sandbox'],
    uidRange,
    initTimeoutMs,
    logMaxBytesPerFunction: logMaxMb * 1024 * 1024,
    keepAliveMs,
    maxMemoryMb,
    placementWaitMs,
    freezeIdle: freezeRaw === 'true',
    asyncQueueMaxBytes: asyncQueueMaxMb * 1024 * 1024,
    asyncMaxParallel,
    asyncRetryDelaysMs,
    maxConcurrentStarts,
    prewarmPerKey,
    prewarmMaxKeys,
  };
  if (accessKeyId !== undefined) config.accessKeyId = accessKeyId;
  if (secretAccessKey !== undefined) config.secretAccessKey = secretAccessKey;
  return Object.freeze(config);
}

/** Two starts per core: enough to keep the cores busy while a start waits on I/O, few enough that inits stay short. */
export function defaultConcurrentStarts(): number {
  return Math.max(2, 2 * availableParallelism());
}
