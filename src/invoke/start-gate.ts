/**
 * At most N environment starts at once, the others queued in arrival order. A start is mostly CPU (sandbox, runtime,
 * the function's init): on a small node, a hundred at once share the cores so thinly that every init slows down, some
 * past the init timeout. Gated, the first environments are ready sooner and serve the requests still queued for a
 * start (the pool hands a released environment to the earliest request of its key), so a burst of short invocations
 * completes faster than it would by starting one environment per request at once.
 */
export class StartGate {
  readonly #limit: number;
  #running = 0;
  readonly #queue: (() => void)[] = [];

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new Error(`assertion failed: a start gate needs a positive limit, got ${limit}`);
    this.#limit = limit;
  }

  /** Resolves when the caller may start; it must call the returned release exactly once. */
  async enter(): Promise<() => void> {
    if (this.#running < this.#limit) {
      this.#running += 1;
    } else {
      await new Promise<void>((resolve) => this.#queue.push(resolve));
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#queue.shift();
      if (next) next(); // the slot passes straight to the next caller
      else this.#running -= 1;
    };
  }

  get running(): number {
    return this.#running;
  }

  get queued(): number {
    return this.#queue.length;
  }
}
