/**
 * The error documents Lambda returns for failures the platform detects itself (LAMBDA_REFERENCE §1.5, §3.1):
 * what the Invoke caller receives as the payload, with X-Amz-Function-Error: Unhandled.
 */
export interface FunctionErrorDocument {
  errorType: string;
  payload: Buffer;
}

function doc(errorType: string, errorMessage: string): FunctionErrorDocument {
  return { errorType, payload: Buffer.from(JSON.stringify({ errorType, errorMessage })) };
}

/** "Task timed out after 3.00 seconds": seconds with two decimals. */
export function formatSeconds(ms: number): string {
  return (ms / 1000).toFixed(2);
}

export function timedOut(requestId: string, timeoutMs: number): FunctionErrorDocument {
  return doc('Sandbox.Timedout', `RequestId: ${requestId} Error: Task timed out after ${formatSeconds(timeoutMs)} seconds`);
}

export function runtimeExited(requestId: string, exit: { code: number | null; signal: string | null; oomKilled: boolean }): FunctionErrorDocument {
  if (exit.oomKilled) return doc('Runtime.OutOfMemory', `RequestId: ${requestId} Error: Runtime exited with error: signal: killed`);
  if (exit.signal !== null) return doc('Runtime.ExitError', `RequestId: ${requestId} Error: Runtime exited with error: signal: ${signalName(exit.signal)}`);
  if (exit.code !== null && exit.code !== 0) return doc('Runtime.ExitError', `RequestId: ${requestId} Error: Runtime exited with error: exit status ${exit.code}`);
  return doc('Runtime.ExitError', `RequestId: ${requestId} Error: Runtime exited without providing a reason`);
}

export function responseTooLarge(maxBytes: number): FunctionErrorDocument {
  return {
    errorType: 'Function.ResponseSizeTooLarge',
    payload: Buffer.from(
      JSON.stringify({ errorMessage: `Response payload size exceeded maximum allowed payload size (${maxBytes} bytes).`, errorType: 'Function.ResponseSizeTooLarge' }),
    ),
  };
}

export function invalidEntrypoint(paths: readonly string[]): FunctionErrorDocument {
  return doc('Runtime.InvalidEntrypoint', `Couldn't find valid bootstrap(s): [${paths.join(' ')}]`);
}

export function initTimedOut(requestId: string, initTimeoutMs: number): FunctionErrorDocument {
  return doc('Sandbox.Timedout', `RequestId: ${requestId} Error: Init timed out after ${formatSeconds(initTimeoutMs)} seconds`);
}

/** Go's spelling, which Lambda's messages use ("signal: killed"). */
function signalName(signal: string): string {
  const names: Record<string, string> = { SIGKILL: 'killed', SIGSEGV: 'segmentation fault', SIGABRT: 'aborted', SIGTERM: 'terminated', SIGINT: 'interrupt', SIGBUS: 'bus error', SIGFPE: 'floating point exception', SIGILL: 'illegal instruction' };
  return names[signal] ?? signal;
}
