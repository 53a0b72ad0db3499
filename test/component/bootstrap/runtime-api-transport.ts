// How the bootstrap tests' fake Runtime APIs listen, and the environment that points a runtime at them: TCP on
// 127.0.0.1 (AWS_LAMBDA_RUNTIME_API), or a Unix socket in a fresh temp dir (_KINDLING_RUNTIME_API_SOCKET, as the
// bubblewrap sandbox passes it).
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net, { type AddressInfo, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';

export type Transport = 'tcp' | 'unix';
export const TRANSPORTS: readonly Transport[] = ['tcp', 'unix'];

/** What AWS_LAMBDA_RUNTIME_API says when the socket is used: the sandbox's loopback address, kept for user code. */
export const ADDRESS_BESIDE_SOCKET = '127.0.0.1:9001';

/** ' (over TCP)' / ' (over a Unix socket)', for test titles. */
export function over(transport: Transport): string {
  return transport === 'tcp' ? ' (over TCP)' : ' (over a Unix socket)';
}

export interface Endpoint {
  /** The variables that lead a runtime to the server. */
  env: Record<string, string>;
  /** The socket's path (unix) or 'host:port' (tcp). */
  where: string;
  /** Removes the socket's temp dir (after the server has closed). */
  cleanup(): Promise<void>;
}

export async function listenOn(server: Server, transport: Transport): Promise<Endpoint> {
  if (transport === 'tcp') {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const where = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    return { env: { AWS_LAMBDA_RUNTIME_API: where }, where, cleanup: async () => {} };
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kindling-rapi-'));
  const where = path.join(dir, 'runtime-api.sock');
  server.listen(where);
  await once(server, 'listening');
  return {
    env: { AWS_LAMBDA_RUNTIME_API: ADDRESS_BESIDE_SOCKET, _KINDLING_RUNTIME_API_SOCKET: where },
    where,
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/**
 * A loopback port nobody listens on yet, and a way to start listening there later: the 127.0.0.1 bridge that the
 * sandbox starts beside a runtime (_KINDLING_AWAIT_BRIDGE), played by a plain TCP server.
 */
export async function laterBridge(t: { after(fn: () => unknown): void }): Promise<{ port: number; listen(): Promise<number> }> {
  const probe = net.createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return {
    port,
    async listen() {
      const bridge = net.createServer((socket) => socket.destroy());
      const listenedAt = Date.now();
      bridge.listen(port, '127.0.0.1');
      await once(bridge, 'listening');
      t.after(() => new Promise<void>((resolve) => bridge.close(() => resolve())));
      return listenedAt;
    },
  };
}

/** Polls (bounded) until a file exists: the mark a handler module writes when it has been loaded. */
export async function untilFileExists(file: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(file)) {
    if (Date.now() > deadline) throw new Error(`${file} did not appear within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
