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
  /** utime + stime: the process itself. */
  selfTicks: number;
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
    rows.set(Number(name), { ppid: n(1), ticks: n(11) + n(12) + n(13) + n(14), selfTicks: n(11) + n(12) });
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
  /** CPU ms of each tree's root process alone (the server without its sandboxes). */
  roots: Record<string, number>;
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
  const startSelf = Object.fromEntries(Object.entries(trees).map(([k, pid]) => [k, first.get(pid)?.selfTicks ?? 0]));
  return () => {
    const rows = readProcs();
    const wallMs = performance.now() - t0;
    const tickMs = 1000 / CLK_TCK;
    const foreignTicks = busyTicks() - busy0 - (treeTicks(process.pid, rows) - own0);
    return {
      wallMs,
      trees: Object.fromEntries(Object.entries(trees).map(([k, pid]) => [k, (treeTicks(pid, rows) - start[k]!) * tickMs])),
      roots: Object.fromEntries(Object.entries(trees).map(([k, pid]) => [k, ((rows.get(pid)?.selfTicks ?? 0) - startSelf[k]!) * tickMs])),
      foreignPct: Math.max(0, (foreignTicks * tickMs * 100) / wallMs),
    };
  };
}

/** How many live descendants of `root` run `program` (argv[0]) with `needle` among their arguments (a server's runtimes). */
export function countDescendants(root: number, program: string, needle: string): number {
  const rows = readProcs();
  const children = new Map<number, number[]>();
  for (const [pid, row] of rows) children.set(row.ppid, [...(children.get(row.ppid) ?? []), pid]);
  let count = 0;
  const stack = [...(children.get(root) ?? [])];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (argv[0] === program && argv.includes(needle)) count += 1;
    } catch {
      // exited meanwhile
    }
    stack.push(...(children.get(pid) ?? []));
  }
  return count;
}

/** Waits (bounded) until other tenants use less than `thresholdPct` of one core over a 1 s window; returns the last figure. */
export async function waitForQuiet(maxMs: number, thresholdPct: number): Promise<{ foreignPct: number; waitedMs: number }> {
  const t0 = performance.now();
  for (;;) {
    const stop = startCpuMeter({});
    await new Promise((r) => setTimeout(r, 1000));
    const { foreignPct } = stop();
    const waitedMs = performance.now() - t0;
    if (foreignPct < thresholdPct || waitedMs >= maxMs) return { foreignPct, waitedMs };
  }
}
