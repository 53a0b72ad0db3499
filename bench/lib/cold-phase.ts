/**
 * Cold starts. Method: N distinct functions are deployed up front (API work, untimed); each one's first invocation
 * is timed (it must start a new environment: sandbox + runtime + handler import), then the function is deleted, which
 * stops its environment before the next sample, so no teardown overlaps a measured start. Interleaved across
 * runtimes, each sample followed by the bare runtime start on the host (cleared env) as the same-run baseline.
 */
import { CLEAN_PATH, runTimed } from './children.js';
import { deleteFunction, deployHello, helloZip, parseReport, type BenchRuntime } from './functions-api.js';
import { checkInvoke, type RawClient } from './raw-client.js';
import { summarize, type Summary } from './stats.js';

export interface ColdPlan {
  runtime: BenchRuntime;
  memoryMb: number;
  count: number;
}

export interface ColdResult extends ColdPlan {
  errors: string[];
  /** Client-observed Invoke latency. */
  client: Summary;
  /** The REPORT line's Init Duration. */
  init: Summary;
  /** The REPORT line's Duration (the first invocation itself). */
  duration: Summary;
  /** client − init − duration: API, pool, code lookup, sandbox bookkeeping outside the init window. */
  outside: Summary;
  /** The bare runtime on the host: `node -e 0` / `python3.11 -c pass`, cleared env. */
  bareRuntime: Summary;
  /** DeleteFunction (stops the environment): what a replaced environment costs, off the measured path here. */
  teardown: Summary;
}

const BARE: Record<BenchRuntime, [string, string[]]> = {
  'nodejs20.x': ['/usr/bin/node', ['-e', '0']],
  'python3.11': ['/usr/bin/python3.11', ['-c', 'pass']],
};

function nameOf(plan: ColdPlan, i: number): string {
  return `cold-${plan.runtime.replace(/\W/g, '')}-${plan.memoryMb}-${i}`;
}

/**
 * Around each sample (untimed): `before` waits for what the sample needs (a ready pre-warmed sandbox), `check` says
 * what is wrong with the start that just happened (e.g. it was not the kind measured), or undefined.
 */
export interface ColdHooks {
  before?(plan: ColdPlan): Promise<void>;
  check?(plan: ColdPlan): Promise<string | undefined>;
}

export async function runColdPhase(client: RawClient, plans: readonly ColdPlan[], hooks: ColdHooks = {}): Promise<ColdResult[]> {
  const zips = new Map<BenchRuntime, Buffer>();
  for (const plan of plans) if (!zips.has(plan.runtime)) zips.set(plan.runtime, await helloZip(plan.runtime));
  for (const plan of plans) for (let i = 0; i < plan.count; i++) await deployHello(client, nameOf(plan, i), plan.runtime, plan.memoryMb, zips.get(plan.runtime)!);

  const raw = plans.map(() => ({ client: [] as number[], init: [] as number[], duration: [] as number[], outside: [] as number[], bare: [] as number[], teardown: [] as number[], errors: [] as string[] }));
  const rounds = Math.max(...plans.map((p) => p.count));
  for (let i = 0; i < rounds; i++) {
    for (const [k, plan] of plans.entries()) {
      if (i >= plan.count) continue;
      const r = raw[k]!;
      const name = nameOf(plan, i);
      await hooks.before?.(plan);
      const res = await client.invoke(name, { 'x-amz-log-type': 'Tail' });
      const problem = checkInvoke(res) ?? (await hooks.check?.(plan));
      const report = parseReport(res.headers['x-amz-log-result']);
      if (problem !== undefined || report?.initMs === undefined) {
        r.errors.push(problem ?? `no Init Duration in the REPORT of ${name} (not a cold start?)`);
      } else {
        r.client.push(res.ms);
        r.init.push(report.initMs);
        r.duration.push(report.durationMs);
        r.outside.push(res.ms - report.initMs - report.durationMs);
      }
      const [command, args] = BARE[plan.runtime];
      r.bare.push((await runTimed(command, args, { PATH: CLEAN_PATH })).ms);
      const d0 = performance.now();
      await deleteFunction(client, name);
      r.teardown.push(performance.now() - d0);
    }
  }
  return plans.map((plan, k) => {
    const r = raw[k]!;
    return {
      ...plan,
      errors: r.errors,
      client: summarize(r.client),
      init: summarize(r.init),
      duration: summarize(r.duration),
      outside: summarize(r.outside),
      bareRuntime: summarize(r.bare),
      teardown: summarize(r.teardown),
    };
  });
}
