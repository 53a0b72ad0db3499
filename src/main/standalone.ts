/**
 * The composition root of `kindling server`: the only place that builds the world. SQLite and blobs in the data
 * directory, the API on one port; closes in reverse order.
 */
import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createApiApp } from '../api/server.js';
import { CodeLocations } from '../api/code-locations.js';
import { CodeCache } from '../code/code-cache.js';
import type { Config } from '../config/config.js';
import { AliasService } from '../functions/alias-service.js';
import { CodePackages } from '../functions/code-packages.js';
import { FunctionService } from '../functions/function-service.js';
import { FunctionStates } from '../functions/function-states.js';
import { LayerService } from '../functions/layer-service.js';
import { PolicyService } from '../functions/policy-service.js';
import { EnvironmentStarter } from '../environments/environment-starter.js';
import { createSandbox } from '../environments/isolation/create-sandbox.js';
import { SparePool } from '../environments/spare-pool.js';
import { EnvironmentPool } from '../invoke/environment-pool.js';
import { InvokeService } from '../invoke/invoke-service.js';
import { EventInvokeConfigs } from '../invoke/async/event-invoke-configs.js';
import { EventQueue } from '../invoke/async/event-queue.js';
import { LAMBDA_RETRY_DELAYS } from '../invoke/async/retry-policy.js';
import { FunctionsError } from '../functions/errors.js';
import { ProvisionedConcurrency } from '../invoke/provisioned-concurrency.js';
import { BatchingLogSink } from '../logs/log-sink.js';
import { formatRuntimeVersionArn } from '../model/arn.js';
import { MIN_UNRESERVED_CONCURRENCY } from '../model/limits.js';
import { systemClock, type Clock } from '../shared/clock.js';
import { closeAll } from '../shared/lifecycle.js';
import type { Logger } from '../shared/logger.js';
import { FileBlobStore } from '../store/fs/file-blob-store.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { loadServerSecrets, type ServerSecrets } from './credentials.js';

/** Our runtime bootstraps, mounted read-only at /var/runtime (src/environments/bootstrap/<runtime>). */
const BOOTSTRAP_ROOT = fileURLToPath(new URL('../environments/bootstrap', import.meta.url));

export interface Standalone {
  /** http://HOST:PORT as bound (the real port when configured with 0). */
  url: string;
  secrets: ServerSecrets;
  /** The sandbox backend in use. */
  sandbox: 'bubblewrap' | 'process';
  /** How many execution environments exist now (starting, busy or idle). */
  environmentCount(): number;
  close(): Promise<void>;
}

export interface StandaloneDeps {
  log: Logger;
  clock?: Clock;
}

