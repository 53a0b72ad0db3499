import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errorPayloadOf, errorTypeOf } from '../../../src/runtime-api/error-type.js';

const body = (o: unknown) => Buffer.from(JSON.stringify(o));
const EMPTY = Buffer.alloc(0);

test('well-formed Runtime.* and Function.* header types pass through unchanged', () => {
  for (const type of ['Runtime.ImportModuleError', 'Function.ResponseSizeTooLarge', 'Runtime.Xy']) {
    assert.equal(errorTypeOf(type, body({ errorType: 'Other' })), type);
  }
});

test('a malformed Function.* header becomes Function.Unknown whatever the body says', () => {
  for (const type of ['Function.', 'Function.lower', 'Function.Has.Dot', 'Function.With1Digit']) {
    assert.equal(errorTypeOf(type, body({ errorType: 'TypeError' })), 'Function.Unknown', type);
  }
});

test('without a usable header the errorType of the JSON body is taken', () => {
  assert.equal(errorTypeOf(undefined, body({ errorType: 'TypeError', errorMessage: 'x' })), 'TypeError');
  assert.equal(errorTypeOf('', body({ errorType: 'TypeError' })), 'TypeError');
  assert.equal(errorTypeOf('Error', body({ errorType: 'RangeError' })), 'RangeError');
  assert.equal(errorTypeOf('Runtime.lower', body({ errorType: 'SyntaxError' })), 'SyntaxError');
});

test('with neither a usable header nor a body type the error is Runtime.Unknown', () => {
  for (const b of [EMPTY, Buffer.from('not json'), body(null), body('str'), body({ errorType: 3 }), body({ errorType: '' }), body([1])]) {
    assert.equal(errorTypeOf(undefined, b), 'Runtime.Unknown', b.toString());
  }
});

test('a body too large to be worth parsing names no type', () => {
  const huge = Buffer.from(JSON.stringify({ errorType: 'TypeError', pad: 'x'.repeat(300 * 1024) }));
  assert.equal(errorTypeOf(undefined, huge), 'Runtime.Unknown');
});

test('the payload is the body as posted, or a synthesised error object when the body is empty', () => {
  const posted = Buffer.from('  {"errorType":"A"} ');
  assert.equal(errorPayloadOf('Runtime.Unknown', posted), posted);
  const synthesised = JSON.parse(errorPayloadOf('Function.Crashed', EMPTY).toString()) as Record<string, unknown>;
  assert.deepEqual(Object.keys(synthesised).sort(), ['errorMessage', 'errorType']);
  assert.equal(synthesised.errorType, 'Function.Crashed');
});
