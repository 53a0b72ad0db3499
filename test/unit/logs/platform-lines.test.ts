import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  billedDurationMs,
  formatEndLine,
  formatInitReportLine,
  formatInitStartLine,
  formatReportLine,
  formatStartLine,
  formatTimeoutLine,
} from '../../../src/logs/platform-lines.js';

const ID = 'c793869b-ee49-115b-a5b6-4fd21e8dedac';

describe('billedDurationMs', () => {
  test('rounds a warm duration up to the next whole millisecond', () => {
    assert.equal(billedDurationMs(3.011), 4);
    assert.equal(billedDurationMs(3), 3);
    assert.equal(billedDurationMs(0.2), 1);
  });

  test('bills the init duration with the first invocation, rounded up once over the sum', () => {
    assert.equal(billedDurationMs(3.011, 110.104), 114);
    assert.equal(billedDurationMs(900000, 544.95), 900545);
  });

  test('does not bill an extra millisecond for floating-point noise in a whole sum', () => {
    const seven = (7 / 25) * 25; // 7.000000000000001 in binary floating point
    assert.ok(seven > 7);
    assert.equal(billedDurationMs(seven), 7);
    assert.equal(billedDurationMs(seven, 1), 8);
  });
});

describe('START and END lines', () => {
  test('prints the executed version after single spaces', () => {
    assert.equal(formatStartLine(ID, '$LATEST'), `START RequestId: ${ID} Version: $LATEST`);
    assert.equal(formatStartLine(ID, '3'), `START RequestId: ${ID} Version: 3`);
  });

  test('ends with the request id and nothing else', () => {
    assert.equal(formatEndLine(ID), `END RequestId: ${ID}`);
  });
});

describe('REPORT line', () => {
  const warm = { requestId: ID, durationMs: 3.011, billedDurationMs: 4, memorySizeMb: 128, maxMemoryUsedMb: 36 };

  test('separates warm fields by tabs with two decimals and a trailing tab', () => {
    assert.equal(
      formatReportLine(warm),
      `REPORT RequestId: ${ID}\tDuration: 3.01 ms\tBilled Duration: 4 ms\tMemory Size: 128 MB\tMax Memory Used: 36 MB\t`,
    );
  });

  test('appends the init duration after max memory used on a cold start, still ending in a tab', () => {
    const line = formatReportLine({ ...warm, billedDurationMs: billedDurationMs(3.011, 110.104), initDurationMs: 110.104 });
    assert.equal(
      line,
      `REPORT RequestId: ${ID}\tDuration: 3.01 ms\tBilled Duration: 114 ms\tMemory Size: 128 MB\t` +
        'Max Memory Used: 36 MB\tInit Duration: 110.10 ms\t',
    );
  });

  test('puts a timeout status last without a trailing tab', () => {
    const line = formatReportLine({ ...warm, durationMs: 3000, billedDurationMs: 3000, maxMemoryUsedMb: 64, status: 'timeout' });
    assert.equal(
      line,
      `REPORT RequestId: ${ID}\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\tMemory Size: 128 MB\t` +
        'Max Memory Used: 64 MB\tStatus: timeout',
    );
  });

  test('puts the timeout status after the init duration on a cold start', () => {
    const line = formatReportLine({
      requestId: ID,
      durationMs: 600000,
      billedDurationMs: billedDurationMs(600000, 476.75),
      memorySizeMb: 1536,
      maxMemoryUsedMb: 1035,
      initDurationMs: 476.75,
      status: 'timeout',
    });
    assert.equal(
      line,
      `REPORT RequestId: ${ID}\tDuration: 600000.00 ms\tBilled Duration: 600477 ms\tMemory Size: 1536 MB\t` +
        'Max Memory Used: 1035 MB\tInit Duration: 476.75 ms\tStatus: timeout',
    );
  });

  test('follows an error status with its error type', () => {
    const line = formatReportLine({ ...warm, status: 'error', errorType: 'Runtime.ExitError' });
    assert.equal(
      line,
      `REPORT RequestId: ${ID}\tDuration: 3.01 ms\tBilled Duration: 4 ms\tMemory Size: 128 MB\t` +
        'Max Memory Used: 36 MB\tStatus: error\tError Type: Runtime.ExitError',
    );
  });

  test('prints memory in whole megabytes, a fraction of used memory counting as a megabyte', () => {
    assert.match(formatReportLine({ ...warm, maxMemoryUsedMb: 35.2 }), /\tMax Memory Used: 36 MB\t$/);
  });
});

describe('INIT lines', () => {
  test('separates the runtime version from its ARN by a tab', () => {
    const arn = `arn:aws:lambda:us-east-1::runtime:${'a'.repeat(64)}`;
    assert.equal(
      formatInitStartLine('python:3.11.v20', arn),
      `INIT_START Runtime Version: python:3.11.v20\tRuntime Version ARN: ${arn}`,
    );
  });

  test('reports an init error with its error type', () => {
    assert.equal(
      formatInitReportLine({ initDurationMs: 229.041, phase: 'init', status: 'error', errorType: 'Runtime.ImportModuleError' }),
      'INIT_REPORT Init Duration: 229.04 ms\tPhase: init\tStatus: error\tError Type: Runtime.ImportModuleError',
    );
  });

  test('reports an init timeout without an error type', () => {
    assert.equal(
      formatInitReportLine({ initDurationMs: 10000.09, phase: 'init', status: 'timeout' }),
      'INIT_REPORT Init Duration: 10000.09 ms\tPhase: init\tStatus: timeout',
    );
  });

  test('reports an init retried inside the first invoke as phase invoke', () => {
    assert.equal(
      formatInitReportLine({ initDurationMs: 83.58, phase: 'invoke', status: 'error', errorType: 'Runtime.ImportModuleError' }),
      'INIT_REPORT Init Duration: 83.58 ms\tPhase: invoke\tStatus: error\tError Type: Runtime.ImportModuleError',
    );
  });
});

describe('timeout line', () => {
  test('starts with the ISO time and gives the elapsed seconds with two decimals', () => {
    const now = new Date(Date.UTC(2019, 5, 7, 19, 11, 20, 562));
    assert.equal(
      formatTimeoutLine(ID, 5010, now),
      `2019-06-07T19:11:20.562Z ${ID} Task timed out after 5.01 seconds`,
    );
    assert.match(formatTimeoutLine(ID, 3000, now), / Task timed out after 3\.00 seconds$/);
  });
});