export async function startStandalone(config: Readonly<Config>, deps: StandaloneDeps): Promise<Standalone> {
  const clock = deps.clock ?? systemClock;
  const log = deps.log;
  await mkdir(config.dataDir, { recursive: true, mode: 0o711 });
  // Sandboxes start as unprivileged uids and bind-mount code from the cache: they must be able to traverse to it
  // (0711: no listing). Blobs, the database and the credentials stay private to the server.
  await chmod(config.dataDir, 0o711);
  for (const dir of ['code', 'code/trees', 'code/opt']) await mkdir(join(config.dataDir, dir), { recursive: true, mode: 0o711 });
  const secrets = await loadServerSecrets(config.dataDir, config);
  const store = SqliteStore.open({ path: join(config.dataDir, 'kindling.db') });
  try {
    const partition = { region: config.region, accountId: config.accountId };
    const blobs = new FileBlobStore({ rootDir: join(config.dataDir, 'blobs') });
    const code = new CodePackages({ blobs, cache: new CodeCache({ rootDir: join(config.dataDir, 'code') }), references: store.references, log });
    const states = new FunctionStates({ functions: store.functions, log });
    const recovered = await code.recover();
    const settled = await states.recover();
    if (recovered.temporary + recovered.blobs + recovered.trees + settled > 0) log.info({ ...recovered, settled }, 'recovered after an unclean stop');

    let pool: EnvironmentPool | undefined;
    let events: EventQueue | undefined;
    let provisioned: ProvisionedConcurrency | undefined;
    const functions = new FunctionService({
      store,
      code,
      states,
      clock,
      partition,
      onDeleted: async (accountId, functionName, version) => {
        await pool?.retire(accountId, functionName, version);
        // The store deleted the version's (or function's) provisioned concurrency configs with it.
        await provisioned?.sync(accountId, functionName);
        if (version === undefined) await store.logs.deleteFunctionLogs(accountId, functionName);
        // A deleted function's async events are dropped; a deleted version's events are dropped when they come due.
        if (version === undefined) await events?.deleteFunctionEvents(accountId, functionName);
      },
    });
    const sandbox = createSandbox(config.sandbox, { dataDir: config.dataDir, uidRange: config.uidRange });
    const reaped = await sandbox.reapStale();
    if (reaped > 0) log.info({ reaped }, 'removed environments left by an unclean stop');
    if (sandbox.kind === 'process') {
      log.warn('KINDLING_SANDBOX=process: functions run as plain processes with the server\'s privileges and NO isolation');
    }
    const logSink = new BatchingLogSink({ store: store.logs, maxBytesPerFunction: config.logMaxBytesPerFunction, log });
    // Pre-warmed sandboxes (KINDLING_PREWARM): bubblewrap only (code is bound into them by mount propagation).
    const spares =
      config.prewarmPerKey > 0 && sandbox.lateBinding
        ? new SparePool({
            sandbox,
            bootstrapRoot: BOOTSTRAP_ROOT,
            clock,
            log: log.child({ component: 'spares' }),
            perKey: config.prewarmPerKey,
            maxKeys: config.prewarmMaxKeys,
            keepAliveMs: config.keepAliveMs,
            startTimeoutMs: config.initTimeoutMs,
          })
        : undefined;
    if (config.prewarmPerKey > 0 && sandbox.kind === 'bubblewrap' && !sandbox.lateBinding) {
      log.warn('pre-warmed sandboxes are off: binding code into them needs perl (apt-get install perl-base) on x86_64 or arm64');
    }
    const starter = new EnvironmentStarter(
      {
        sandbox,
        logSink,
        clock,
        log: log.child({ component: 'environment' }),
        bootstrapRoot: BOOTSTRAP_ROOT,
        initTimeoutMs: config.initTimeoutMs,
        region: config.region,
        runtimeVersionArn: (runtime) => formatRuntimeVersionArn(config.region, runtime),
        freezeWhenIdle: config.freezeIdle,
      },
      spares,
      log.child({ component: 'environment' }),
    );
    pool = new EnvironmentPool({
      start: (target) => starter.start(target),
      clock,
      log,
      keepAliveMs: config.keepAliveMs,
      maxMemoryMb: config.maxMemoryMb,
      placementWaitMs: config.placementWaitMs,
      accountConcurrencyLimit: config.concurrencyLimit,
      // One host uid per environment.
      maxEnvironments: config.uidRange[1] - config.uidRange[0] + 1,
      maxConcurrentStarts: config.maxConcurrentStarts,
      onProvisionedLost: (env) => provisioned?.onProvisionedLost(env),
      ...(spares ? { spares } : {}),
    });
    const environmentPool = pool;
    spares?.setRoomCheck((memoryMb) => environmentPool.hasRoomForSpare(memoryMb));
    provisioned = new ProvisionedConcurrency({
      store,
      pool,
      code,
      clock,
      log: log.child({ component: 'provisioned-concurrency' }),
      partition,
      accountLimit: config.concurrencyLimit,
      minUnreserved: MIN_UNRESERVED_CONCURRENCY,
    });
    // Configurations survive a restart: their environments start again now, in the background.
    await provisioned.start();
    const invoke = new InvokeService({ pool, code, reservations: store.functions, log });
    const environments = pool;
    const eventInvokeConfigs = new EventInvokeConfigs({ store: store.eventInvokeConfigs, clock, partition, arn: (name, q) => functions.arn(name, q) });
    events = new EventQueue({
      events: store.asyncEvents,
      findConfig: (accountId, functionName, qualifier) => eventInvokeConfigs.find(accountId, functionName, qualifier),
      reservedConcurrencyOf: async (accountId, functionName) => (await store.functions.findFunction(accountId, functionName))?.reservedConcurrency,
      // The version is chosen when each attempt starts, by the alias's weights as for a sync invoke (an alias may have
      // moved since the event was accepted).
      resolve: async (accountId, functionName, qualifier) => {
        try {
          const { version } = await functions.resolve(accountId, functionName, qualifier, { route: true });
          const { reservedConcurrency } = await functions.findRecord(accountId, functionName);
          return reservedConcurrency === undefined ? { version } : { version, reservedConcurrency };
        } catch (error) {
          if (error instanceof FunctionsError && error.code === 'ERR_NOT_FOUND') return undefined;
          throw error;
        }
      },
      invoke: (request) => invoke.invoke(request),
      partition,
      clock,
      log,
      maxParallel: config.asyncMaxParallel,
      maxQueuedBytes: config.asyncQueueMaxBytes,
      delays: { ...LAMBDA_RETRY_DELAYS, functionErrorMs: config.asyncRetryDelaysMs },
    });
    const queue = events;
    const app = createApiApp({
      partition,
      auth: {
        mode: config.auth,
        findSecret: (id) => (id === secrets.accessKeyId ? secrets.secretAccessKey : undefined),
      },
      concurrencyLimit: config.concurrencyLimit,
      store,
      blobs,
      functions,
      aliases: new AliasService({ store, functions }),
      layers: new LayerService({ store, code, clock, partition }),
      policies: new PolicyService({ store, functions }),
      invoke,
      events: queue,
      eventInvokeConfigs,
      provisioned,
      codeLocations: new CodeLocations({ signingKey: Buffer.from(secrets.urlSigningKey, 'base64'), clock }),
      clock,
      log,
      stats: () => starter.stats(),
    });
    // Before the API listens: an event accepted now must not be taken for one interrupted by a crash.
    await queue.start();
    if (spares) void primeSpares(store, config.accountId, spares, config.prewarmMaxKeys).catch((error: unknown) => log.warn({ err: error }, 'cannot list functions to pre-warm'));
    await app.listen({ host: config.host, port: config.port });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    let closing: Promise<void> | undefined;
    return {
      url: `http://${host}:${port}`,
      secrets,
      sandbox: sandbox.kind,
      environmentCount: () => environments.size,
      close: () =>
        (closing ??= closeAll([
          store,
          logSink,
          sandbox,
          { close: () => states.drain() },
          ...(spares ? [spares] : []),
          // Closed in reverse: the queue stops taking events, environments stop, then attempts in flight settle.
          { close: () => queue.drain() },
          environments,
          provisioned,
          { close: () => queue.stop() },
          { close: () => app.close() },
        ])),
    };
  } catch (error) {
    await store.close();
    throw error;
  }
}

/** At start, the spare keys of existing functions ($LATEST), up to the key bound, so their first cold start is fast. */
async function primeSpares(store: SqliteStore, accountId: string, spares: SparePool, maxKeys: number): Promise<void> {
  const page = await store.functions.listFunctions(accountId, { limit: maxKeys });
  for (const fn of page.items) {
    const latest = await store.functions.findVersion(accountId, fn.functionName, '$LATEST');
    if (latest) spares.want(latest);
  }
}
