#!/usr/bin/env node
// Checks the system packages Kindling needs. As root it installs what is missing with apt-get; otherwise it
// prints the exact command and exits 1. Used by `npm start` and `npm test`.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/**
 * command → Debian package: the default sandbox runs functions under bwrap, with socat bridging the Runtime API.
 * The runtimes' interpreters must be at these exact paths: a sandbox sees only the host's /usr.
 */
const REQUIRED = [
  { command: 'bwrap', package: 'bubblewrap' },
  { command: 'socat', package: 'socat' },
  { command: 'setpriv', package: 'util-linux' },
  { path: '/usr/bin/python3.11', package: 'python3.11' },
];

const major = Number(process.versions.node.split('.')[0]);
if (major < 20) {
  console.error(`kindling: Node.js 20 or newer is required (this is ${process.version}).`);
  process.exit(1);
}

const has = (command) => spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
const present = (r) => (r.path ? existsSync(r.path) : has(r.command));
const missing = REQUIRED.filter((r) => !present(r)).map((r) => r.package);
if (!existsSync('/usr/bin/node')) {
  // nodejs20.x functions run /usr/bin/node inside the sandbox; a Node installed elsewhere (nvm, /usr/local) is not visible there.
  console.error('kindling: warning: /usr/bin/node is missing, so nodejs20.x functions cannot start in the sandbox. Install Debian\'s Node.js 20 (or link it there).');
}
if (missing.length > 0) {
  const install = `apt-get install -y ${missing.join(' ')}`;
  if (process.getuid?.() === 0 && has('apt-get')) {
    console.error(`kindling: installing ${missing.join(', ')} (${install})`);
    try {
      execFileSync('sh', ['-c', `apt-get update -qq && DEBIAN_FRONTEND=noninteractive ${install}`], { stdio: 'inherit' });
    } catch {
      console.error(`kindling: could not install; run as root: apt-get update && ${install}`);
      process.exit(1);
    }
  } else {
    console.error(`kindling: missing system packages. Run as root:\n  sudo apt-get update && sudo ${install}`);
    process.exit(1);
  }
}
