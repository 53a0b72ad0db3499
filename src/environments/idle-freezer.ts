/**
 * Freezing an idle environment (no unmetered CPU between invocations) and thawing it for the next one. The freeze
 * begins once the runtime is back waiting and a short grace has passed without another invocation: back-to-back
 * invocations skip a freeze and a thaw, each a cgroup write and a wait for the kernel, on the warm path.
 */
export interface Freezable {
  freeze(): Promise<void>;
  thaw(): Promise<void>;
}

export class IdleFreezer {
  readonly #graceMs: number;
  #frozen: Promise<boolean> = Promise.resolve(false);
  /** Calls off a freeze that has not begun. */
  #cancel: (() => void) | undefined;

  constructor(graceMs: number) {
    this.#graceMs = graceMs;
  }

  /**
   * After an invocation: freezes `target` once `idle` resolves (the runtime is back in /next) and the grace has passed,
   * if `stillIdle()` then holds (no invocation began, the environment was not stopped).
   */
  schedule(target: Freezable, idle: Promise<void>, stillIdle: () => boolean): void {
    let settle!: (frozen: boolean) => void;
    this.#frozen = new Promise<boolean>((resolve) => (settle = resolve));
    let timer: NodeJS.Timeout | undefined;
    let cancelled = false;
    this.#cancel = () => {
      cancelled = true;
      if (timer === undefined) return; // not idle yet (settles when it is), or the freeze has begun
      clearTimeout(timer);
      timer = undefined;
      settle(false);
    };
    idle.then(
      () => {
        if (cancelled || !stillIdle()) return settle(false);
        timer = setTimeout(() => {
          timer = undefined;
          if (!stillIdle()) return settle(false);
          target.freeze().then(() => settle(true), () => settle(false));
        }, this.#graceMs);
        timer.unref();
      },
      () => settle(false),
    );
  }

  /** Before an invocation: calls off a freeze that has not begun, waits for one under way, and thaws if it froze. */
  async wake(target: Freezable | undefined): Promise<void> {
    this.#cancel?.();
    this.#cancel = undefined;
    if ((await this.#frozen) && target) await target.thaw();
    this.#frozen = Promise.resolve(false);
  }
}
