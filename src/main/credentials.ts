/**
 * The server's own credentials: from configuration, or generated on first start and kept (mode 0600) in the data
 * directory, so the printed `export AWS_…` lines keep working across restarts. Also holds the key that signs
 * Code.Location links.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { join } from 'node:path';

export interface ServerSecrets {
  accessKeyId: string;
  secretAccessKey: string;
  /** base64; signs Code.Location links. */
  urlSigningKey: string;
  /** Whether the key pair was generated (not configured). */
  generated: boolean;
}

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function randomKeyId(): string {
  const bytes = randomBytes(16);
  return `AKIA${[...bytes].map((b) => ALPHANUMERIC[b % 32]).join('')}`;
}

export async function loadServerSecrets(dataDir: string, configured: { accessKeyId?: string; secretAccessKey?: string }): Promise<ServerSecrets> {
  const path = join(dataDir, 'credentials.json');
  let stored: Partial<ServerSecrets> = {};
  if (existsSync(path)) stored = JSON.parse(readFileSync(path, 'utf8')) as Partial<ServerSecrets>;
  const next: ServerSecrets = {
    accessKeyId: stored.accessKeyId ?? randomKeyId(),
    secretAccessKey: stored.secretAccessKey ?? randomBytes(30).toString('base64'),
    urlSigningKey: stored.urlSigningKey ?? randomBytes(32).toString('base64'),
    generated: true,
  };
  if (stored.accessKeyId === undefined || stored.urlSigningKey === undefined) {
    const tmp = `${path}.tmp`;
    const file = await open(tmp, 'w', 0o600);
    await file.writeFile(JSON.stringify({ accessKeyId: next.accessKeyId, secretAccessKey: next.secretAccessKey, urlSigningKey: next.urlSigningKey }));
    await file.sync();
    await file.close();
    await rename(tmp, path);
  }
  if (configured.accessKeyId !== undefined && configured.secretAccessKey !== undefined) {
    return { ...next, accessKeyId: configured.accessKeyId, secretAccessKey: configured.secretAccessKey, generated: false };
  }
  return next;
}
