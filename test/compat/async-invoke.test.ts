/**
 * Asynchronous invocation through the SDK (LAMBDA_REFERENCE §7.1), on a server whose clock the test drives: events
 * are accepted with 202, run, retry about 1 min and 2 min later (not before), age out, and reach function
 * destinations with Lambda's record. Functions are observed through their stored log lines.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import {
  DeleteFunctionCommand,
  InvokeAsyncCommand,
  InvokeCommand,
  PutFunctionEventInvokeConfigCommand,
  type LambdaClient,
} from '@aws-sdk/client-lambda';
import { ManualClock } from '../support/manual-clock.js';
import { openServerDb, waitFor, type ServerDb } from '../support/server-db.js';
import { expectAwsError, functionArn, startWorld, UUID, type World } from './fixtures.js';
import { deploy } from './invoke-support.js';

/** Every test here starts real sandboxes; none should take long. */
const TEST_TIMEOUT_MS = 90_000;

/** Logs `RUN {requestId, event: {id, fail}}` and fails when the event says so. */
const WORKER = `
exports.handler = async (event, context) => {
  console.log('RUN ' + JSON.stringify({ requestId: context.awsRequestId, event: { id: event.id, fail: event.fail } }));
  if (event.fail) throw new Error('boom ' + event.id);
  return { ok: event.id };
};
`;

/** A destination: logs `RECORD {record}`. */
const RECORDER = `
exports.handler = async (event) => {
  console.log('RECORD ' + JSON.stringify(event));
  return null;
};
`;

interface Run {
  requestId: string;
  event: { id: string; fail?: boolean };
}

interface DestinationRecord {
  version: string;
  timestamp: string;
  requestContext: { requestId: string; functionArn: string; condition: string; approximateInvokeCount: number };
  requestPayload: unknown;
  responseContext?: { statusCode: number; executedVersion?: string; functionError?: string };
  responsePayload?: unknown;
}

interface AsyncWorld extends World {
  clock: ManualClock;
  db: ServerDb;
}

async function asyncWorld(t: TestContext, env: Record<string, string> = {}): Promise<AsyncWorld> {
  const clock = new ManualClock();
  const world = await startWorld(t, { clock, env });
  const db = openServerDb(world.server.dataDir);
  t.after(() => db.close());
  return { ...world, clock, db };
}

async function invokeEvent(client: LambdaClient, name: string, event: unknown): Promise<string> {
  const out = await client.send(new InvokeCommand({ FunctionName: name, InvocationType: 'Event', Payload: Buffer.from(JSON.stringify(event)) }));
  assert.equal(out.StatusCode, 202);
  assert.match(out.$metadata.requestId ?? '', UUID);
  return out.$metadata.requestId!;
}

const runsOf = (db: ServerDb, fn: string, id: string) => db.marked<Run>(fn, 'RUN').filter((r) => r.event.id === id);

/** Waits until the event's n-th attempt has run and the event is back in the queue, waiting. */
async function waitForAttempt(db: ServerDb, fn: string, id: string, requestId: string, n: number): Promise<{ dueMs: number }> {
  await waitFor(`attempt ${n} of ${id}`, () => (runsOf(db, fn, id).length >= n ? true : undefined));
  return waitFor(`${id} waiting after attempt ${n}`, () => db.events().find((e) => e.requestId === requestId && !e.running && e.attempts === n));
}

async function waitForRecord(db: ServerDb, fn: string, requestId: string): Promise<DestinationRecord> {
  return waitFor(`the destination record of ${requestId}`, () => db.marked<DestinationRecord>(fn, 'RECORD').find((r) => r.requestContext.requestId === requestId));
}

test('an Event invoke answers 202 with an empty body and its request id, and the function runs with that id', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const { client, rec, db } = await asyncWorld(t);
  await deploy(client, 'worker', { 'index.js': WORKER });
  const requestId = await invokeEvent(client, 'worker', { id: 'e1' });
  const raw = rec.last()!;
  assert.equal(raw.statusCode, 202);
  assert.equal(raw.body, '');
  assert.equal(raw.headers['x-amzn-requestid'], requestId);
  const [run] = await waitFor('the run', () => (runsOf(db, 'worker', 'e1').length > 0 ? runsOf(db, 'worker', 'e1') : undefined));
  assert.deepEqual(run, { requestId, event: { id: 'e1' } });
  await waitFor('the event to leave the queue', () => (db.events().length === 0 ? true : undefined));
});

