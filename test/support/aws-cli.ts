/**
 * The real `aws` CLI for end-to-end tests. It runs with a fresh, empty HOME and config files and with no AWS_*
 * variable of this machine, so nothing but the credentials and endpoint a test gives it can reach the server.
 * Absent CLI: suites skip with a reason, except under CI=true, where absence is a failure.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

export interface AwsCliCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
}

export interface AwsCliOptions extends AwsCliCredentials {
  /** When given, every call gets `--endpoint-url <url> --output json`; otherwise arguments pass verbatim. */
  endpointUrl?: string;
}

export interface AwsCliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface AwsCli {
  /** The CLI's working directory (its empty HOME): relative fileb:// paths resolve here. */
  readonly workDir: string;
  /** Runs `aws <args>`; resolves whatever the exit code (a timeout or a signal is a rejection). */
  run(args: readonly string[]): Promise<AwsCliResult>;
  /** Runs `aws <args>`, asserts exit code 0 and parses stdout as JSON. */
  json<T = Record<string, unknown>>(args: readonly string[]): Promise<T>;
  /** Runs `aws <args>`, asserts exit code 0 and empty stdout (commands that answer nothing). */
  quiet(args: readonly string[]): Promise<void>;
  /** Removes the temp HOME. */
  dispose(): Promise<void>;
}

/** CLI v1 starts in about a second; a call that has not finished in a minute is hung, not slow. */
const CALL_TIMEOUT_MS = 60_000;

let located: Promise<string | undefined> | undefined;

/** The `aws` executable on PATH, or undefined. */
export function locateAwsCli(): Promise<string | undefined> {
  located ??= findOnPath('aws').then((path) => (path === undefined ? undefined : unwrapPyenvShim(path)));
  return located;
}

/** The reason to skip an aws-CLI suite, or undefined to run it (always undefined under CI=true: it must run). */
export async function awsCliSkipReason(): Promise<string | undefined> {
  if ((await locateAwsCli()) !== undefined || process.env.CI === 'true') return undefined;
  return 'the aws CLI is not on PATH (install AWS CLI v1 or v2 to run this suite; under CI=true its absence fails it)';
}

export async function createAwsCli(options: AwsCliOptions): Promise<AwsCli> {
  const executable = await locateAwsCli();
  assert.ok(executable, 'the aws CLI is not on PATH, and CI=true does not allow skipping the suites that need it');
  const home = await mkdtemp(join(tmpdir(), 'kindling-aws-home-'));
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('AWS_')) env[key] = value;
  Object.assign(env, {
    HOME: home,
    AWS_CONFIG_FILE: join(home, 'config'),
    AWS_SHARED_CREDENTIALS_FILE: join(home, 'credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_ACCESS_KEY_ID: options.accessKeyId,
    AWS_SECRET_ACCESS_KEY: options.secretAccessKey,
    AWS_DEFAULT_REGION: options.region,
  });
  const suffix = options.endpointUrl === undefined ? [] : ['--endpoint-url', options.endpointUrl, '--output', 'json'];

  const run = (args: readonly string[]): Promise<AwsCliResult> =>
    new Promise((resolve, reject) => {
      execFile(executable, [...args, ...suffix], { env, cwd: home, timeout: CALL_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
        if (error === null) return resolve({ exitCode: 0, stdout, stderr });
        if (typeof error.code === 'number' && error.signal == null && !error.killed) {
          return resolve({ exitCode: error.code, stdout, stderr });
        }
        reject(new Error(`aws ${args.join(' ')} did not finish (${error.killed ? 'timed out' : String(error.signal ?? error.code)}): ${stderr}`));
      });
    });
  const succeed = async (args: readonly string[]): Promise<string> => {
    const result = await run(args);
    assert.equal(result.exitCode, 0, `aws ${args.join(' ')} exited ${result.exitCode}: ${result.stderr}`);
    return result.stdout;
  };
  return {
    workDir: home,
    run,
    async json<T>(args: readonly string[]) {
      const stdout = await succeed(args);
      assert.notEqual(stdout.trim(), '', `aws ${args.join(' ')} printed nothing`);
      return JSON.parse(stdout) as T;
    },
    async quiet(args: readonly string[]) {
      assert.equal((await succeed(args)).trim(), '', `aws ${args.join(' ')} printed output`);
    },
    dispose: () => rm(home, { recursive: true, force: true }),
  };
}

async function findOnPath(command: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, command);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/**
 * A pyenv shim re-resolves the Python version on every call (about half a second each); the program it ends up
 * running is the same, so the suites call that program directly. Anything unexpected keeps the shim.
 */
async function unwrapPyenvShim(path: string): Promise<string> {
  const script = await readFile(path, 'utf8').catch(() => '');
  const pyenv = /exec "([^"]*\/libexec\/pyenv)" exec/.exec(script)?.[1];
  const root = /export PYENV_ROOT="([^"]+)"/.exec(script)?.[1];
  if (pyenv === undefined || root === undefined) return path;
  return new Promise((resolve) => {
    execFile(pyenv, ['which', 'aws'], { env: { ...process.env, PYENV_ROOT: root }, timeout: 10_000 }, (error, stdout) => {
      const real = stdout.trim();
      resolve(error === null && real.startsWith('/') ? real : path);
    });
  });
}
