import fs from 'node:fs/promises';
import path from 'node:path';
import { ENVIRONMENT_ID_PATTERN, SandboxError, type SandboxSpec } from '../sandbox.js';

/** Refuses specs no backend can run: ids that would name bad paths, env entries execve cannot carry, odd limits. */
export function validateSpec(spec: SandboxSpec): void {
  const invalid = (message: string): never => {
    throw new SandboxError('ERR_SANDBOX_INVALID_SPEC', message);
  };
  if (!ENVIRONMENT_ID_PATTERN.test(spec.id)) invalid(`environment id '${spec.id}' does not match ${ENVIRONMENT_ID_PATTERN}`);
  if (spec.command.length === 0 || spec.command[0] === '') invalid('the command is empty');
  if (spec.command.some((arg) => arg.includes('\0'))) invalid('a command argument contains NUL');
  for (const [key, value] of Object.entries(spec.env)) {
    if (key === '' || key.includes('=') || key.includes('\0') || value.includes('\0')) {
      invalid(`environment variable '${key}' cannot be passed to a process`);
    }
  }
  if (spec.codeDir === undefined && spec.optDir !== undefined) invalid('optDir without codeDir (late binding binds both)');
  for (const dir of [spec.codeDir, spec.optDir, spec.runtimeDir]) {
    if (dir !== undefined && !path.isAbsolute(dir)) invalid(`'${dir}' is not an absolute path`);
  }
  if (spec.runtimeApiBridge !== undefined && spec.runtimeApiBridge !== 'wait' && spec.runtimeApiBridge !== 'background') {
    invalid(`runtimeApiBridge must be 'wait' or 'background', not '${String(spec.runtimeApiBridge)}'`);
  }
  const { memoryMb, cpuQuota, pidsMax, tmpMb } = spec.limits;
  const positiveInteger = (n: number): boolean => Number.isInteger(n) && n > 0;
  if (!positiveInteger(memoryMb) || !positiveInteger(pidsMax) || !positiveInteger(tmpMb) || !(cpuQuota > 0)) {
    invalid(`invalid limits ${JSON.stringify(spec.limits)}`);
  }
}

/**
 * A directory bound into the sandbox must be reachable by the environment's unprivileged uid: bwrap runs as that uid,
 * so every ancestor needs the search bit for others (a mkdtemp'd 0700 data directory is the usual culprit).
 */
export async function assertAccessibleDir(dir: string): Promise<void> {
  let real: string;
  try {
    real = await fs.realpath(dir);
    if (!(await fs.stat(real)).isDirectory()) throw new Error('not a directory');
  } catch (error) {
    throw new SandboxError('ERR_SANDBOX_PATH_INACCESSIBLE', `${dir} is not a directory`, { cause: error });
  }
  for (let current = real; ; current = path.dirname(current)) {
    const { mode } = await fs.stat(current);
    if ((mode & 0o001) === 0) {
      throw new SandboxError(
        'ERR_SANDBOX_PATH_INACCESSIBLE',
        `${dir} cannot be bound into the sandbox: ${current} (mode ${(mode & 0o777).toString(8)}) is not searchable by other users, and sandboxes run as unprivileged uids`,
      );
    }
    if (current === path.dirname(current)) return;
  }
}
