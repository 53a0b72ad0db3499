/**
 * One execution environment: a sandboxed runtime for one function version, one invocation at a time, reused while
 * warm (ARCHITECTURE.md "The life of a synchronous invocation", steps 4–6). It owns its sandbox process, its Runtime
 * API listener and its log stream, and closes all three.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { FunctionVersion } from '../model/function.js';
import type { InvocationResult } from '../model/invocation.js';
import { CUSTOM_BOOTSTRAP_PATHS, findRuntime, type RuntimeRow } from '../model/runtimes.js';
import type { Clock } from '../shared/clock.js';
import type { Logger } from '../shared/logger.js';
import { EnvironmentLog } from '../logs/environment-log.js';
import type { LogSink } from '../logs/log-sink.js';
import { newLogStreamName } from '../logs/log-stream-name.js';
import {
  billedDurationMs,
  formatEndLine,
  formatInitReportLine,
  formatInitStartLine,
  formatReportLine,
  formatStartLine,
  formatTimeoutLine,
} from '../logs/platform-lines.js';
import { createRuntimeApi, type InvocationOutcome, type RuntimeApi } from '../runtime-api/server.js';
import { IdleFreezer } from './idle-freezer.js';
import { buildEnvironmentVariables, nodeHeapFlags } from './env-vars.js';
import { EnvironmentError } from './errors.js';
import {
  initTimedOut,
  invalidEntrypoint,
  responseTooLarge,
  runtimeExited,
  timedOut,
  type FunctionErrorDocument,
} from './function-errors.js';
import { runtimeApiSocketInside, type Sandbox, type SandboxExit, type SandboxProcess } from './sandbox.js';
import type { Spare } from './spare-pool.js';

export type EnvironmentState = 'starting' | 'ready' | 'busy' | 'stopping' | 'stopped' | 'failed';

const TRANSITIONS: Record<EnvironmentState, readonly EnvironmentState[]> = {
  starting: ['ready', 'failed', 'stopping'],
  ready: ['busy', 'stopping'],
  busy: ['ready', 'stopping'],
  failed: ['busy', 'stopping'],
  stopping: ['stopped'],
  stopped: [],
};

/** Lambda's runtime response limit: 6 MiB + 100 bytes (RIE MaxPayloadSize). */
export const MAX_RESPONSE_BYTES = 6 * 1024 * 1024 + 100;
const TAIL_BYTES = 4096;
/** How long an idle environment stays thawed before it is frozen (idle-freezer.ts; a bound on unmetered CPU). */
const FREEZE_GRACE_MS = 10;

export interface ExecutionEnvironmentDeps {
  sandbox: Sandbox;
  logSink: LogSink;
  clock: Clock;
  log: Logger;
  /** Host directory holding our bootstraps (src/environments/bootstrap): <root>/nodejs, <root>/python. */
  bootstrapRoot: string;
  initTimeoutMs: number;
  region: string;
  /** The runtime-version ARN shown in INIT_START (same as GetFunction's RuntimeVersionConfig). */
  runtimeVersionArn(runtime: string): string;
  /** Freeze idle environments (no CPU while waiting, as Lambda does). */
  freezeWhenIdle: boolean;
  /** Told at each invocation how it started (counters). */
  onInvocationStart?(start: StartKind): void;
}

/**
 * How an invocation started: on a warm environment (no init), or paying an init in a sandbox that was started for it
 * ('cold') or taken pre-warmed from the spare pool ('pre-warmed': only the code binding and the handler's load).
 */
export type StartKind = 'warm' | 'pre-warmed' | 'cold';

export interface EnvironmentTarget {
  version: FunctionVersion;
  /** Host directories of the unpacked code and the merged layers. */
  codeDir: string;
  optDir?: string;
  initializationType: 'on-demand' | 'provisioned-concurrency';
}

export interface InvokeRequest {
  requestId: string;
  payload: Buffer;
  invokedFunctionArn: string;
  clientContext?: string;
  wantTail: boolean;
}

export interface EnvironmentInvocation {
  result: InvocationResult;
  /** Whether this invocation paid the init (the first one of the environment). */
  cold: boolean;
  start: StartKind;
}

