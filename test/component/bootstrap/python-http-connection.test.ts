// The python bootstrap's own HTTP/1.1 client (kindling_runtime/http_connection.py), driven by python-http-driver.py
// against a raw socket server that scripts every answer byte for byte.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { RUNTIME_DIR } from './python-harness.js';
import { listenOn, over, TRANSPORTS, type Transport } from './runtime-api-transport.js';

const DRIVER = fileURLToPath(new URL('python-http-driver.py', import.meta.url));
const TIMEOUT = { timeout: 10_000 };

interface RawRequest { connection: number; method: string; path: string; head: string; body: Buffer }

/** What the server does with one request: answer these bytes (then maybe close), or drop the connection unanswered. */
type Reply = { raw: string | Buffer; close?: 'end' | 'destroy'; afterMs?: number } | { drop: true };

interface RawServer {
  target: { tcp: string } | { unix: string };
  /** The Host header the client should send. */
  host: string;
  readonly requests: RawRequest[];
  readonly connections: number;
}

async function rawServer(t: TestContext, transport: Transport, reply: (request: RawRequest, index: number) => Reply): Promise<RawServer> {
  const requests: RawRequest[] = [];
  const sockets = new Set<net.Socket>();
  let connections = 0;
  const server = net.createServer((socket) => {
    const connection = connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {}); // the client may reset the connection; what it received is what the tests check
    let chunks: Buffer[] = [];
    let buffered = 0;
    let needed = Infinity; // bytes of the current request (head + body) once its head is known
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      buffered += chunk.length;
      for (;;) {
        if (needed === Infinity) {
          const data = Buffer.concat(chunks);
          chunks = [data];
          const end = data.indexOf('\r\n\r\n');
          if (end === -1) return;
          const length = Number(/\r\ncontent-length: *(\d+)/i.exec(data.subarray(0, end).toString('latin1'))?.[1] ?? 0);
          needed = end + 4 + length;
        }
        if (buffered < needed) return;
        const data = Buffer.concat(chunks);
        const end = data.indexOf('\r\n\r\n');
        const head = data.subarray(0, end + 4).toString('latin1');
        const [method = '', path = ''] = head.split(' ');
        const request = { connection, method, path, head, body: data.subarray(end + 4, needed) };
        chunks = [data.subarray(needed)];
        buffered = data.length - needed;
        needed = Infinity;
        requests.push(request);
        act(socket, reply(request, requests.length - 1));
      }
    });
  });
  const endpoint = await listenOn(server, transport);
  t.after(async () => {
    server.close();
    for (const socket of sockets) socket.destroy();
    await endpoint.cleanup();
  });
  return {
    target: transport === 'tcp' ? { tcp: endpoint.where } : { unix: endpoint.where },
    host: transport === 'tcp' ? endpoint.where : 'localhost',
    requests,
    get connections() {
      return connections;
    },
  };
}

function act(socket: net.Socket, reply: Reply): void {
  if ('drop' in reply) {
    socket.destroy();
    return;
  }
  const send = (): void => {
    socket.write(reply.raw, () => {
      if (reply.close === 'end') socket.end();
      // Fully closed once the answer is out, as a server timing out an idle keep-alive connection.
      if (reply.close === 'destroy') socket.destroy();
    });
  };
  if (reply.afterMs === undefined) send();
  else setTimeout(send, reply.afterMs);
}

interface DriverRequest {
  method: string;
  path: string;
  body?: string;
  bodyRepeat?: [string, number];
  headers?: Record<string, string>;
  lookup?: string[];
}

interface DriverResult {
  status?: number;
  headers?: Record<string, string>;
  body?: string;
  bodyLength?: number;
  willClose?: boolean;
  lookup?: Record<string, string | null>;
  error?: string;
  message?: string;
}

/** Runs the requests in order on one HttpConnection and returns one result per request. */
async function drive(
  server: RawServer,
  requests: DriverRequest[],
  options: { defaultTimeout?: number; sigpipe?: boolean } = {},
): Promise<DriverResult[]> {
  const child = spawn('/usr/bin/python3.11', ['-u', DRIVER, JSON.stringify({ target: server.target, requests, ...options })], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: '/usr/bin:/bin', PYTHONPATH: RUNTIME_DIR },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
  assert.equal(code, 0, `driver failed (${signal}): ${stderr}`);
  return stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as DriverResult);
}

