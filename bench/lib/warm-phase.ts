/**
 * Warm latency and throughput against several targets with one raw client. Sequential samples are taken in
 * interleaved blocks (target A, B, C, …, then again in rotated order) so that drifting foreign load on the shared
 * VM lands on every target alike; each block also records the CPU the target's process tree used.
 */
import { startCpuMeter } from './cpu-meter.js';
import { RawClient, type LoadResult } from './raw-client.js';
import { summarize, type Summary } from './stats.js';

export interface Target {
  label: string;
  url: string;
  functionName: string;
  /** The server's pid: its tree (with sandboxes) is what the CPU figure covers. */
  pid: number;
  /** Sequential samples for this target (default: the run's total). */
  count?: number;
}

export interface SequentialResult {
  label: string;
  latency: Summary;
  errors: number;
  firstError?: string;
  /** CPU of the target's process tree per request, in µs. */
  cpuUsPerRequest: number;
  /** The server process alone (without its sandboxes: runtime, socat, bwrap), µs per request. */
  serverUsPerRequest: number;
  /** Mean foreign CPU during this target's blocks, % of one core. */
  foreignPct: number;
}

export async function runSequential(targets: readonly Target[], warmup: number, total: number, blocks: number): Promise<SequentialResult[]> {
  const clients = targets.map((t) => new RawClient(t.url, 1));
  try {
    for (const [i, t] of targets.entries()) await clients[i]!.sequential(t.functionName, warmup);
    const acc = targets.map(() => ({ samples: [] as number[], errors: 0, firstError: undefined as string | undefined, cpuMs: 0, rootMs: 0, foreign: [] as number[] }));
    for (let b = 0; b < blocks; b++) {
      for (let j = 0; j < targets.length; j++) {
        const i = (b + j) % targets.length;
        const t = targets[i]!;
        const stop = startCpuMeter({ target: t.pid });
        const r = await clients[i]!.sequential(t.functionName, Math.ceil((t.count ?? total) / blocks));
        const cpu = stop();
        const a = acc[i]!;
        a.samples.push(...r.samples);
        a.errors += r.errors;
        a.firstError ??= r.firstError;
        a.cpuMs += cpu.trees.target!;
        a.rootMs += cpu.roots.target!;
        a.foreign.push(cpu.foreignPct);
      }
    }
    return targets.map((t, i) => {
      const a = acc[i]!;
      return {
        label: t.label,
        latency: summarize(a.samples),
        errors: a.errors,
        ...(a.firstError === undefined ? {} : { firstError: a.firstError }),
        cpuUsPerRequest: (a.cpuMs * 1000) / a.samples.length,
        serverUsPerRequest: (a.rootMs * 1000) / a.samples.length,
        foreignPct: a.foreign.reduce((x, y) => x + y, 0) / a.foreign.length,
      };
    });
  } finally {
    for (const c of clients) c.close();
  }
}

export interface ThroughputResult extends LoadResult {
  label: string;
  clients: number;
  cpuUsPerRequest: number;
  serverUsPerRequest: number;
  /** CPU of the target's tree in % of one core (200 = both cores). */
  targetCpuPct: number;
  foreignPct: number;
}

export async function runThroughput(target: Target, clients: number, warmupMs: number, durationMs: number): Promise<ThroughputResult> {
  const client = new RawClient(target.url, clients);
  try {
    await client.closedLoop(target.functionName, clients, warmupMs);
    const stop = startCpuMeter({ target: target.pid });
    const r = await client.closedLoop(target.functionName, clients, durationMs);
    const cpu = stop();
    const ok = r.requests - r.errors;
    return {
      ...r,
      label: target.label,
      clients,
      cpuUsPerRequest: ok === 0 ? NaN : (cpu.trees.target! * 1000) / ok,
      serverUsPerRequest: ok === 0 ? NaN : (cpu.roots.target! * 1000) / ok,
      targetCpuPct: (cpu.trees.target! * 100) / cpu.wallMs,
      foreignPct: cpu.foreignPct,
    };
  } finally {
    client.close();
  }
}
