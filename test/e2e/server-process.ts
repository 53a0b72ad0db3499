/**
 * Kindling as a real child process, for the end-to-end suites: reads the lines `kindling server` prints for a
 * person (credentials, then `Kindling listening on …`) from its stdout. The child leads its own process group,
 * so cleanup also reaches what it started (npm → sh → node) even when the leader is already gone.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** `kindling server` without npm: what `npm start` ends up running. */
export const KINDLING_SERVER = ['node', ['--import', 'tsx', 'bin/kindling.ts', 'server']] as const;

/** A cold start compiles TypeScript through tsx on a busy machine; a minute means it is stuck. */
const READY_TIMEOUT_MS = 60_000;

export interface Printed {
  url: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServerProcess {
  child: ChildProcess;
  /** Resolves with what the ready lines say; rejects if the process exits first or takes over a minute. */
  ready: Promise<Printed>;
  /** Resolves when the spawned process itself has exited. */
  exited: Promise<Exit>;
  /** Resolves when, in addition, every holder of its stdout/stderr is gone (what it started, too). */
  closed: Promise<Exit>;
  stdout(): string;
  stderr(): string;
}

/**
 * Spawns command in the repo root with env added to this process's environment (minus any KINDLING_* of ours).
 * The whole process group is SIGKILLed after the test, whatever happened.
 */
export function spawnServer(t: TestContext, command: string, args: readonly string[], env: Record<string, string>): ServerProcess {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('KINDLING_')));
  const child = spawn(command, args, { cwd: REPO_ROOT, env: { ...inherited, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  let err = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const exited = new Promise<Exit>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const closed = new Promise<Exit>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  t.after(async () => {
    killGroup(child, 'SIGKILL');
    await closed;
  });

  const ready = new Promise<Printed>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ready line within ${READY_TIMEOUT_MS} ms; stdout:\n${out}\nstderr:\n${err}`)), READY_TIMEOUT_MS);
    const clear = () => clearTimeout(timer);
    let credentials: Omit<Printed, 'url'> | undefined;
    assert.ok(child.stdout);
    createInterface({ input: child.stdout }).on('line', (line) => {
      out += `${line}\n`;
      const exported = /^\s*export AWS_ACCESS_KEY_ID=(\S+) AWS_SECRET_ACCESS_KEY=(\S+) AWS_DEFAULT_REGION=(\S+)$/.exec(line);
      if (exported) credentials = { accessKeyId: exported[1]!, secretAccessKey: exported[2]!, region: exported[3]! };
      const listening = /^Kindling listening on (http:\/\/\S+)$/.exec(line);
      if (listening) {
        clear();
        if (credentials) resolve({ url: listening[1]!, ...credentials });
        else reject(new Error(`ready before any credentials line; stdout:\n${out}`));
      }
    });
    child.on('exit', (code, signal) => {
      clear();
      reject(new Error(`exited (${code ?? signal}) before it was ready; stdout:\n${out}\nstderr:\n${err}`));
    });
    child.on('error', (error) => {
      clear();
      reject(error);
    });
  });
  // Callers that never await ready (a process expected to fail) must not see an unhandled rejection.
  ready.catch(() => undefined);
  return { child, ready, exited, closed, stdout: () => out, stderr: () => err };
}

/** Signals the child's whole process group; a group already gone is fine. */
export function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}
