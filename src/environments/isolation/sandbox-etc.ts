import fs from 'node:fs/promises';
import path from 'node:path';

/** Lambda's sandbox user: uid 993, gid 990, name sbx_user1051. */
export const SANDBOX_UID = 993;
export const SANDBOX_GID = 990;

/**
 * The files of the sandbox's /etc, bind-mounted one by one (read-only) from a per-instance directory: only what
 * programs need to run (names of users, localhost, DNS settings, the dynamic linker's cache), none of the host's
 * accounts, keys or configuration.
 */
export const SANDBOX_ETC_FILES = ['passwd', 'group', 'hosts', 'nsswitch.conf', 'resolv.conf', 'ld.so.cache'] as const;

const PASSWD = [
  'root:x:0:0:root:/root:/sbin/nologin',
  `sbx_user1051:x:${SANDBOX_UID}:${SANDBOX_GID}::/home/sbx_user1051:/sbin/nologin`,
  'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin',
];
const GROUP = ['root:x:0:', `sbx_user1051:x:${SANDBOX_GID}:`, 'nogroup:x:65534:'];
const HOSTS = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback'];
const NSSWITCH = ['passwd: files', 'group: files', 'shadow: files', 'hosts: files dns', 'networks: files'];

/**
 * Writes the sandbox's /etc files into `dir` (mode 0755, files 0644, readable by every environment uid).
 * resolv.conf and ld.so.cache are copies of the host's (empty when the host has none).
 */
export async function writeSandboxEtc(dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: 0o755 });
  await fs.chmod(dir, 0o755);
  const lines = (items: readonly string[]): string => `${items.join('\n')}\n`;
  const contents: Record<(typeof SANDBOX_ETC_FILES)[number], string | Buffer> = {
    passwd: lines(PASSWD),
    group: lines(GROUP),
    hosts: lines(HOSTS),
    'nsswitch.conf': lines(NSSWITCH),
    'resolv.conf': await readOrEmpty('/etc/resolv.conf'),
    'ld.so.cache': await readOrEmpty('/etc/ld.so.cache'),
  };
  for (const name of SANDBOX_ETC_FILES) {
    const file = path.join(dir, name);
    await fs.writeFile(file, contents[name], { mode: 0o644 });
    await fs.chmod(file, 0o644);
  }
}

async function readOrEmpty(file: string): Promise<Buffer> {
  try {
    return await fs.readFile(file);
  } catch {
    return Buffer.alloc(0);
  }
}
