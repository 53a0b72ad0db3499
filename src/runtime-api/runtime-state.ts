/**
 * The runtime's side of the Runtime API as a state machine (house rule 4; RIE keeps the same machine in
 * core/states.go). One machine per execution environment's runtime process.
 *
 *   initializing ──/next──▶ idle ──invoke()──▶ invoking ──POST answer──▶ answering ──body read──▶ answered
 *        │    └──/next with an invocation queued──────▶ invoking                                     │
 *        └──/init/error──▶ init-error                     ▲        answered ──/next──▶ idle | invoking
 *
 * - initializing: started, has not called /next yet. A first /next settles `initialized` ('ready').
 * - idle: parked in GET /next, nothing open. invoke() delivers at once. A second concurrent /next gets 403.
 * - invoking: holds an event and owes its answer. Another /next here is a protocol violation (403): the runtime has
 *   not answered; the official clients only call /next after their answer was accepted.
 * - answering: an answer for the open invocation was accepted and its body is being read (a streamed or large
 *   response). A /next that overtakes the body on another connection is held until the answer completes, then
 *   handled as in `answered`; a second answer gets 403. If the answering connection dies, back to invoking.
 * - answered: no invocation open and the runtime is not waiting in /next: it has answered (or the invocation was
 *   abandoned, or its parked /next connection went away) and owes a /next. invoke() queues until that /next.
 * - init-error: the runtime reported POST /runtime/init/error; it is expected to exit. Everything but close() is 403.
 * - closed: the server is closed.
 */
import { RuntimeApiError } from './errors.js';

export type RuntimeState = 'initializing' | 'idle' | 'invoking' | 'answering' | 'answered' | 'init-error' | 'closed';

export const RUNTIME_TRANSITIONS: Readonly<Record<RuntimeState, readonly RuntimeState[]>> = {
  initializing: ['idle', 'invoking', 'init-error', 'closed'],
  idle: ['invoking', 'answered', 'closed'],
  // → answered directly: an oversized answer refused from its Content-Length, or abandon().
  invoking: ['answering', 'answered', 'closed'],
  // → invoking: the answering connection died before its body was complete, so the invocation is still open.
  answering: ['answered', 'invoking', 'closed'],
  answered: ['idle', 'invoking', 'closed'],
  'init-error': ['closed'],
  closed: [],
};

export class RuntimeStateMachine {
  #state: RuntimeState = 'initializing';

  get state(): RuntimeState {
    return this.#state;
  }

  can(to: RuntimeState): boolean {
    return RUNTIME_TRANSITIONS[this.#state].includes(to);
  }

  /** The one place the state changes. Callers validate first; reaching an illegal transition here is a bug. */
  transition(to: RuntimeState): void {
    if (!this.can(to)) {
      throw new RuntimeApiError('ERR_RUNTIME_API_INVALID_TRANSITION', `runtime state ${this.#state} cannot become ${to}`);
    }
    this.#state = to;
  }
}
