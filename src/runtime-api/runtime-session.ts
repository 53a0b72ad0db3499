/**
 * One runtime's conversation with the platform: the state machine, the open invocation, the parked GET /next.
 * The route handlers (routes.ts) validate HTTP and call in here; the platform calls through RuntimeApi (server.ts).
 * Validation always happens before a transition (RIE: "request validation must happen before state transition").
 */
import type { ServerResponse } from 'node:http';
import { RuntimeApiError } from './errors.js';
import { CLOSING, eventHeadersOf, invalidStateTransition, reply, replyAndWait, writeEvent } from './replies.js';
import { RuntimeStateMachine, type RuntimeState } from './runtime-state.js';
import type { InitOutcome, InvocationOutcome, InvocationRequest } from './server.js';

/** An invocation whose outcome is not settled yet: queued (runtime not in /next yet) or delivered. */
export interface OpenInvocation {
  readonly requestId: string;
  readonly headers: readonly string[];
  readonly payload: Buffer;
  readonly resolve: (outcome: InvocationOutcome) => void;
  readonly reject: (error: RuntimeApiError) => void;
}

/** What an answer (POST …/{id}/response or …/{id}/error) for `requestId` would meet. */
export type AnswerCheck = 'ok' | 'invalid-request-id' | 'invalid-state' | 'closed';

interface Waiter {
  resolve(): void;
  reject(error: RuntimeApiError): void;
}

export class RuntimeSession {
  readonly #machine = new RuntimeStateMachine();
  #open: OpenInvocation | undefined;
  /** The id of the last event handed to the runtime: answers for it after it was answered or abandoned get 403. */
  #lastDeliveredId: string | undefined;
  /** The GET /next waiting for an event (state idle). */
  #parkedNext: ServerResponse | undefined;
  /** A GET /next that arrived while an answer body was still being read (state answering). */
  #heldNext: ServerResponse | undefined;
  #idleWaiters: Waiter[] = [];
  #settleInit: ((outcome: InitOutcome) => void) | undefined;
  #failInit: ((error: RuntimeApiError) => void) | undefined;
  readonly initialized: Promise<InitOutcome>;

  constructor() {
    this.initialized = handled(
      new Promise<InitOutcome>((resolve, reject) => {
        this.#settleInit = resolve;
        this.#failInit = reject;
      }),
    );
  }

  get state(): RuntimeState {
    return this.#machine.state;
  }

  // ---- the platform's side ----

