/**
 * Issue 4's numbers: cold starts with the pre-warmed pool (hooks for cold-phase.ts that wait for a ready spare and
 * check the start was pre-warmed, from GET /kindling/stats), a from-zero burst (time until all of N concurrent
 * requests of one hello function are answered, failures counted) and the sandbox creation rate (N distinct functions
 * invoked at once on a server without spares: environments started per second).
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { ColdHooks, ColdPlan } from './cold-phase.js';
import { deleteFunction, deployHello, helloZip } from './functions-api.js';
import { checkInvoke, RawClient } from './raw-client.js';
import { summarize, type Summary } from './stats.js';

interface Stats {
  starts: { warm: number; 'pre-warmed': number; cold: number };
  spares: { ready: number; starting: number; keys: { key: string; ready: number; starting: number }[] };
}

export async function readStats(client: RawClient): Promise<Stats> {
  const res = await client.request('GET', '/kindling/stats');
  if (res.status !== 200) throw new Error(`GET /kindling/stats answered ${res.status}`);
  return JSON.parse(res.body.toString('utf8')) as Stats;
}

/**
 * Waits (bounded) until the plan's key has a ready spare and no other spare is starting (the steady state a user's
 * cold start meets; a refill running beside a sample would take CPU from it on small machines); returns how long.
 */
async function spareReady(client: RawClient, plan: ColdPlan, timeoutMs = 30_000): Promise<number> {
  const key = `${plan.runtime}/${plan.memoryMb}/512`;
  const started = performance.now();
  for (;;) {
    const stats = await readStats(client);
    if (stats.spares.starting === 0 && stats.spares.keys.some((k) => k.key === key && k.ready > 0)) return performance.now() - started;
    if (performance.now() - started > timeoutMs) throw new Error(`no pre-warmed sandbox for ${key} within ${timeoutMs} ms`);
    await delay(5);
  }
}

/** Cold-phase hooks for a server with the pool: each sample starts once a spare is ready and must be pre-warmed. */
export function prewarmedHooks(client: RawClient): ColdHooks & { refillWaits: number[] } {
  let before = 0;
  const refillWaits: number[] = [];
  return {
    refillWaits,
    async before(plan) {
      refillWaits.push(await spareReady(client, plan));
      before = (await readStats(client)).starts['pre-warmed'];
    },
    async check() {
      const after = (await readStats(client)).starts['pre-warmed'];
      return after === before + 1 ? undefined : 'the start was not pre-warmed';
    },
  };
}

/** A key is wanted once a function of it started: one untimed start per plan before the pre-warmed samples. */
export async function primeKeys(client: RawClient, plans: readonly ColdPlan[]): Promise<void> {
  for (const plan of plans) {
    const name = `prime-${plan.runtime.replace(/\W/g, '')}-${plan.memoryMb}`;
    await deployHello(client, name, plan.runtime, plan.memoryMb, await helloZip(plan.runtime));
    const problem = checkInvoke(await client.invoke(name));
    if (problem !== undefined) throw new Error(`priming ${name}: ${problem}`);
    await deleteFunction(client, name);
  }
}

/** Cold-phase hooks for a server without the pool: every sample must be a cold start. */
export function coldHooks(client: RawClient): ColdHooks {
  let before = 0;
  return {
    async before() {
      before = (await readStats(client)).starts.cold;
    },
    async check() {
      return (await readStats(client)).starts.cold === before + 1 ? undefined : 'the start was not cold';
    },
  };
}

export interface BurstResult {
  requests: number;
  failed: number;
  firstFailure?: string;
  /** From the first request sent until the last answer arrived. */
  allAnsweredMs: number;
  latency: Summary;
  starts: Stats['starts'];
}

/** `n` concurrent invocations of a freshly deployed hello function (no environment yet), each on its own socket. */
export async function runBurst(url: string, n: number, memoryMb: number): Promise<BurstResult> {
  const client = new RawClient(url, n + 2);
  try {
    const name = `burst-${memoryMb}-${Date.now()}`;
    await deployHello(client, name, 'nodejs20.x', memoryMb, await helloZip('nodejs20.x'));
    const before = await readStats(client);
    const started = performance.now();
    const results = await Promise.all(
      Array.from({ length: n }, () =>
        client.invoke(name).then(
          (res) => ({ ms: res.ms, problem: checkInvoke(res) }),
          (error: unknown) => ({ ms: performance.now() - started, problem: String(error) }),
        ),
      ),
    );
    const allAnsweredMs = performance.now() - started;
    const after = await readStats(client);
    const failures = results.filter((r) => r.problem !== undefined);
    await deleteFunction(client, name);
    return {
      requests: n,
      failed: failures.length,
      ...(failures[0]?.problem === undefined ? {} : { firstFailure: failures[0].problem }),
      allAnsweredMs,
      latency: summarize(results.map((r) => r.ms)),
      starts: {
        warm: after.starts.warm - before.starts.warm,
        'pre-warmed': after.starts['pre-warmed'] - before.starts['pre-warmed'],
        cold: after.starts.cold - before.starts.cold,
      },
    };
  } finally {
    client.close();
  }
}

export interface CreationRateResult {
  environments: number;
  failed: number;
  seconds: number;
  perSecond: number;
}

/** `n` distinct hello functions invoked at once (each needs its own new environment): environments per second. */
export async function runCreationRate(url: string, n: number, memoryMb: number): Promise<CreationRateResult> {
  const client = new RawClient(url, n + 2);
  try {
    const zip = await helloZip('nodejs20.x');
    const names = Array.from({ length: n }, (_, i) => `rate-${memoryMb}-${i}-${Date.now()}`);
    for (const name of names) await deployHello(client, name, 'nodejs20.x', memoryMb, zip);
    const started = performance.now();
    const results = await Promise.all(names.map((name) => client.invoke(name).then(checkInvoke, (error: unknown) => String(error))));
    const seconds = (performance.now() - started) / 1000;
    for (const name of names) await deleteFunction(client, name);
    const failed = results.filter((r) => r !== undefined).length;
    return { environments: n - failed, failed, seconds, perSecond: (n - failed) / seconds };
  } finally {
    client.close();
  }
}
