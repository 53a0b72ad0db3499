import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RuntimeApiError } from '../../../src/runtime-api/errors.js';
import { RUNTIME_TRANSITIONS, RuntimeStateMachine, type RuntimeState } from '../../../src/runtime-api/runtime-state.js';

const STATES = Object.keys(RUNTIME_TRANSITIONS) as RuntimeState[];

test('every state can be closed except closed itself, and closed is final', () => {
  for (const state of STATES) {
    assert.equal(RUNTIME_TRANSITIONS[state].includes('closed'), state !== 'closed', state);
  }
  assert.deepEqual(RUNTIME_TRANSITIONS.closed, []);
});

test('an init error is only reachable before the first /next and leads nowhere but closed', () => {
  const into = STATES.filter((s) => RUNTIME_TRANSITIONS[s].includes('init-error'));
  assert.deepEqual(into, ['initializing']);
  assert.deepEqual(RUNTIME_TRANSITIONS['init-error'], ['closed']);
});

test('nothing returns to initializing', () => {
  assert.deepEqual(STATES.filter((s) => RUNTIME_TRANSITIONS[s].includes('initializing')), []);
});

test('the machine follows the warm loop and refuses a transition the table does not list', () => {
  const machine = new RuntimeStateMachine();
  assert.equal(machine.state, 'initializing');
  for (const to of ['idle', 'invoking', 'answering', 'answered', 'idle', 'invoking', 'answered', 'invoking'] as const) {
    machine.transition(to);
    assert.equal(machine.state, to);
  }
  assert.equal(machine.can('idle'), false);
  assert.throws(
    () => machine.transition('idle'),
    (e: unknown) => e instanceof RuntimeApiError && e.code === 'ERR_RUNTIME_API_INVALID_TRANSITION',
  );
  assert.equal(machine.state, 'invoking', 'a refused transition changes nothing');
});