const OK = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';

for (const transport of TRANSPORTS) {
  test(`requests share one kept-alive connection and carry the request line, Host, headers and Content-Length; header `
    + `names of answers are case-insensitive${over(transport)}`, TIMEOUT, async (t) => {
    const server = await rawServer(t, transport, (_request, index) => ({
      raw: index === 0
        ? 'HTTP/1.1 200 OK\r\nX-Mixed-Case: one\r\nContent-Length: 5\r\nx-mixed-case: two\r\n\r\nhello'
        : 'HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\ncontent-length: 15\r\n\r\n{"status":"OK"}',
    }));

    const [get, post] = await drive(server, [
      { method: 'GET', path: '/2018-06-01/runtime/invocation/next', lookup: ['x-MIXED-case', 'CONTENT-LENGTH', 'absent'] },
      { method: 'POST', path: '/p/a%2Fb/response', body: 'héllo', headers: { 'Content-Type': 'application/json' } },
    ]);

    assert.deepEqual(get, {
      status: 200,
      headers: { 'x-mixed-case': 'one, two', 'content-length': '5' },
      body: 'hello',
      bodyLength: 5,
      willClose: false,
      lookup: { 'x-MIXED-case': 'one, two', 'CONTENT-LENGTH': '5', absent: null },
    });
    assert.equal(post?.status, 202);
    assert.equal(post?.body, '{"status":"OK"}');
    assert.equal(server.connections, 1);
    assert.deepEqual(server.requests.map((r) => [r.connection, r.head, r.body.toString('utf8')]), [
      [0, `GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: ${server.host}\r\n\r\n`, ''],
      [0, `POST /p/a%2Fb/response HTTP/1.1\r\nHost: ${server.host}\r\nContent-Type: application/json\r\nContent-Length: 6\r\n\r\n`, 'héllo'],
    ]);
  });

  test(`a kept-alive connection the server closed while idle is replaced, and the request sent once on the new one, `
    + `even with SIGPIPE's default action restored${over(transport)}`, TIMEOUT, async (t) => {
    const server = await rawServer(t, transport, (_request, index) => (index === 0 ? { raw: OK, close: 'destroy' } : { raw: OK }));

    const results = await drive(server, [{ method: 'GET', path: '/a' }, { method: 'POST', path: '/b', body: 'x' }], { sigpipe: true });

    assert.deepEqual(results.map((r) => [r.status, r.body]), [[200, 'ok'], [200, 'ok']]);
    assert.equal(server.connections, 2);
    assert.deepEqual(server.requests.map((r) => [r.connection, r.path]), [[0, '/a'], [1, '/b']]);
  });

  test(`socket.setdefaulttimeout() puts no timeout on the connection: a slow answer is waited for${over(transport)}`, TIMEOUT, async (t) => {
    const server = await rawServer(t, transport, () => ({ raw: OK, afterMs: 200 }));

    const [result] = await drive(server, [{ method: 'GET', path: '/next' }], { defaultTimeout: 0.02 });

    assert.equal(result?.status, 200, JSON.stringify(result));
  });

  test(`a 6 MiB body goes out and comes back whole${over(transport)}`, TIMEOUT, async (t) => {
    const size = 6 * 1024 * 1024;
    const server = await rawServer(t, transport, (request) => ({
      raw: Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${request.body.length}\r\n\r\n`), request.body]),
    }));

    const [result] = await drive(server, [{ method: 'POST', path: '/big', bodyRepeat: ['abcdefgh', size / 8] }]);

    assert.equal(server.requests[0]?.body.length, size);
    assert.ok(server.requests[0]?.body.equals(Buffer.alloc(size, 'abcdefgh')));
    assert.equal(result?.bodyLength, size);
    assert.equal(result?.body, 'abcdefgh'.repeat(25));
  });
}

test('a request the server received on a kept-alive connection and dropped unanswered is sent again, once, on a new '
  + 'connection', TIMEOUT, async (t) => {
  const server = await rawServer(t, 'tcp', (_request, index) => (index === 1 || index >= 3 ? { drop: true } : { raw: OK }));

  const results = await drive(server, [{ method: 'GET', path: '/a' }, { method: 'GET', path: '/b' }, { method: 'GET', path: '/c' }]);

  assert.deepEqual(results.map((r) => r.status ?? r.error), [200, 200, 'ConnectionDropped']);
  // /b: dropped on connection 0, answered on 1. /c: dropped on 1 (reused), then on 2 (fresh): no third attempt.
  assert.deepEqual(server.requests.map((r) => [r.connection, r.path]), [[0, '/a'], [0, '/b'], [1, '/b'], [1, '/c'], [2, '/c']]);
});

test('a fresh connection dropped before the answer is an error at once', TIMEOUT, async (t) => {
  const server = await rawServer(t, 'unix', () => ({ drop: true }));

  const [result] = await drive(server, [{ method: 'GET', path: '/next' }]);

  assert.equal(result?.error, 'ConnectionDropped');
  assert.equal(server.requests.length, 1);
});

test('interim 1xx answers are skipped, and a chunked body is reassembled without its extensions and trailers', TIMEOUT, async (t) => {
  const server = await rawServer(t, 'tcp', (_request, index) => ({
    raw: index === 0
      ? 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'
        + '5;name=value\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n'
      : OK,
  }));

  const results = await drive(server, [{ method: 'GET', path: '/chunked' }, { method: 'GET', path: '/after' }]);

  assert.deepEqual(results.map((r) => [r.status, r.body, r.willClose]), [[200, 'hello, world', false], [200, 'ok', false]]);
  assert.equal(server.connections, 1);
});

test('Connection: close, HTTP/1.0 without keep-alive and a body without length each end the connection', TIMEOUT, async (t) => {
  const server = await rawServer(t, 'tcp', (_request, index) => [
    { raw: 'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok', close: 'end' } as const,
    { raw: 'HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok' },
    { raw: 'HTTP/1.1 200 OK\r\n\r\nuntil the server closes', close: 'end' } as const,
    { raw: 'HTTP/1.0 204 No Content\r\nConnection: Keep-Alive\r\n\r\n' },
    { raw: OK },
  ][index] ?? { drop: true });

  const results = await drive(server, ['/1', '/2', '/3', '/4', '/5'].map((path) => ({ method: 'GET', path })));

  assert.deepEqual(results.map((r) => [r.status, r.body, r.willClose]), [
    [200, 'ok', true], [200, 'ok', true], [200, 'until the server closes', true], [204, '', false], [200, 'ok', false],
  ]);
  assert.deepEqual(server.requests.map((r) => r.connection), [0, 1, 2, 3, 3]);
});

test('malformed or truncated answers are protocol errors, never retried', TIMEOUT, async (t) => {
  const answers = [
    'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort',
    'HTTP/1.1 2x0 OK\r\n\r\n',
    'ICY 200 OK\r\n\r\n',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n',
    'HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\nx',
    'HTTP/1.1 200 OK\r\nno colon here\r\n\r\n',
    'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n',
  ];
  // Each on a connection kept alive by a good first answer, where a dropped connection would be retried.
  const server = await rawServer(t, 'tcp', (request) => {
    const answer = answers[Number(request.path.slice(1))];
    return request.path === '/ok' ? { raw: OK } : { raw: answer ?? '', close: 'end' };
  });

  const results = await drive(server, answers.flatMap((_a, i) => [{ method: 'GET', path: '/ok' }, { method: 'GET', path: `/${i}` }]));

  assert.deepEqual(results.map((r) => r.error ?? r.status), answers.flatMap(() => [200, 'HttpProtocolError']));
  assert.equal(server.requests.length, answers.length * 2);
});

test('a header value holding CR or LF is refused before anything is sent', TIMEOUT, async (t) => {
  const server = await rawServer(t, 'tcp', () => ({ raw: OK }));

  const results = await drive(server, [
    { method: 'POST', path: '/x', body: '{}', headers: { 'Lambda-Runtime-Function-Error-Type': 'A\r\nInjected: yes' } },
    { method: 'GET', path: '/y' },
  ]);

  assert.equal(results[0]?.error, 'ValueError');
  assert.equal(results[1]?.status, 200);
  assert.deepEqual(server.requests.map((r) => r.path), ['/y']);
});