  invoke(request: InvocationRequest): Promise<InvocationOutcome> {
    const state = this.#machine.state;
    if (state === 'closed') throw closedError();
    if (state === 'init-error') throw initFailedError();
    if (this.#open) throw new RuntimeApiError('ERR_RUNTIME_API_BUSY', `invocation ${this.#open.requestId} is still open`);
    const headers = eventHeadersOf(request);
    let resolve!: (outcome: InvocationOutcome) => void;
    let reject!: (error: RuntimeApiError) => void;
    const outcome = handled(
      new Promise<InvocationOutcome>((res, rej) => {
        resolve = res;
        reject = rej;
      }),
    );
    const open: OpenInvocation = { requestId: request.requestId, headers, payload: request.payload, resolve, reject };
    this.#open = open;
    if (state === 'idle') {
      const parked = this.#parkedNext!;
      this.#parkedNext = undefined;
      if (gone(parked)) {
        // Its connection is gone but 'close' has not been emitted yet: keep the event for the runtime's next /next.
        this.#machine.transition('answered');
      } else {
        this.#machine.transition('invoking');
        this.#deliver(parked, open);
      }
    }
    return outcome;
  }

  get idle(): boolean {
    return this.#machine.state === 'idle';
  }

  whenIdle(): Promise<void> {
    const state = this.#machine.state;
    if (state === 'idle') return Promise.resolve();
    if (state === 'closed') return handled(Promise.reject(closedError()));
    if (state === 'init-error') return handled(Promise.reject(initFailedError()));
    return handled(new Promise<void>((resolve, reject) => this.#idleWaiters.push({ resolve, reject })));
  }

  /** Ends the open invocation (queued or delivered) without an answer; its id stays known, so late answers get 403. */
  abandon(): void {
    const open = this.#open;
    if (!open) return;
    this.#open = undefined;
    const state = this.#machine.state;
    if (state === 'invoking' || state === 'answering') this.#machine.transition('answered');
    open.reject(new RuntimeApiError('ERR_RUNTIME_API_ABANDONED', `invocation ${open.requestId} was abandoned`));
    this.#releaseHeldNext();
  }

  /** Tells a waiting runtime to exit (500) and fails everything still pending. Resolves when those replies left. */
  close(): Promise<void> {
    if (this.#machine.state === 'closed') return Promise.resolve();
    this.#machine.transition('closed');
    const replies: Promise<void>[] = [];
    for (const res of [this.#parkedNext, this.#heldNext]) if (res && !gone(res)) replies.push(replyAndWait(res, CLOSING));
    this.#parkedNext = this.#heldNext = undefined;
    this.#open?.reject(closedError());
    this.#open = undefined;
    this.#failInit?.(closedError());
    this.#settleInit = this.#failInit = undefined;
    for (const waiter of this.#idleWaiters) waiter.reject(closedError());
    this.#idleWaiters = [];
    return Promise.all(replies).then(() => undefined);
  }

  // ---- the runtime's side (called by the route handlers) ----

  /** GET /runtime/invocation/next. Replies now (event, 403, 500) or parks `res` until there is an event. */
  next(res: ServerResponse): void {
    const state = this.#machine.state;
    if (state === 'initializing') {
      this.#settleInitOnce({ kind: 'ready' });
      this.#dispatchNext(res);
    } else if (state === 'answered') {
      this.#dispatchNext(res);
    } else if (state === 'answering' && this.#heldNext === undefined) {
      this.#heldNext = res;
      res.once('close', () => {
        if (this.#heldNext === res) this.#heldNext = undefined;
      });
    } else if (state === 'closed') {
      reply(res, CLOSING);
    } else {
      reply(res, invalidStateTransition(state, 'next'));
    }
  }

  checkAnswer(requestId: string): AnswerCheck {
    const state = this.#machine.state;
    if (state === 'closed') return 'closed';
    if (state === 'invoking' && this.#open?.requestId === requestId) return 'ok';
    return requestId === this.#lastDeliveredId ? 'invalid-state' : 'invalid-request-id';
  }

  /** After checkAnswer() said 'ok': the answer's body is on its way. Returns the token finishAnswer() needs. */
  beginAnswer(): OpenInvocation {
    this.#machine.transition('answering');
    return this.#open!;
  }

  /** Settles the invocation with its answer. False when it is no longer this answer's to settle (abandoned, closed). */
  finishAnswer(token: OpenInvocation, outcome: InvocationOutcome): boolean {
    if (this.#open !== token || this.#machine.state !== 'answering') return false;
    this.#open = undefined;
    this.#machine.transition('answered');
    token.resolve(outcome);
    this.#releaseHeldNext();
    return true;
  }

  /** The answering connection died before its body was complete: the invocation is still open and answerable. */
  abortAnswer(token: OpenInvocation): void {
    if (this.#open !== token || this.#machine.state !== 'answering') return;
    this.#machine.transition('invoking');
    this.#releaseHeldNext();
  }

  /** Only a runtime that has not called /next yet may report an init error; once accepted, its state is final. */
  checkInitError(): 'ok' | 'invalid-state' | 'closed' {
    const state = this.#machine.state;
    if (state === 'initializing') return 'ok';
    return state === 'closed' ? 'closed' : 'invalid-state';
  }

  beginInitError(): void {
    this.#machine.transition('init-error');
    // It will never wait in /next now.
    for (const waiter of this.#idleWaiters) waiter.reject(initFailedError());
    this.#idleWaiters = [];
  }

  settleInitError(outcome: InitOutcome): void {
    this.#settleInitOnce(outcome);
  }

  // ---- internals ----

  #dispatchNext(res: ServerResponse): void {
    const open = this.#open;
    if (open) {
      this.#machine.transition('invoking');
      this.#deliver(res, open);
      return;
    }
    this.#machine.transition('idle');
    this.#parkedNext = res;
    res.once('close', () => {
      // The runtime went away from /next (died, or its client gave up): it is no longer waiting.
      if (this.#parkedNext !== res) return;
      this.#parkedNext = undefined;
      this.#machine.transition('answered');
    });
    const waiters = this.#idleWaiters;
    if (waiters.length > 0) {
      this.#idleWaiters = [];
      for (const waiter of waiters) waiter.resolve();
    }
  }

  #deliver(res: ServerResponse, open: OpenInvocation): void {
    this.#lastDeliveredId = open.requestId;
    writeEvent(res, open.headers, open.payload);
  }

  #releaseHeldNext(): void {
    const held = this.#heldNext;
    if (held === undefined) return;
    this.#heldNext = undefined;
    if (!gone(held)) this.next(held);
  }

  #settleInitOnce(outcome: InitOutcome): void {
    this.#settleInit?.(outcome);
    this.#settleInit = this.#failInit = undefined;
  }
}

function closedError(): RuntimeApiError {
  return new RuntimeApiError('ERR_RUNTIME_API_CLOSED', 'the Runtime API is closed');
}

function initFailedError(): RuntimeApiError {
  return new RuntimeApiError('ERR_RUNTIME_API_INIT_FAILED', 'the runtime reported an init error');
}

/** The response can no longer reach the runtime (its connection is gone, maybe before 'close' was emitted). */
function gone(res: ServerResponse): boolean {
  return res.destroyed || res.socket === null || res.socket.destroyed;
}

/**
 * Rejections here are for whoever awaits the promise; one nobody awaits (an abandoned invocation after its timeout
 * fired) must not become an unhandled rejection, which would end the process.
 */
function handled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}
