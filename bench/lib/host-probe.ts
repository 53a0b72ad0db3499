/**
 * Which host environment variable slows `node` start: `node -e 0` with the host's environment against an environment
 * of only PATH, then with each host variable added alone. The decision uses the children's CPU time (user + system,
 * from this process's cutime/cstime), which other tenants disturb far less than wall time; wall medians are reported
 * too. Rounds are interleaved so drifting load hits every configuration alike.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { CLEAN_PATH } from './children.js';
import { median } from './stats.js';

const TICK_MS = 1000 / (Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100);

export interface StartCost {
  wallMs: number;
  cpuMs: number;
}

export interface NodeStartProbe {
  host: StartCost;
  cleared: StartCost;
  /** Variables whose presence alone adds CPU (≥ 10 ms and ≥ a third of the host/cleared gap), confirmed, slowest first. */
  culprits: { name: string; value: string; added: StartCost; hostWithoutIt: StartCost }[];
  /** Every variable's added CPU ms (screening, 2 rounds), for the JSON record. */
  perVariableCpuMs: Record<string, number>;
}

function childrenCpuTicks(): number {
  const text = readFileSync('/proc/self/stat', 'utf8');
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return Number(fields[13]) + Number(fields[14]);
}

function measure(configs: Record<string, NodeJS.ProcessEnv>, rounds: number): Record<string, StartCost> {
  const wall: Record<string, number[]> = Object.fromEntries(Object.keys(configs).map((k) => [k, []]));
  const cpu: Record<string, number> = Object.fromEntries(Object.keys(configs).map((k) => [k, 0]));
  for (let r = 0; r < rounds; r++) {
    for (const [k, env] of Object.entries(configs)) {
      const c0 = childrenCpuTicks();
      const t0 = process.hrtime.bigint();
      const result = spawnSync(process.execPath, ['-e', '0'], { env, stdio: 'ignore' });
      wall[k]!.push(Number(process.hrtime.bigint() - t0) / 1e6);
      cpu[k]! += childrenCpuTicks() - c0;
      if (result.status !== 0) throw new Error(`node -e 0 failed with ${k}: ${String(result.error ?? result.status)}`);
    }
  }
  return Object.fromEntries(Object.keys(configs).map((k) => [k, { wallMs: median(wall[k]!), cpuMs: (cpu[k]! * TICK_MS) / rounds }]));
}

const minus = (a: StartCost, b: StartCost): StartCost => ({ wallMs: a.wallMs - b.wallMs, cpuMs: a.cpuMs - b.cpuMs });

export function probeNodeStart(): NodeStartProbe {
  const host = { ...process.env };
  const cleared = { PATH: CLEAN_PATH };
  measure({ cleared }, 2); // page cache
  const base = measure({ host, cleared }, 8);
  const names = Object.keys(host).filter((k) => k !== 'PATH' && host[k] !== undefined);
  const screen = measure({ cleared, ...Object.fromEntries(names.map((k) => [k, { ...cleared, [k]: host[k] }])) }, 2);
  const perVariableCpuMs = Object.fromEntries(names.map((k) => [k, screen[k]!.cpuMs - screen.cleared!.cpuMs]));
  const gap = base.host!.cpuMs - base.cleared!.cpuMs;
  const suspects = names
    .filter((k) => perVariableCpuMs[k]! >= Math.max(10, gap / 3))
    .sort((a, b) => perVariableCpuMs[b]! - perVariableCpuMs[a]!)
    .slice(0, 2);
  const culprits = suspects.map((name) => {
    const without = { ...host };
    delete without[name];
    const confirm = measure({ cleared, withIt: { ...cleared, [name]: host[name] }, hostWithout: without }, 8);
    return { name, value: host[name]!, added: minus(confirm.withIt!, confirm.cleared!), hostWithoutIt: minus(confirm.hostWithout!, confirm.cleared!) };
  });
  return { host: base.host!, cleared: base.cleared!, culprits: culprits.filter((c) => c.added.cpuMs >= 10), perVariableCpuMs };
}