test('a failing event is retried a minute and then two minutes later, never before, then reaches on-failure as RetriesExhausted', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const { client, clock, db } = await asyncWorld(t);
  await deploy(client, 'flaky', { 'index.js': WORKER });
  await deploy(client, 'failures', { 'index.js': RECORDER });
  await client.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'flaky', DestinationConfig: { OnFailure: { Destination: functionArn('failures') } } }));
  const requestId = await invokeEvent(client, 'flaky', { id: 'f1', fail: true });

  const first = await waitForAttempt(db, 'flaky', 'f1', requestId, 1);
  assert.equal(first.dueMs, clock.now() + 60_000);
  await clock.tick(59_999);
  assert.equal(runsOf(db, 'flaky', 'f1').length, 1);
  assert.deepEqual(db.events().map((e) => [e.attempts, e.running]), [[1, false]]);
  await clock.tick(1);
  const second = await waitForAttempt(db, 'flaky', 'f1', requestId, 2);
  assert.equal(second.dueMs, clock.now() + 120_000);
  await clock.tick(119_999);
  assert.equal(runsOf(db, 'flaky', 'f1').length, 2);
  await clock.tick(1);

  const record = await waitForRecord(db, 'failures', requestId);
  const runs = runsOf(db, 'flaky', 'f1');
  assert.equal(runs.length, 3);
  assert.ok(runs.every((r) => r.requestId === requestId), 'every attempt sees the request id of the Invoke');
  assert.match(record.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  const payload = record.responsePayload as { errorType: string; errorMessage: string };
  assert.deepEqual({ ...record, timestamp: undefined, responsePayload: { errorType: payload.errorType, errorMessage: payload.errorMessage } }, {
    version: '1.0',
    timestamp: undefined,
    requestContext: { requestId, functionArn: functionArn('flaky', '$LATEST'), condition: 'RetriesExhausted', approximateInvokeCount: 3 },
    requestPayload: { id: 'f1', fail: true },
    responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    responsePayload: { errorType: 'Error', errorMessage: 'boom f1' },
  });
  await waitFor('the queue to empty', () => (db.events().length === 0 ? true : undefined));
});

test('MaximumRetryAttempts 0 runs a failing event once and sends it to on-failure at once', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const { client, clock, db } = await asyncWorld(t);
  await deploy(client, 'once', { 'index.js': WORKER });
  await deploy(client, 'failures', { 'index.js': RECORDER });
  await client.send(
    new PutFunctionEventInvokeConfigCommand({ FunctionName: 'once', MaximumRetryAttempts: 0, DestinationConfig: { OnFailure: { Destination: functionArn('failures') } } }),
  );
  const requestId = await invokeEvent(client, 'once', { id: 'o1', fail: true });
  const record = await waitForRecord(db, 'failures', requestId);
  assert.deepEqual(record.requestContext, { requestId, functionArn: functionArn('once', '$LATEST'), condition: 'RetriesExhausted', approximateInvokeCount: 1 });
  // The event leaves the queue once the record is delivered: the recorder has run by now, the deletion may still be on its way.
  await waitFor('the queue to empty', () => (db.events().length === 0 ? true : undefined));
  await clock.tick(10 * 60_000);
  assert.equal(runsOf(db, 'once', 'o1').length, 1);
  assert.deepEqual(db.events(), []);
});

test('a success reaches on-success with the return value; the record names the qualifier invoked', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const { client, db } = await asyncWorld(t);
  await deploy(client, 'good', { 'index.js': WORKER }, { Publish: true });
  await deploy(client, 'successes', { 'index.js': RECORDER });
  await client.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'good', Qualifier: '1', DestinationConfig: { OnSuccess: { Destination: functionArn('successes') } } }));
  const requestId = await invokeEvent(client, 'good:1', { id: 's1' });
  const record = await waitForRecord(db, 'successes', requestId);
  assert.deepEqual({ ...record, timestamp: undefined }, {
    version: '1.0',
    timestamp: undefined,
    requestContext: { requestId, functionArn: functionArn('good', '1'), condition: 'Success', approximateInvokeCount: 1 },
    requestPayload: { id: 's1' },
    responseContext: { statusCode: 200, executedVersion: '1' },
    responsePayload: { ok: 's1' },
  });
  // Unqualified invokes follow $LATEST's config, which has no destination: nothing more is recorded.
  const plain = await invokeEvent(client, 'good', { id: 's2' });
  await waitFor('the plain run', () => (runsOf(db, 'good', 's2').length > 0 ? true : undefined));
  await waitFor('the queue to empty', () => (db.events().length === 0 ? true : undefined));
  assert.equal(db.marked<DestinationRecord>('successes', 'RECORD').filter((r) => r.requestContext.requestId === plain).length, 0);
});

