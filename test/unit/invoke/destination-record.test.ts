import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toDestinationRecord } from '../../../src/invoke/async/destination-record.js';
import { destinationFunctionOf, destinationKindOf, isDeadLetterTarget } from '../../../src/model/destination-arn.js';

const ARN = 'arn:aws:lambda:us-east-1:000000000000:function:fn:$LATEST';

test("a failure record has Lambda's shape: context, request payload, the last response with its function error", () => {
  const record = JSON.parse(
    toDestinationRecord({
      requestId: 'r-1',
      functionArn: ARN,
      condition: 'RetriesExhausted',
      approximateInvokeCount: 3,
      requestPayload: Buffer.from('{"a":1}'),
      outcome: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled', payload: '{"errorType":"Error","errorMessage":"boom"}' },
      timestampMs: Date.UTC(2024, 0, 2, 3, 4, 5, 678),
    }).toString('utf8'),
  ) as unknown;
  assert.deepEqual(record, {
    version: '1.0',
    timestamp: '2024-01-02T03:04:05.678Z',
    requestContext: { requestId: 'r-1', functionArn: ARN, condition: 'RetriesExhausted', approximateInvokeCount: 3 },
    requestPayload: { a: 1 },
    responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    responsePayload: { errorType: 'Error', errorMessage: 'boom' },
  });
});

test('a success record has no functionError, and a response that is not JSON is carried as a string', () => {
  const record = JSON.parse(
    toDestinationRecord({
      requestId: 'r-2', functionArn: ARN, condition: 'Success', approximateInvokeCount: 1, requestPayload: Buffer.from('{}'),
      outcome: { statusCode: 200, executedVersion: '1', payload: 'plain text' }, timestampMs: 0,
    }).toString('utf8'),
  ) as { responseContext: unknown; responsePayload: unknown };
  assert.deepEqual(record.responseContext, { statusCode: 200, executedVersion: '1' });
  assert.equal(record.responsePayload, 'plain text');
});

test('destination ARNs: functions, queues, topics, buses and buckets are recognised; anything else is not', () => {
  assert.equal(destinationKindOf('arn:aws:lambda:us-east-1:000000000000:function:dest'), 'lambda');
  assert.equal(destinationKindOf('arn:aws:lambda:us-east-1:000000000000:function:dest:live'), 'lambda');
  assert.equal(destinationKindOf('arn:aws:sqs:us-east-1:000000000000:q'), 'sqs');
  assert.equal(destinationKindOf('arn:aws:sns:us-east-1:000000000000:t'), 'sns');
  assert.equal(destinationKindOf('arn:aws:events:us-east-1:000000000000:event-bus/default'), 'events');
  assert.equal(destinationKindOf('arn:aws:s3:::bucket'), 's3');
  for (const bad of ['', 'dest', 'arn:aws:dynamodb:us-east-1:000000000000:table/t', 'arn:aws:lambda:us-east-1:000000000000:layer:l:1', 'arn:aws:sqs:::q', `arn:aws:sqs:us-east-1:000000000000:${'q'.repeat(400)}`]) {
    assert.equal(destinationKindOf(bad), undefined, bad);
  }
  assert.deepEqual(destinationFunctionOf('arn:aws:lambda:eu-west-1:111111111111:function:dest:2'), {
    region: 'eu-west-1', accountId: '111111111111', functionName: 'dest', qualifier: '2',
  });
  assert.equal(destinationFunctionOf('arn:aws:sqs:us-east-1:000000000000:q'), undefined);
  assert.equal(isDeadLetterTarget('arn:aws:sqs:us-east-1:000000000000:q'), true);
  assert.equal(isDeadLetterTarget('arn:aws:lambda:us-east-1:000000000000:function:dest'), false);
});
