/** An invocation's outcome. What the user's code did wrong is a value here, not an exception (house rule 3). */
export type InvocationResult =
  | { kind: 'success'; payload: Buffer; executedVersion: string; logTail?: string }
  | { kind: 'error'; errorType: string; payload: Buffer; executedVersion: string; logTail?: string };