/** Why an environment could not initialise; the invocation that waited for it receives this. */
type InitFailure = { kind: 'document'; doc: FunctionErrorDocument } | { kind: 'timeout' } | { kind: 'exit'; exit: SandboxExit };

export class ExecutionEnvironment {
  readonly id: string;
  readonly target: EnvironmentTarget;
  readonly logStreamName: string;
  #state: EnvironmentState = 'starting';
  readonly #deps: ExecutionEnvironmentDeps;
  readonly #log: EnvironmentLog;
  #api: RuntimeApi | undefined;
  #process: SandboxProcess | undefined;
  #socketDir: string | undefined;
  #initDurationMs = 0;
  #initFailure: InitFailure | undefined;
  /** Collects the init's output; handed to the first invocation when the init failed. */
  #initTail: ReturnType<EnvironmentLog['beginInvocation']> | undefined;
  #invocations = 0;
  readonly #freezer = new IdleFreezer(FREEZE_GRACE_MS);
  #destroyed: Promise<void> | undefined;
  #lastUsedMs: number;
  /** How the environment was started: its own sandbox, or a pre-warmed one. */
  readonly startKind: 'cold' | 'pre-warmed';

  private constructor(deps: ExecutionEnvironmentDeps, target: EnvironmentTarget, spare: Spare | undefined) {
    this.#deps = deps;
    this.target = target;
    this.id = spare?.id ?? `e${randomBytes(8).toString('hex')}`;
    this.startKind = spare ? 'pre-warmed' : 'cold';
    const now = new Date(deps.clock.now());
    this.logStreamName = newLogStreamName(target.version.version, now);
    this.#lastUsedMs = now.getTime();
    const v = target.version;
    this.#log = new EnvironmentLog({
      sink: deps.logSink,
      group: v.settings.loggingConfig.logGroup,
      stream: this.logStreamName,
      accountId: v.accountId,
      functionName: v.functionName,
      clock: deps.clock,
    });
  }

  /**
   * Starts the sandbox, or binds the function to a pre-warmed one (a spare from spare-pool.ts, taken for this target:
   * its key matches, so memory, /tmp and argv are already right), and waits for the runtime's init (its first /next),
   * bounded by the init timeout. With a spare, the Init Duration runs from the binding to the first /next.
   */
  static async start(deps: ExecutionEnvironmentDeps, target: EnvironmentTarget, spare?: Spare): Promise<ExecutionEnvironment> {
    const env = new ExecutionEnvironment(deps, target, spare);
    if (spare) {
      env.#api = spare.api;
      env.#process = spare.process;
      env.#socketDir = spare.socketDir;
    }
    try {
      await (spare ? env.#bindSpare() : env.#init());
    } catch (error) {
      await env.destroy();
      throw error;
    }
    return env;
  }

  get state(): EnvironmentState {
    return this.#state;
  }

  get lastUsedMs(): number {
    return this.#lastUsedMs;
  }

  /** Whether it can take another invocation (healthy and idle). */
  get isReusable(): boolean {
    return this.#state === 'ready';
  }

  async invoke(request: InvokeRequest): Promise<EnvironmentInvocation> {
    // A provisioned environment's init ran ahead of any invocation: no invocation pays it (no Init Duration).
    const cold = this.#invocations === 0 && this.target.initializationType !== 'provisioned-concurrency';
    const start: StartKind = cold ? this.startKind : 'warm';
    this.#deps.onInvocationStart?.(start);
    this.#invocations += 1;
    this.#transition('busy');
    const { clock } = this.#deps;
    const version = this.target.version;
    const timeoutMs = version.settings.timeoutSeconds * 1000;
    await this.#freezer.wake(this.#process);
    // A failed init's output (the runtime's own error report, INIT_REPORT) belongs to the invocation that receives
    // the failure, as on Lambda, where the init is retried inside it; otherwise the tail starts at START.
    const tail = this.#initTail ?? this.#log.beginInvocation();
    this.#initTail = undefined;
    this.#log.platform(formatStartLine(request.requestId, version.version));
    const started = clock.now();
    const startedPrecise = performance.now();

    let doc: FunctionErrorDocument | undefined;
    let payload: Buffer | undefined;
    let healthy = true;
    let status: 'timeout' | 'error' | undefined;
    if (this.#initFailure) {
      doc = this.#initFailureDocument(request.requestId, this.#initFailure);
      healthy = false;
      status = this.#initFailure.kind === 'timeout' ? 'timeout' : 'error';
    } else {
      const outcome = await this.#runInvocation(request, started + timeoutMs);
      if (outcome.kind === 'timeout') {
        this.#log.platform(formatTimeoutLine(request.requestId, timeoutMs, new Date(clock.now())));
        doc = timedOut(request.requestId, timeoutMs);
        healthy = false;
        status = 'timeout';
      } else if (outcome.kind === 'exit') {
        doc = runtimeExited(request.requestId, outcome.exit);
        healthy = false;
        status = 'error';
      } else if (outcome.kind === 'response') {
        payload = outcome.payload;
      } else if (outcome.kind === 'too-large') {
        doc = responseTooLarge(MAX_RESPONSE_BYTES);
      } else {
        doc = { errorType: outcome.errorType, payload: outcome.payload };
      }
    }
    const durationMs = performance.now() - startedPrecise;
    // The cgroup's peak is read while the output settles: both wait on I/O, neither needs the other.
    const maxMemoryUsedMb = this.#maxMemoryUsedMb(version.settings.memorySizeMb);
    await this.#log.settle();
    const initDurationMs = cold ? this.#initDurationMs : undefined;
    const memorySizeMb = version.settings.memorySizeMb;
    this.#log.platform(formatEndLine(request.requestId));
    this.#log.platform(
      formatReportLine({
        requestId: request.requestId,
        durationMs,
        billedDurationMs: billedDurationMs(durationMs, initDurationMs),
        memorySizeMb,
        maxMemoryUsedMb: await maxMemoryUsedMb,
        ...(initDurationMs === undefined ? {} : { initDurationMs }),
        ...(status === undefined ? {} : { status }),
        ...(status === 'error' && doc !== undefined ? { errorType: doc.errorType } : {}),
      }),
    );
    const logTail = request.wantTail ? tail.tail(TAIL_BYTES) : undefined;
    tail.end();
    this.#lastUsedMs = clock.now();
    const base = { executedVersion: version.version, ...(logTail === undefined ? {} : { logTail }) };
    const result: InvocationResult =
      doc === undefined ? { kind: 'success', payload: payload ?? Buffer.from('null'), ...base } : { kind: 'error', errorType: doc.errorType, payload: doc.payload, ...base };
    if (healthy) {
      this.#transition('ready');
      if (this.#deps.freezeWhenIdle && this.#api && this.#process) {
        this.#freezer.schedule(this.#process, this.#api.whenIdle(), () => this.#state === 'ready');
      }
    } else {
      // Lambda resets only the runtime and keeps /tmp; Kindling replaces the whole environment (README: deviations).
      void this.destroy();
    }
    return { result, cold, start };
  }

  /** Kills the sandbox, closes the Runtime API and the log stream. Idempotent. */
  destroy(): Promise<void> {
    this.#destroyed ??= (async () => {
      if (this.#state !== 'stopped') this.#state = 'stopping';
      const steps: Promise<unknown>[] = [];
      if (this.#process) steps.push(this.#process.destroy());
      if (this.#api) steps.push(this.#api.close());
      await Promise.allSettled(steps);
      await this.#log.close().catch(() => {});
      if (this.#socketDir) await rm(this.#socketDir, { recursive: true, force: true }).catch(() => {});
      this.#state = 'stopped';
    })();
    return this.#destroyed;
  }

  async #init(): Promise<void> {
    const { sandbox } = this.#deps;
    const version = this.target.version;
    const runtime = findRuntime(version.settings.runtime);
    if (!runtime) throw new EnvironmentError('ERR_ENV_SPAWN_FAILED', `runtime ${version.settings.runtime} has no row`);
    const command = this.#command(runtime);
    this.#initTail = this.#log.beginInvocation();
    this.#log.platform(formatInitStartLine(runtime.runtimeVersion, this.#deps.runtimeVersionArn(runtime.id)));
    const initStarted = performance.now();
    if (!command) {
      this.#initFailure = { kind: 'document', doc: invalidEntrypoint(CUSTOM_BOOTSTRAP_PATHS) };
      this.#state = 'failed';
      return;
    }
    if (sandbox.runtimeApiTransport === 'unix') {
      this.#socketDir = join(sandbox.socketRoot, this.id);
      await mkdir(this.#socketDir, { mode: 0o700 });
      this.#api = await createRuntimeApi({ listen: { socketPath: join(this.#socketDir, 'rapi.sock') }, maxResponseBytes: MAX_RESPONSE_BYTES });
    } else {
      this.#api = await createRuntimeApi({ listen: { port: 0 }, maxResponseBytes: MAX_RESPONSE_BYTES });
    }
    const env = buildEnvironmentVariables(version, runtime, {
      region: this.#deps.region,
      logStreamName: this.logStreamName,
      runtimeApi: sandbox.runtimeApiAddress(this.#api.address),
      initializationType: this.target.initializationType,
    });
    // Our own bootstraps speak HTTP straight over the Runtime API socket (no socat hop, no wait for it to listen);
    // socat still serves 127.0.0.1:9001 for anything else in the sandbox that uses AWS_LAMBDA_RUNTIME_API.
    const direct = sandbox.runtimeApiTransport === 'unix' && runtime.bootstrapDir !== undefined;
    if (direct) env._KINDLING_RUNTIME_API_SOCKET = runtimeApiSocketInside(this.#api.address);
    const argv = runtime.heapFlags ? [command[0]!, ...nodeHeapFlags(version.settings.memorySizeMb, env.NODE_OPTIONS), ...command.slice(1)] : command;
    const memoryMb = version.settings.memorySizeMb;
    this.#process = await sandbox.start({
      id: this.id,
      codeDir: this.target.codeDir,
      ...(this.target.optDir === undefined ? {} : { optDir: this.target.optDir }),
      ...(runtime.bootstrapDir === undefined ? {} : { runtimeDir: join(this.#deps.bootstrapRoot, runtime.bootstrapDir) }),
      command: [...argv],
      env,
      ...(sandbox.runtimeApiTransport === 'unix' ? { runtimeApiSocket: this.#api.address, runtimeApiBridge: direct ? 'background' : 'wait' } : {}),
      limits: { memoryMb, cpuQuota: memoryMb / 1769, pidsMax: 1024, tmpMb: version.settings.ephemeralStorageMb },
    });
    this.#log.attach(this.#process.stdout);
    this.#log.attach(this.#process.stderr);
    await this.#awaitInit(initStarted);
  }

  /**
   * A pre-warmed sandbox: binds the code (read-only, by mount propagation) and answers the bootstrap's binding
   * request with the function's environment; the bootstrap then loads the handler as a cold one would.
   */
  async #bindSpare(): Promise<void> {
    const version = this.target.version;
    const runtime = findRuntime(version.settings.runtime);
    const api = this.#api!;
    const process = this.#process!;
    if (!runtime || !process.bindCode) throw new EnvironmentError('ERR_ENV_SPAWN_FAILED', `cannot bind ${version.settings.runtime} into a pre-warmed sandbox`);
    const initStarted = performance.now();
    // A binding that fails (a mount refused) leaves nothing in the function's log: the caller starts it cold instead.
    await process.bindCode({ codeDir: this.target.codeDir, ...(this.target.optDir === undefined ? {} : { optDir: this.target.optDir }) });
    this.#initTail = this.#log.beginInvocation();
    this.#log.platform(formatInitStartLine(runtime.runtimeVersion, this.#deps.runtimeVersionArn(runtime.id)));
    const env = buildEnvironmentVariables(version, runtime, {
      region: this.#deps.region,
      logStreamName: this.logStreamName,
      runtimeApi: this.#deps.sandbox.runtimeApiAddress(api.address),
      initializationType: this.target.initializationType,
    });
    this.#log.attach(process.stdout);
    this.#log.attach(process.stderr);
    api.bind(Buffer.from(JSON.stringify({ env })));
    await this.#awaitInit(initStarted);
  }

  /** Waits for the runtime's first /next, its init error, its exit or the init timeout, and records the outcome. */
  async #awaitInit(initStarted: number): Promise<void> {
    const api = this.#api!;
    const process = this.#process!;
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      api.initialized,
      process.exited.then((exit) => ({ kind: 'exit' as const, exit })),
      new Promise<{ kind: 'timeout' }>((resolve) => {
        timer = setTimeout(() => resolve({ kind: 'timeout' }), this.#deps.initTimeoutMs);
      }),
    ]);
    clearTimeout(timer);
    this.#initDurationMs = performance.now() - initStarted;
    if (outcome.kind === 'ready') {
      this.#initTail?.end();
      this.#initTail = undefined;
      // Not awaited: a cgroup v1 quota write takes about a millisecond, on every cold start's path; the quota applies
      // within that millisecond of the first invocation either way.
      void process.setCpuThrottled(true).catch((error: unknown) => this.#deps.log.warn({ err: error, environment: this.id }, 'cannot apply the CPU quota'));
      this.#transition('ready');
      return;
    }
    await this.#log.settle();
    if (outcome.kind === 'init-error') {
      this.#log.platform(formatInitReportLine({ initDurationMs: this.#initDurationMs, phase: 'init', status: 'error', errorType: outcome.errorType }));
      this.#initFailure = { kind: 'document', doc: { errorType: outcome.errorType, payload: outcome.payload } };
    } else if (outcome.kind === 'timeout') {
      this.#log.platform(formatInitReportLine({ initDurationMs: this.#initDurationMs, phase: 'init', status: 'timeout' }));
      this.#initFailure = { kind: 'timeout' };
    } else {
      this.#log.platform(formatInitReportLine({ initDurationMs: this.#initDurationMs, phase: 'init', status: 'error', errorType: 'Runtime.ExitError' }));
      this.#initFailure = { kind: 'exit', exit: outcome.exit };
    }
    this.#transition('failed');
  }

  /** argv inside the sandbox, or undefined when a custom runtime has no bootstrap. */
  #command(runtime: RuntimeRow): readonly string[] | undefined {
    if (runtime.command) return runtime.command;
    if (existsSync(join(this.target.codeDir, 'bootstrap'))) return ['/var/task/bootstrap'];
    if (this.target.optDir !== undefined && existsSync(join(this.target.optDir, 'bootstrap'))) return ['/opt/bootstrap'];
    return undefined;
  }

  async #runInvocation(
    request: InvokeRequest,
    deadlineMs: number,
  ): Promise<InvocationOutcome | { kind: 'timeout' } | { kind: 'exit'; exit: SandboxExit }> {
    const api = this.#api!;
    const process = this.#process!;
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      api.invoke({
        requestId: request.requestId,
        deadlineMs,
        invokedFunctionArn: request.invokedFunctionArn,
        payload: request.payload,
        ...(request.clientContext === undefined ? {} : { clientContext: request.clientContext }),
      }),
      process.exited.then((exit) => ({ kind: 'exit' as const, exit })),
      new Promise<{ kind: 'timeout' }>((resolve) => {
        timer = setTimeout(() => resolve({ kind: 'timeout' }), Math.max(0, deadlineMs - this.#deps.clock.now()));
      }),
    ]);
    clearTimeout(timer);
    if (outcome.kind === 'timeout' || outcome.kind === 'exit') api.abandon();
    return outcome;
  }

  #initFailureDocument(requestId: string, failure: InitFailure): FunctionErrorDocument {
    if (failure.kind === 'document') return failure.doc;
    if (failure.kind === 'timeout') return initTimedOut(requestId, this.#deps.initTimeoutMs);
    return runtimeExited(requestId, failure.exit);
  }

  async #maxMemoryUsedMb(memorySizeMb: number): Promise<number> {
    const bytes = await this.#process?.maxMemoryUsedBytes().catch(() => 0);
    const mb = Math.ceil((bytes ?? 0) / (1024 * 1024));
    return Math.min(memorySizeMb, Math.max(1, mb));
  }

  #transition(next: EnvironmentState): void {
    if (!TRANSITIONS[this.#state].includes(next)) {
      throw new EnvironmentError('ERR_ENV_INVALID_STATE', `environment ${this.id} is ${this.#state}, cannot become ${next}`);
    }
    this.#state = next;
  }
}
