// The Runtime API bridge (socat: 127.0.0.1:9001 inside the sandbox → the environment's Unix socket) may start beside
// this runtime rather than before it; the platform then says so with _KINDLING_AWAIT_BRIDGE. The runtime itself
// speaks over the socket, but function code and its child processes reach the Runtime API at AWS_LAMBDA_RUNTIME_API,
// so the first invocation waits until the bridge listens. The wait overlaps the handler's load: usually it is one
// read of /proc/net/tcp. It forks nothing and opens no connection (socat forks a child per connection).
import { readFileSync } from 'node:fs';

const LIMIT_MS = 5000;

/** The port of a 'host:port' address, or undefined. */
export function portOf(address) {
  const port = Number(address?.slice(address.lastIndexOf(':') + 1));
  return Number.isInteger(port) && port > 0 && port < 65536 ? port : undefined;
}

/** Whether a /proc/net/tcp table lists a socket listening (state 0A) on 127.0.0.1:port (either byte order). */
export function listensOn(table, port) {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const locals = new Set([`0100007F:${hexPort}`, `7F000001:${hexPort}`]);
  for (const line of table.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (locals.has(fields[1]) && fields[3] === '0A') return true;
  }
  return false;
}

/** Resolves true once 127.0.0.1:port listens; false after limitMs, or when /proc/net/tcp cannot be read. */
export async function awaitBridge(port, limitMs = LIMIT_MS) {
  const deadline = Date.now() + limitMs;
  for (;;) {
    let table;
    try {
      table = readFileSync('/proc/net/tcp', 'latin1');
    } catch {
      return false;
    }
    if (listensOn(table, port)) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}