test('an event older than MaximumEventAgeInSeconds at its next retry ends as EventAgeExceeded', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const { client, clock, db } = await asyncWorld(t);
  await deploy(client, 'aging', { 'index.js': WORKER });
  await deploy(client, 'failures', { 'index.js': RECORDER });
  await client.send(
    new PutFunctionEventInvokeConfigCommand({ FunctionName: 'aging', MaximumEventAgeInSeconds: 120, DestinationConfig: { OnFailure: { Destination: functionArn('failures') } } }),
  );
  const requestId = await invokeEvent(client, 'aging', { id: 'a1', fail: true });
  await waitForAttempt(db, 'aging', 'a1', requestId, 1);
  await clock.tick(60_000);
  // The third attempt would come 2 min after the second, past the 120 s age: the event ends now.
  const record = await waitForRecord(db, 'failures', requestId);
  assert.equal(runsOf(db, 'aging', 'a1').length, 2);
  assert.deepEqual(record.requestContext, { requestId, functionArn: functionArn('aging', '$LATEST'), condition: 'EventAgeExceeded', approximateInvokeCount: 2 });
  assert.equal(record.responseContext?.functionError, 'Unhandled');
});

test('an Event payload of 1,048,576 bytes is accepted and one byte more is refused with 413', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const { client, rec } = await asyncWorld(t);
  await deploy(client, 'big', { 'index.js': 'exports.handler = async () => null;' });
  const json = (bytes: number) => Buffer.from(`"${'a'.repeat(bytes - 2)}"`);
  const ok = await client.send(new InvokeCommand({ FunctionName: 'big', InvocationType: 'Event', Payload: json(1_048_576) }));
  assert.equal(ok.StatusCode, 202);
  await expectAwsError(rec, 'Invoke', client.send(new InvokeCommand({ FunctionName: 'big', InvocationType: 'Event', Payload: json(1_048_577) })), {
    type: 'RequestTooLargeException',
    status: 413,
    message: 'Request must be smaller than 1048576 bytes for the InvokeFunction operation',
  });
});

test('an Event invoke of an unknown function or qualifier is 404, as a sync one', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const { client, rec } = await asyncWorld(t);
  await expectAwsError(rec, 'Invoke', client.send(new InvokeCommand({ FunctionName: 'nope', InvocationType: 'Event' })), {
    type: 'ResourceNotFoundException', status: 404, message: `Function not found: ${functionArn('nope')}`,
  });
});

test('InvokeAsync queues the event ({"Status":202}) and refuses a body over 256 KB', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const { client, rec, db } = await asyncWorld(t);
  await deploy(client, 'legacy', { 'index.js': WORKER });
  const out = await client.send(new InvokeAsyncCommand({ FunctionName: 'legacy', InvokeArgs: Buffer.from('{"id":"l1"}') }));
  assert.equal(out.Status, 202);
  assert.equal(rec.last()?.body, '{"Status":202}');
  const requestId = rec.last()?.headers['x-amzn-requestid'];
  const [run] = await waitFor('the run', () => (runsOf(db, 'legacy', 'l1').length > 0 ? runsOf(db, 'legacy', 'l1') : undefined));
  assert.equal(run?.requestId, requestId);
  await expectAwsError(rec, 'InvokeAsync', client.send(new InvokeAsyncCommand({ FunctionName: 'legacy', InvokeArgs: Buffer.from(`"${'a'.repeat(262_143)}"`) })), {
    type: 'RequestEntityTooLargeException', status: 413, message: 'Request must be smaller than 262144 bytes for the InvokeAsync operation',
  });
});

test('a full queue answers 429 TooManyRequestsException; deleting a function drops its waiting events and frees the room', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const { client, rec, db } = await asyncWorld(t, { KINDLING_ASYNC_QUEUE_MAX_MB: '1' });
  await deploy(client, 'doomed', { 'index.js': WORKER });
  const requestId = await invokeEvent(client, 'doomed', { id: 'd1', fail: true, pad: 'x'.repeat(600_000) });
  await waitForAttempt(db, 'doomed', 'd1', requestId, 1);
  // 600 KB are stored (waiting for a retry): another 600 KB would pass the 1 MB bound.
  await expectAwsError(rec, 'Invoke', client.send(new InvokeCommand({ FunctionName: 'doomed', InvocationType: 'Event', Payload: Buffer.from(JSON.stringify({ pad: 'y'.repeat(600_000) })) })), {
    type: 'TooManyRequestsException', status: 429, message: 'Rate Exceeded.',
  });
  assert.equal(JSON.parse(rec.last()!.body).Reason, 'CallerRateLimitExceeded');
  await client.send(new DeleteFunctionCommand({ FunctionName: 'doomed' }));
  assert.deepEqual(db.events(), []);
  await deploy(client, 'doomed', { 'index.js': WORKER });
  assert.equal(await invokeEvent(client, 'doomed', { id: 'd2', pad: 'y'.repeat(600_000) }).then(() => 'accepted'), 'accepted');
});
