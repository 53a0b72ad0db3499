/**
 * Starts a real Kindling server (the same composition root as `kindling server`) in its own temp data dir on
 * 127.0.0.1:0, for tests. Register `t.after(() => server.close())` before using it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { loadConfig } from '../../src/config/config.js';
import { startStandalone, type Standalone } from '../../src/main/standalone.js';
import { pino } from 'pino';
import { createSilentLogger } from '../../src/shared/logger.js';
import type { Clock } from '../../src/shared/clock.js';
import { createRecordingClient, type RecordingClient } from './recording-client.js';

export interface TestServer {
  url: string;
  dataDir: string;
  accessKeyId: string;
  secretAccessKey: string;
  standalone: Standalone;
  /** A plain SDK client (maxAttempts 1) with the server's credentials. */
  client(): LambdaClient;
  /** An SDK client that records each raw response (for shape checks). */
  recordingClient(): RecordingClient;
  /** The server's own log lines (JSON), when started with captureLogs. */
  logs(): string[];
  close(): Promise<void>;
}

export interface TestServerOptions {
  env?: Record<string, string>;
  /** Reuse a data dir (restart tests); it is not deleted on close. */
  dataDir?: string;
  clock?: Clock;
  /** Keep the server's log lines at this level and above in memory, for a test to print when it fails. */
  captureLogs?: 'debug' | 'info' | 'warn';
}

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'kindling-test-')));
  const config = loadConfig({ KINDLING_PORT: '0', KINDLING_DATA_DIR: dataDir, ...options.env });
  const lines: string[] = [];
  const log = options.captureLogs ? pino({ level: options.captureLogs, base: undefined }, { write: (line: string) => void lines.push(line.trimEnd()) }) : createSilentLogger();
  const standalone = await startStandalone(config, { log, ...(options.clock ? { clock: options.clock } : {}) });
  const clients: { destroy(): void }[] = [];
  let closed = false;
  const server: TestServer = {
    url: standalone.url,
    dataDir,
    accessKeyId: standalone.secrets.accessKeyId,
    secretAccessKey: standalone.secrets.secretAccessKey,
    standalone,
    client() {
      const client = new LambdaClient({
        endpoint: standalone.url,
        region: config.region,
        credentials: { accessKeyId: standalone.secrets.accessKeyId, secretAccessKey: standalone.secrets.secretAccessKey },
        maxAttempts: 1,
      });
      clients.push(client);
      return client;
    },
    recordingClient() {
      const rec = createRecordingClient({
        endpoint: standalone.url,
        region: config.region,
        accessKeyId: standalone.secrets.accessKeyId,
        secretAccessKey: standalone.secrets.secretAccessKey,
      });
      clients.push(rec.client);
      return rec;
    },
    logs: () => lines,
    async close() {
      if (closed) return;
      closed = true;
      for (const c of clients) c.destroy();
      await standalone.close();
      if (ownDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
  return server;
}
