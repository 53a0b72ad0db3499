/**
 * Where a warm invocation's server CPU goes: Kindling under --cpu-prof, N sequential warm invokes of the hello-world
 * (1769 MB), then the profile's self time grouped by module and by function. Run by hand:
 *
 *   node --import tsx bench/profile-warm.ts [--n 3000] [--freeze true|false]
 *
 * The profile (.cpuprofile, loadable in Chrome DevTools) stays under .cache/bench/prof/.
 */
import { readdir, readFile, rm, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT, startKindling } from './lib/children.js';
import { deployHello, helloZip } from './lib/functions-api.js';
import { RawClient } from './lib/raw-client.js';
import { fmt, summarize } from './lib/stats.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  startTime: number;
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const { values } = parseArgs({ options: { n: { type: 'string', default: '3000' }, freeze: { type: 'string', default: 'true' } } });
const N = Number(values.n);

function moduleOf(url: string): string {
  if (url === '') return '(native/gc/idle)';
  if (url.startsWith('node:')) return url.split('/').slice(0, 2).join('/');
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return `npm:${rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  const src = url.indexOf('/src/');
  return src >= 0 ? url.slice(src + 1) : url;
}

async function main(): Promise<void> {
  const dir = join(REPO_ROOT, '.cache', 'bench', 'prof');
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const kindling = await startKindling({
    freezeIdle: values.freeze === 'true',
    uidRange: '250000-259999',
    nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`],
  });
  const client = new RawClient(kindling.url, 1);
  // V8's profile timestamps and process.hrtime are both CLOCK_MONOTONIC (µs / ns): the window selects the measured run.
  let window: [number, number] = [0, Infinity];
  try {
    await deployHello(client, 'hello-1769', 'nodejs20.x', 1769, await helloZip('nodejs20.x'));
    await client.sequential('hello-1769', 300);
    const w0 = Number(process.hrtime.bigint() / 1000n);
    const r = await client.sequential('hello-1769', N);
    window = [w0, Number(process.hrtime.bigint() / 1000n)];
    const s = summarize(r.samples);
    console.log(`${N} warm invokes (freeze ${values.freeze}): p50 ${fmt(s.p50)} ms, p99 ${fmt(s.p99)} ms, errors ${r.errors}`);
  } finally {
    client.close();
    await kindling.stop();
  }
  // One file per thread (CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile): the main thread is thread 0, sorted first.
  const file = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile')).sort()[0];
  if (!file) throw new Error('no .cpuprofile written');
  const profile = JSON.parse(await readFile(join(dir, file), 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    at += profile.timeDeltas[i] ?? 0;
    if (at >= window[0] && at <= window[1]) selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const byModule = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let total = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    if (frame.functionName === '(idle)' || frame.functionName === '(program)') continue;
    total += us;
    const mod = moduleOf(frame.url);
    byModule.set(mod, (byModule.get(mod) ?? 0) + us);
    const fn = `${frame.functionName || '(anonymous)'} ${mod}:${frame.lineNumber + 1}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
  }
  const windowMs = (window[1] - window[0]) / 1000;
  console.log(`\nprofile ${join(dir, file)}: during the ${N} measured invokes (${fmt(windowMs)} ms), the main thread was busy ${fmt(total / 1000)} ms = ${fmt(total / N)} µs per invoke`);
  console.log('(V8 samples wall time: a busy main thread descheduled by other load still counts as busy)');
  const top = (m: Map<string, number>, k: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, k);
  console.log('\nself time by module (% of busy, µs per invoke):');
  for (const [mod, us] of top(byModule, 20)) console.log(`  ${fmt((us / total) * 100).padStart(6)}%  ${fmt(us / N).padStart(7)} µs  ${mod}`);
  console.log('\nself time by function:');
  for (const [fn, us] of top(byFunction, 30)) console.log(`  ${fmt((us / total) * 100).padStart(6)}%  ${fn}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
