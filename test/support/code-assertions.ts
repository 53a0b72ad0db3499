/** Assertions shared by the code-extraction tests. */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { CodeError, type CodeErrorCode } from '../../src/code/errors.js';

export async function assertCodeError(promise: Promise<unknown>, code: CodeErrorCode): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof CodeError, `expected a CodeError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return true;
  });
}

export async function exists(target: string): Promise<boolean> {
  return fs.lstat(target).then(
    () => true,
    () => false,
  );
}

/** The permission bits (tests run as root, which ignores them, so modes are asserted instead of EACCES). */
export const permissions = async (target: string) => (await fs.lstat(target)).mode & 0o7777;
