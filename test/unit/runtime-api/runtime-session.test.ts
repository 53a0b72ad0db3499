import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { test } from 'node:test';
import { RuntimeSession } from '../../../src/runtime-api/runtime-session.js';
import type { InvocationRequest } from '../../../src/runtime-api/server.js';

/** Just enough of a ServerResponse to see what the session writes to a waiting GET /next. */
class FakeResponse extends EventEmitter {
  status: number | undefined;
  headers: string[] = [];
  body: Buffer | undefined;
  destroyed = false;
  socket = { destroyed: false };
  writeHead(status: number, headers: string[]): this {
    this.status = status;
    this.headers = headers;
    return this;
  }
  end(body: Buffer): this {
    this.body = body;
    return this;
  }
  header(name: string): string | undefined {
    const i = this.headers.indexOf(name);
    return i === -1 ? undefined : this.headers[i + 1];
  }
  get res(): ServerResponse {
    return this as unknown as ServerResponse;
  }
}

function request(requestId: string): InvocationRequest {
  return { requestId, deadlineMs: 1, invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:f', payload: Buffer.from('{}') };
}

test('a /next that overtakes the answer body is held, then parks once the answer completes', async () => {
  const session = new RuntimeSession();
  const first = new FakeResponse();
  const outcome = session.invoke(request('a'));
  session.next(first.res);
  assert.equal(first.header('Lambda-Runtime-Aws-Request-Id'), 'a');
  assert.equal(session.checkAnswer('a'), 'ok');
  const token = session.beginAnswer();

  const early = new FakeResponse();
  session.next(early.res);
  assert.equal(early.status, undefined, 'held, not refused');
  assert.equal(session.state, 'answering');

  const refused = new FakeResponse();
  session.next(refused.res);
  assert.equal(refused.status, 403, 'only one /next is held');

  assert.equal(session.finishAnswer(token, { kind: 'response', payload: Buffer.from('1') }), true);
  assert.equal(session.state, 'idle');
  assert.equal((await outcome).kind, 'response');
  const second = session.invoke(request('b'));
  assert.equal(early.status, 200);
  assert.equal(early.header('Lambda-Runtime-Aws-Request-Id'), 'b');
  session.abandon();
  await assert.rejects(second);
});

test('a held /next is refused when the answer connection dies, since the invocation is open again', () => {
  const session = new RuntimeSession();
  void session.invoke(request('a'));
  session.next(new FakeResponse().res);
  const token = session.beginAnswer();
  const early = new FakeResponse();
  session.next(early.res);
  session.abortAnswer(token);
  assert.equal(session.state, 'invoking');
  assert.equal(early.status, 403);
  assert.equal(session.checkAnswer('a'), 'ok', 'the invocation can still be answered');
  session.abandon();
});

test('an answer completing after abandon() does not settle the invocation', async () => {
  const session = new RuntimeSession();
  const outcome = session.invoke(request('a'));
  session.next(new FakeResponse().res);
  const token = session.beginAnswer();
  session.abandon();
  await assert.rejects(outcome);
  assert.equal(session.finishAnswer(token, { kind: 'response', payload: Buffer.from('late') }), false);
  assert.equal(session.checkAnswer('a'), 'invalid-state');
  assert.equal(session.state, 'answered');
});

test('an event for a /next whose connection is already gone waits for the next /next', () => {
  const session = new RuntimeSession();
  const dead = new FakeResponse();
  session.next(dead.res);
  assert.equal(session.state, 'idle');
  dead.socket.destroyed = true; // gone, 'close' not emitted yet
  void session.invoke(request('a'));
  assert.equal(dead.status, undefined);
  assert.equal(session.state, 'answered');
  const fresh = new FakeResponse();
  session.next(fresh.res);
  assert.equal(fresh.header('Lambda-Runtime-Aws-Request-Id'), 'a');
  dead.emit('close'); // late 'close' of the dead one changes nothing
  assert.equal(session.state, 'invoking');
  session.abandon();
});
