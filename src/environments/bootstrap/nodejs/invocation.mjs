// One invocation: calls the handler and decides when and what to answer, with the completion rules of Lambda's Node
// runtime (LAMBDA_REFERENCE §3.4, §4.5):
// - a returned promise (any thenable) answers when it settles;
// - callback(err, result): an error is posted at once; a result is posted at once when
//   context.callbackWaitsForEmptyEventLoop is false, else when the event loop has drained;
// - context.succeed/fail/done answer at once (legacy API);
// - the first of callback/succeed/fail/done wins, later calls are ignored;
// - nothing called and nothing pending when the loop drains: `null` for a handler that returned a plain value (so a
//   sync handler's return value is ignored, as on Lambda), Runtime.NodeJsExit for a promise that can never settle.
//
// "The event loop has drained" is Node's 'beforeExit' event: it fires when nothing keeps the process alive. While a
// handler runs no Runtime API request is open (the kept-alive socket is unref'd by the agent while idle), so the only
// things that keep the loop alive are the function's own timers, sockets and requests. index.mjs registers one
// listener that calls runBeforeExitAction(); posting the answer schedules new I/O, so the process lives on.
import { createContext } from './context.mjs';
import { errorTypeHeader, formatForLog, NodeJsExit, StreamingNotSupported, toErrorPayload } from './errors.mjs';

/** Set by awslambda.streamifyResponse() (the key Lambda's runtime and libraries use). */
export const STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');

let beforeExitAction = null;

/** Runs (once) what the current invocation wants done when the event loop is empty. */
export function runBeforeExitAction() {
  const action = beforeExitAction;
  beforeExitAction = null;
  if (action !== null) action();
}

export class Invocation {
  #client;
  #settings;
  #headers;
  #id;
  #resolve;
  #reject;
  /** One of callback/succeed/fail/done (or the empty-loop default) has been taken. */
  #finalized = false;
  /** The answer has been handed to the Runtime API client. */
  #answered = false;
  #promisePending = false;
  #context;
  /** Settles once the answer has been posted; rejects if the Runtime API is gone. */
  finished;

  /**
   * @param client   RuntimeClient
   * @param settings functionSettings(env)
   * @param next     the GET /next answer: { headers, body }
   */
  constructor(client, settings, next) {
    this.#client = client;
    this.#settings = settings;
    this.#headers = next.headers;
    this.#id = next.headers['lambda-runtime-aws-request-id'];
    this.finished = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  run(handler, body) {
    beforeExitAction = this.#onLoopEmpty;
    let result;
    try {
      this.#context = createContext(this.#settings, this.#headers, { succeed: this.#succeed, fail: this.#fail, done: this.#done });
      if (handler[STREAMING] !== undefined) {
        throw new StreamingNotSupported('Response streaming (awslambda.streamifyResponse) is not supported by this runtime yet');
      }
      const event = body === '' ? {} : JSON.parse(body);
      result = handler(event, this.#context, this.#callback);
    } catch (error) {
      this.#callback(error);
      return;
    }
    if (result !== null && (typeof result === 'object' || typeof result === 'function') && typeof result.then === 'function') {
      this.#promisePending = true;
      result.then(
        (value) => {
          this.#promisePending = false;
          this.#succeed(value);
        },
        (error) => {
          this.#promisePending = false;
          this.#fail(error);
        },
      );
    }
  }

  #callback = (error, result) => {
    if (this.#finalized) return;
    this.#finalized = true;
    if (error !== undefined && error !== null) {
      this.#postError(error);
    } else if (this.#context === undefined || !this.#context.callbackWaitsForEmptyEventLoop) {
      this.#respond(result);
    } else {
      // Deferred by one more turn so that work the function's own beforeExit listeners schedule runs first.
      beforeExitAction = () => setImmediate(() => this.#respond(result));
    }
  };

  #done = (error, result) => {
    if (this.#finalized) return;
    this.#finalized = true;
    if (error !== undefined && error !== null) this.#postError(error);
    else this.#respond(result);
  };

  #succeed = (result) => this.#done(null, result);

  #fail = (error) => this.#done(error === undefined || error === null ? 'handled' : error);

  #onLoopEmpty = () => {
    if (this.#answered) return;
    if (this.#promisePending && !this.#finalized) {
      this.#finalized = true;
      this.#postError(new NodeJsExit('The event loop is empty but the handler\'s promise has not settled; '
        + 'it never will (is a Promise left without resolve/reject?)'));
      return;
    }
    this.#finalized = true;
    this.#respond(null);
  };

  #respond(result) {
    let json;
    try {
      // JSON.stringify gives undefined for functions and symbols: those answer null like undefined does.
      json = JSON.stringify(result ?? null) ?? 'null';
    } catch (error) {
      this.#postError(error);
      return;
    }
    this.#answer(this.#client.postResponse(this.#id, json));
  }

  #postError(error) {
    console.error('Invoke Error', formatForLog(error));
    const payload = toErrorPayload(error);
    this.#answer(this.#client.postError(this.#id, payload, errorTypeHeader(payload.errorType)));
  }

  #answer(posting) {
    this.#answered = true;
    beforeExitAction = null;
    posting.then(this.#resolve, this.#reject);
  }
}
