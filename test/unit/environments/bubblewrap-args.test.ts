import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AWAIT_BRIDGE_VARIABLE, bubblewrapArgs, type BubblewrapArgsInput } from '../../../src/environments/isolation/bubblewrap-args.js';

const input: BubblewrapArgsInput = {
  hostname: 'sandbox',
  hostRoot: [],
  etcDir: '/host/etc',
  codeDir: '/host/code',
  runtimeApiSocket: '/host/sockets/e1/rapi.sock',
  tmpBytes: 1024,
  programsInside: { socat: '/usr/bin/socat' },
  env: { AWS_LAMBDA_RUNTIME_API: '127.0.0.1:9001' },
  command: ['/usr/bin/node', '/var/runtime/index.mjs'],
};

/** The variables bwrap sets, in order. */
function setenvs(args: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  args.forEach((arg, i) => {
    if (arg === '--setenv') env[args[i + 1]!] = args[i + 2]!;
  });
  return env;
}

test('a command started beside the bridge is told to wait for it; one started after the bridge, or without one, is not', () => {
  assert.equal(setenvs(bubblewrapArgs({ ...input, runtimeApiBridge: 'background' }))[AWAIT_BRIDGE_VARIABLE], '1');
  assert.equal(setenvs(bubblewrapArgs({ ...input, runtimeApiBridge: 'wait' }))[AWAIT_BRIDGE_VARIABLE], undefined);
  assert.equal(setenvs(bubblewrapArgs(input))[AWAIT_BRIDGE_VARIABLE], undefined);
  const { runtimeApiSocket: _none, ...withoutSocket } = input;
  assert.equal(setenvs(bubblewrapArgs({ ...withoutSocket, runtimeApiBridge: 'background' }))[AWAIT_BRIDGE_VARIABLE], undefined);
});
