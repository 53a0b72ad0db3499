/** A complete, valid FunctionVersion for tests that need one but care about only a few settings. */
import type { FunctionVersion } from '../../src/model/function.js';

export function aFunctionVersion(
  settings: Partial<FunctionVersion['settings']> = {},
  fields: Partial<Omit<FunctionVersion, 'settings'>> = {},
): FunctionVersion {
  return {
    accountId: '000000000000',
    functionName: 'fn',
    version: '$LATEST',
    settings: {
      runtime: 'nodejs20.x', handler: 'index.handler', role: 'r', description: '', timeoutSeconds: 3, memorySizeMb: 256,
      layers: [], architectures: ['x86_64'], ephemeralStorageMb: 512, tracingMode: 'PassThrough',
      loggingConfig: { logFormat: 'Text', logGroup: '/aws/lambda/fn' }, snapStartApplyOn: 'None', ...settings,
    },
    code: { sha256Hex: 'a'.repeat(64), sizeBytes: 1, unzippedBytes: 1 },
    revisionId: 'r', lastModifiedMs: 0, state: 'Active',
    ...fields,
  };
}
