export interface Closeable {
  close(): Promise<void> | void;
}

/** Closes in reverse order of start; every close runs even when an earlier one fails. */
export async function closeAll(items: readonly (Closeable | undefined)[]): Promise<void> {
  let first: unknown;
  for (const item of [...items].reverse()) {
    try {
      await item?.close();
    } catch (error) {
      first ??= error;
    }
  }
  if (first !== undefined) throw first;
}
