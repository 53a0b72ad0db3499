import assert from 'node:assert/strict';
import { test } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import { DEFAULT_MAX_RESPONSE_BYTES } from '../../../src/runtime-api/server.js';
import { event, json, makeRuntimeApi, RawConnection, RuntimeClient } from './runtime-client.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

function externalBytesAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().arrayBuffers;
}

const TOO_LARGE_BODY = {
  errorType: 'RequestEntityTooLarge',
  errorMessage: 'Exceeded maximum allowed payload size (6291556 bytes).',
};

test('the default limit is 6 MiB + 100 bytes', () => {
  assert.equal(DEFAULT_MAX_RESPONSE_BYTES, 6_291_556);
});

test('a response of exactly 6291556 bytes is accepted whole', async (t) => {
  const { api } = await makeRuntimeApi(t);
  const runtime = new RuntimeClient(t, api);
  const outcome = api.invoke(event('big'));
  await runtime.next();
  const body = Buffer.alloc(6_291_556);
  for (let i = 0; i < body.length; i += 4096) body.writeUInt32BE(i, i);
  assert.equal((await runtime.respond('big', body)).status, 202);
  const result = await outcome;
  assert.equal(result.kind, 'response');
  assert.ok(result.kind === 'response' && result.payload.equals(body));
});

const HEAD = (method: string, path: string, extra = '') =>
  `${method} /2018-06-01/runtime/${path} HTTP/1.1\r\nHost: 127.0.0.1:9001\r\n${extra}\r\n`;

// These two drive a raw connection: node:http's client stops writing a body once the response to it has ended,
// which libcurl (the official clients) does not.
test('a response of 6291557 bytes gets 413, resolves as too-large, and the connection stays usable', async (t) => {
  const { api } = await makeRuntimeApi(t);
  const conn = new RawConnection(t, api.address);
  const outcome = api.invoke(event('over'));
  conn.write(HEAD('GET', 'invocation/next'));
  assert.equal((await conn.readReply()).status, 200);
  const head = HEAD('POST', 'invocation/over/response', 'Content-Length: 6291557\r\n');
  const sending = conn.writeAll(Buffer.concat([Buffer.from(head), Buffer.alloc(6_291_557, 0x61)]));
  const refused = await conn.readReply();
  assert.equal(refused.status, 413);
  assert.deepEqual(JSON.parse(refused.body.toString()), TOO_LARGE_BODY);
  assert.deepEqual(await outcome, { kind: 'too-large' });
  await sending;

  conn.write(HEAD('GET', 'invocation/next'));
  await api.whenIdle();
  const next = api.invoke(event('after'));
  const delivered = await conn.readReply();
  assert.match(delivered.head, /\r\nLambda-Runtime-Aws-Request-Id: after\r\n/);
  conn.write(HEAD('POST', 'invocation/after/response', 'Content-Length: 1\r\n') + '1');
  assert.equal((await conn.readReply()).status, 202);
  assert.equal((await next).kind, 'response');
});

test('a chunked response over the limit is refused before it ends and its bytes are not kept', { timeout: 30_000 }, async (t) => {
  const { api } = await makeRuntimeApi(t);
  const conn = new RawConnection(t, api.address);
  const outcome = api.invoke(event('flood'));
  conn.write(HEAD('GET', 'invocation/next'));
  assert.equal((await conn.readReply()).status, 200);
  const baseline = externalBytesAfterGc();

  conn.write(HEAD('POST', 'invocation/flood/response', 'Transfer-Encoding: chunked\r\n'));
  const chunk = Buffer.alloc(64 * 1024, 0x62);
  const frame = Buffer.from(`${chunk.length.toString(16)}\r\n`);
  const sendChunks = async (count: number) => {
    for (let i = 0; i < count; i++) {
      conn.write(frame);
      conn.write(chunk);
      await conn.writeAll('\r\n');
    }
  };
  await sendChunks(128); // 8 MiB, and the body has not ended
  // A 413 now proves the server answered at the limit instead of reading to the end of the body.
  const refused = await conn.readReply();
  assert.equal(refused.status, 413);
  assert.deepEqual(JSON.parse(refused.body.toString()), TOO_LARGE_BODY);
  assert.deepEqual(await outcome, { kind: 'too-large' });
  const retained = externalBytesAfterGc() - baseline;
  assert.ok(retained < 2 * 1024 * 1024, `the server still holds ${retained} bytes of the refused body`);

  await sendChunks(64); // the rest is drained and discarded
  conn.write('0\r\n\r\n');
  conn.write(HEAD('GET', 'invocation/next'));
  await api.whenIdle();
  const next = api.invoke(event('after'));
  assert.match((await conn.readReply()).head, /\r\nLambda-Runtime-Aws-Request-Id: after\r\n/);
  conn.write(HEAD('POST', 'invocation/after/response', 'Content-Length: 2\r\n') + '42');
  assert.equal((await conn.readReply()).status, 202);
  assert.equal((await next).kind, 'response');
});

test('the limit is configurable and applies to error reports too', async (t) => {
  const { api } = await makeRuntimeApi(t, 'tcp', { maxResponseBytes: 100 });
  const runtime = new RuntimeClient(t, api);
  const first = api.invoke(event('e'));
  await runtime.next();
  const refused = await runtime.error('e', JSON.stringify({ errorType: 'Error', errorMessage: 'x'.repeat(100) }));
  assert.equal(refused.status, 413);
  assert.equal((json(refused) as { errorMessage: string }).errorMessage, 'Exceeded maximum allowed payload size (100 bytes).');
  assert.deepEqual(await first, { kind: 'too-large' });

  const second = api.invoke(event('ok'));
  await runtime.next();
  assert.equal((await runtime.respond('ok', 'x'.repeat(100))).status, 202);
  assert.equal((await second).kind, 'response');
});
