/**
 * Kindling's own addition to a pre-warmed environment's Runtime API (not part of Lambda's): the generic bootstrap,
 * started before any function was chosen, long-polls `GET /kindling/binding`; the platform answers it once, with the
 * function's settings, when it binds the sandbox to a function. Before that the runtime endpoints answer 403 (a
 * runtime cannot report ready or failed before it has a function); after it the binding endpoint answers 403, so
 * nothing asks twice and nothing else ever reads the settings. Listeners of ordinary environments answer 404 there.
 */
import type { ServerResponse } from 'node:http';
import { RuntimeApiError } from './errors.js';
import { CLOSING, forbidden, reply } from './replies.js';

export const BINDING_PATH = '/kindling/binding';
const ALREADY_BOUND = forbidden('AlreadyBound', 'This environment is bound to its function already');
const ALREADY_WAITING = forbidden('AlreadyWaiting', 'A binding request is already waiting');
export const NOT_BOUND = forbidden('NotBound', 'This environment is not bound to a function yet');

export class BindingGate {
  #state: 'waiting' | 'parked' | 'bound' | 'closed' = 'waiting';
  #parked: ServerResponse | undefined;
  #settleParked: (() => void) | undefined;
  #failParked: ((error: RuntimeApiError) => void) | undefined;
  /** Resolves once the runtime waits for its binding (the pre-warmed environment is ready); rejects when closed first. */
  readonly parked: Promise<void>;

  constructor() {
    this.parked = new Promise<void>((resolve, reject) => {
      this.#settleParked = resolve;
      this.#failParked = reject;
    });
    this.parked.catch(() => {});
  }

  get bound(): boolean {
    return this.#state === 'bound';
  }

  /** GET /kindling/binding. */
  request(res: ServerResponse): void {
    if (this.#state === 'bound') return reply(res, ALREADY_BOUND);
    if (this.#state === 'closed') return reply(res, CLOSING);
    if (this.#state === 'parked' && this.#parked && !this.#parked.destroyed) return reply(res, ALREADY_WAITING);
    this.#state = 'parked';
    this.#parked = res;
    this.#settleParked?.();
  }

  /** Answers the waiting binding request with `settings` (JSON). Throws unless a request waits and none was answered. */
  bind(settings: Buffer): void {
    const res = this.#parked;
    if (this.#state !== 'parked' || !res || res.destroyed) {
      throw new RuntimeApiError('ERR_RUNTIME_API_INVALID_TRANSITION', `cannot bind: the binding request is ${res?.destroyed ? 'gone' : this.#state}`);
    }
    this.#state = 'bound';
    this.#parked = undefined;
    res.writeHead(200, ['Content-Type', 'application/json', 'Content-Length', String(settings.length)]);
    res.end(settings);
  }

  close(): void {
    if (this.#state === 'bound' || this.#state === 'closed') return;
    this.#state = 'closed';
    this.#failParked?.(new RuntimeApiError('ERR_RUNTIME_API_CLOSED', 'the Runtime API was closed before the environment was bound'));
    const res = this.#parked;
    this.#parked = undefined;
    if (res && !res.destroyed) reply(res, CLOSING);
  }
}
