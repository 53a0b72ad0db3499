/**
 * The platform lines Lambda writes into a function's log stream, in its Text format (LAMBDA_REFERENCE.md §5.1):
 * fields separated by TAB, durations in ms with two decimals, billed duration an integer, memory in whole MB.
 * Pure functions; the caller measures and decides.
 */

/** Milliseconds with two decimals, as every Duration field prints. */
function formatMs(ms: number): string {
  return `${ms.toFixed(2)} ms`;
}

/**
 * Billed Duration: ceil(Duration), plus Init Duration on a cold start (Lambda bills INIT since Aug 2025:
 * `Duration: 900000.00 ms … Billed Duration: 900545 ms … Init Duration: 544.9x ms`).
 */
export function billedDurationMs(durationMs: number, initDurationMs?: number): number {
  const total = durationMs + (initDurationMs ?? 0);
  // Rounded to the nanosecond first: a sum such as 3.1 + 0.9 must bill 4, not ceil(4.000000000000001) = 5.
  return Math.ceil(Math.round(total * 1e6) / 1e6);
}

/** `START RequestId: <id> Version: <v>` — single spaces; Version is the executed version ($LATEST or a number). */
export function formatStartLine(requestId: string, version: string): string {
  return `START RequestId: ${requestId} Version: ${version}`;
}

export function formatEndLine(requestId: string): string {
  return `END RequestId: ${requestId}`;
}

export interface ReportFields {
  requestId: string;
  durationMs: number;
  billedDurationMs: number;
  memorySizeMb: number;
  /** Whole MB; a fraction rounds up (a peak into the next MB used it). */
  maxMemoryUsedMb: number;
  /** Only on the first invocation of an environment (cold start). */
  initDurationMs?: number;
  status?: 'timeout' | 'error';
  /** With status 'error': e.g. Runtime.ExitError, Runtime.OutOfMemory. */
  errorType?: string;
}

/**
 * `REPORT RequestId: <id>\tDuration: 3.01 ms\tBilled Duration: 4 ms\tMemory Size: 128 MB\tMax Memory Used: 36 MB\t`,
 * with `Init Duration: 110.10 ms\t` after Max Memory Used on a cold start. Every field ends with a TAB, so the
 * line does too — except that a status comes last without one, as captured lines show:
 * `…\tMax Memory Used: 1035 MB\tInit Duration: 476.75 ms\tStatus: timeout` and
 * `…\tMax Memory Used: 39 MB\tStatus: error\tError Type: Runtime.ImportModuleError`.
 */
export function formatReportLine(f: ReportFields): string {
  let line =
    `REPORT RequestId: ${f.requestId}\t` +
    `Duration: ${formatMs(f.durationMs)}\t` +
    `Billed Duration: ${Math.trunc(f.billedDurationMs)} ms\t` +
    `Memory Size: ${Math.trunc(f.memorySizeMb)} MB\t` +
    `Max Memory Used: ${Math.ceil(f.maxMemoryUsedMb)} MB\t`;
  if (f.initDurationMs !== undefined) line += `Init Duration: ${formatMs(f.initDurationMs)}\t`;
  if (f.status === undefined) return line;
  line += `Status: ${f.status}`;
  if (f.status === 'error' && f.errorType !== undefined) line += `\tError Type: ${f.errorType}`;
  return line;
}

/** `INIT_START Runtime Version: python:3.10.v11\tRuntime Version ARN: arn:aws:lambda:us-east-1::runtime:<64 hex>` */
export function formatInitStartLine(runtimeVersion: string, runtimeVersionArn: string): string {
  return `INIT_START Runtime Version: ${runtimeVersion}\tRuntime Version ARN: ${runtimeVersionArn}`;
}

/**
 * `INIT_REPORT Init Duration: 229.04 ms\tPhase: init\tStatus: error\tError Type: Runtime.ImportModuleError`;
 * an init timeout has no Error Type; phase 'invoke' is the init retried inside the first invoke.
 */
export function formatInitReportLine(f: {
  initDurationMs: number;
  phase: 'init' | 'invoke';
  status: 'error' | 'timeout';
  errorType?: string;
}): string {
  const line = `INIT_REPORT Init Duration: ${formatMs(f.initDurationMs)}\tPhase: ${f.phase}\tStatus: ${f.status}`;
  return f.errorType === undefined ? line : `${line}\tError Type: ${f.errorType}`;
}

/** `<ISO timestamp> <requestId> Task timed out after 5.01 seconds` — the elapsed time in seconds, two decimals. */
export function formatTimeoutLine(requestId: string, timeoutMs: number, now: Date): string {
  return `${now.toISOString()} ${requestId} Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`;
}
