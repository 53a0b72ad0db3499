/**
 * Internal platform errors: one base class with a typed code. Each domain narrows the code union.
 * Only the API layer translates these into AWS errors (src/api/wire/errors.ts).
 */
export class PlatformError<Code extends string = string> extends Error {
  constructor(
    readonly code: Code,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = `${new.target.name} [${code}]`;
  }
}
