/**
 * Reads a server's database from the outside, read-only: its function log lines (table log_events) and its stored
 * async events. Sandboxes share no files with a test and have no network, so their logs are how a test sees them run.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import Database from 'better-sqlite3';

export interface StoredEvent {
  requestId: string;
  functionName: string;
  attempts: number;
  running: boolean;
  dueMs: number;
}

export interface ServerDb {
  /** The function's log messages, oldest first. */
  messages(functionName: string): string[];
  /** The JSON after `marker ` in each log line of the function that has it (handlers log `MARKER {json}`). */
  marked<T = unknown>(functionName: string, marker: string): T[];
  events(): StoredEvent[];
  close(): void;
}

export function openServerDb(dataDir: string): ServerDb {
  const db = new Database(join(dataDir, 'kindling.db'), { readonly: true, fileMustExist: true });
  const messages = db.prepare<{ functionName: string }, string>('SELECT message FROM log_events WHERE function_name = @functionName ORDER BY seq').pluck();
  const events = db.prepare<[], { request_id: string; function_name: string; attempts: number; running: number; due_ms: number }>(
    'SELECT request_id, function_name, attempts, running, due_ms FROM async_events ORDER BY seq',
  );
  return {
    messages: (functionName) => messages.all({ functionName }),
    marked<T>(functionName: string, marker: string): T[] {
      const out: T[] = [];
      for (const m of messages.all({ functionName })) {
        const at = m.indexOf(`${marker} `);
        if (at >= 0) out.push(JSON.parse(m.slice(at + marker.length + 1).trim()) as T);
      }
      return out;
    },
    events: () => events.all().map((r) => ({ requestId: r.request_id, functionName: r.function_name, attempts: r.attempts, running: r.running === 1, dueMs: r.due_ms })),
    close: () => db.close(),
  };
}

/**
 * Polls until check() returns a value other than undefined (the server works in other processes and on its own
 * schedule; there is no event to subscribe to from outside). Fails after timeoutMs, saying what it waited for.
 */
export async function waitFor<T>(what: string, check: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(20);
  }
}
