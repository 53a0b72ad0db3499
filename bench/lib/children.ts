/**
 * The processes under test, each started with a cleared environment (PATH plus what it needs): a variable set on
 * these hosts slows every `node` start (see host-probe.ts), and the baseline must not pay for it either.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLEAN_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: CLEAN_PATH, ...extra };
}

export interface Child {
  url: string;
  pid: number;
  stop(): Promise<void>;
  /** What it printed on stderr (Kindling's warn-level log), for the report when something fails. */
  stderr(): string;
}

export interface KindlingOptions {
  freezeIdle: boolean;
  /** Distinct per concurrently running server, so their sandboxes never share a host uid. */
  uidRange: string;
  extraEnv?: Record<string, string>;
  /** Extra node flags before `--import tsx` (e.g. --cpu-prof). */
  nodeArgs?: string[];
}

/** `node --import tsx bin/kindling.ts server` with KINDLING_AUTH=none on 127.0.0.1:0 and a temp data dir. */
export async function startKindling(options: KindlingOptions): Promise<Child & { dataDir: string }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'kindling-bench-'));
  const env = cleanEnv({
    KINDLING_AUTH: 'none',
    KINDLING_PORT: '0',
    KINDLING_DATA_DIR: dataDir,
    KINDLING_LOG_LEVEL: 'warn',
    KINDLING_FREEZE_IDLE: String(options.freezeIdle),
    KINDLING_UID_RANGE: options.uidRange,
    ...options.extraEnv,
  });
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), '--import', 'tsx', 'bin/kindling.ts', 'server'], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const started = await waitForLine(child, /Kindling listening on (http:\/\/\S+)/, 60_000);
  return {
    ...started,
    dataDir,
    async stop() {
      await started.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** bench/ceiling-server.mjs: node:http calling the same handler in-process. */
export async function startCeiling(): Promise<Child> {
  const script = join(REPO_ROOT, 'bench', 'ceiling-server.mjs');
  const child = spawn(process.execPath, [script], { cwd: REPO_ROOT, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  const started = await waitForLine(child, /^listening (\d+)$/m, 20_000);
  return { ...started, url: `http://127.0.0.1:${started.url}` };
}

function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<Child> {
  let out = '';
  let err = '';
  child.stderr?.on('data', (c: Buffer) => {
    err = (err + c.toString('utf8')).slice(-20_000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`no '${pattern.source}' within ${timeoutMs} ms; stderr:\n${err}`));
    }, timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`exited (${code ?? signal}) before '${pattern.source}'; stdout:\n${out}\nstderr:\n${err}`));
    });
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString('utf8');
      const m = pattern.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1]!, pid: child.pid!, stop, stderr: () => err });
      }
    });
  });
}

/** Spawns, waits for a zero exit, returns the wall ms and stdout (as Kindling spawns: async, piped). */
export function runTimed(command: string, args: string[], env: Record<string, string>): Promise<{ ms: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.once('error', reject);
    child.once('close', (code) => {
      if (code !== 0) reject(new Error(`${command} ${args.slice(0, 3).join(' ')}… exited ${code}: ${stderr.slice(0, 500)}`));
      else resolve({ ms: performance.now() - t0, stdout });
    });
  });
}
