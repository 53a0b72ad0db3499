/**
 * CPU accounting from /proc, because wall-clock numbers swing with other tenants on this 2-core VM (LIBS.md §2.1):
 * the CPU a process tree used, and the CPU used by everything outside the benchmark's own tree ("foreign" load).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

interface ProcRow {
  ppid: number;
  /** utime + stime + cutime + cstime, in ticks: over a live tree, each CPU tick is counted once. */
  ticks: number;
}

function readProcs(): Map<number, ProcRow> {
  const rows = new Map<number, ProcRow>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let text: string;
    try {
      text = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const n = (i: number) => Number(fields[i] ?? 0);
    rows.set(Number(name), { ppid: n(1), ticks: n(11) + n(12) + n(13) + n(14) });
  }
  return rows;
}

function treeTicks(root: number, rows: Map<number, ProcRow>): number {
  const children = new Map<number, number[]>();
  for (const [pid, row] of rows) {
    const list = children.get(row.ppid);
    if (list) list.push(pid);
    else children.set(row.ppid, [pid]);
  }
  let total = 0;
  const stack = [root];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    total += rows.get(pid)?.ticks ?? 0;
    stack.push(...(children.get(pid) ?? []));
  }
  return total;
}

function busyTicks(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const [, user, nice, system, , , irq, softirq] = line.trim().split(/\s+/).map(Number);
  return (user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0);
}

export interface CpuReading {
  wallMs: number;
  /** CPU ms of each named tree over the interval. */
  trees: Record<string, number>;
  /** CPU used outside the benchmark's tree, in % of one core (100 = one core fully busy). */
  foreignPct: number;
}

/** Starts measuring: named process trees (e.g. the Kindling server with its sandboxes) and the foreign load. */
export function startCpuMeter(trees: Record<string, number>): () => CpuReading {
  const first = readProcs();
  const t0 = performance.now();
  const busy0 = busyTicks();
  const own0 = treeTicks(process.pid, first);
  const start = Object.fromEntries(Object.entries(trees).map(([k, pid]) => [k, treeTicks(pid, first)]));
  return () => {
    const rows = readProcs();
    const wallMs = performance.now() - t0;
    const tickMs = 1000 / CLK_TCK;
    const foreignTicks = busyTicks() - busy0 - (treeTicks(process.pid, rows) - own0);
    return {
      wallMs,
      trees: Object.fromEntries(Object.entries(trees).map(([k, pid]) => [k, (treeTicks(pid, rows) - start[k]!) * tickMs])),
      foreignPct: Math.max(0, (foreignTicks * tickMs * 100) / wallMs),
    };
  };
}
