/**
 * Which host environment variable slows `node` start: `node -e 0` with the host's environment against an environment
 * of only PATH, then with each host variable added alone. Rounds are interleaved so drifting foreign load hits every
 * configuration alike; medians are compared.
 */
import { spawnSync } from 'node:child_process';
import { CLEAN_PATH } from './children.js';
import { median } from './stats.js';

export interface NodeStartProbe {
  hostEnvMs: number;
  clearedEnvMs: number;
  /** Variables whose presence alone adds at least 10 ms (and a third of the host/cleared gap), slowest first. */
  culprits: { name: string; value: string; addedMs: number; withoutItHostEnvMs: number }[];
  /** Every variable's added median, for the JSON record. */
  perVariableMs: Record<string, number>;
}

function timeNode(env: NodeJS.ProcessEnv): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, ['-e', '0'], { env, stdio: 'ignore' });
  if (r.status !== 0) throw new Error(`node -e 0 failed: ${String(r.error ?? r.status)}`);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

function measure(configs: Record<string, NodeJS.ProcessEnv>, rounds: number): Record<string, number> {
  const samples: Record<string, number[]> = Object.fromEntries(Object.keys(configs).map((k) => [k, []]));
  for (let r = 0; r < rounds; r++) for (const [k, env] of Object.entries(configs)) samples[k]!.push(timeNode(env));
  return Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
}

export function probeNodeStart(): NodeStartProbe {
  const host = { ...process.env };
  const cleared = { PATH: CLEAN_PATH };
  timeNode(cleared); // page cache
  const base = measure({ host, cleared }, 15);
  const names = Object.keys(host).filter((k) => k !== 'PATH' && host[k] !== undefined);
  const single = measure({ cleared, ...Object.fromEntries(names.map((k) => [k, { ...cleared, [k]: host[k] }])) }, 5);
  const perVariableMs = Object.fromEntries(names.map((k) => [k, single[k]! - single.cleared!]));
  const gap = base.host! - base.cleared!;
  const suspects = names.filter((k) => perVariableMs[k]! >= Math.max(10, gap / 3)).sort((a, b) => perVariableMs[b]! - perVariableMs[a]!);
  const culprits = suspects.slice(0, 3).map((name) => {
    const without = { ...host };
    delete without[name];
    const confirm = measure({ cleared, withIt: { ...cleared, [name]: host[name] }, hostWithout: without }, 11);
    return { name, value: host[name]!, addedMs: confirm.withIt! - confirm.cleared!, withoutItHostEnvMs: confirm.hostWithout! };
  });
  return { hostEnvMs: base.host!, clearedEnvMs: base.cleared!, culprits, perVariableMs };
}
