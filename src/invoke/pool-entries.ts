/**
 * What the environment pool keeps per environment (placement.ts sees them as EnvironmentViews) and the keys it files
 * them under: an environment serves one version + code digest + configuration revision; concurrency and reservations
 * count per function.
 */
import type { ExecutionEnvironment } from '../environments/execution-environment.js';
import type { FunctionVersion } from '../model/function.js';
import type { EnvironmentView } from './placement.js';

export interface Entry {
  env: ExecutionEnvironment;
  key: string;
  functionId: string;
  memoryMb: number;
  provisioned: boolean;
  status: 'idle' | 'busy';
  lastUsedMs: number;
  reaper?: NodeJS.Timeout;
  /** Stop when released (function deleted, provisioned config reduced). */
  retiring?: boolean;
}

export interface Starting {
  id: string;
  key: string;
  functionId: string;
  memoryMb: number;
  provisioned: boolean;
}

export function environmentKey(v: FunctionVersion): string {
  return `${v.accountId}/${v.functionName}/${v.version}/${v.code.sha256Hex}/${v.revisionId}`;
}

export function versionKey(v: FunctionVersion): string {
  return `${v.accountId}/${v.functionName}/${v.version}`;
}

export function functionId(accountId: string, functionName: string): string {
  return `${accountId}/${functionName}`;
}

/** The views placement decides over: every environment, and those still starting (no environment object yet). */
export function viewsOf(entries: Iterable<Entry>, starting: Iterable<Starting>): EnvironmentView[] {
  const views: EnvironmentView[] = [];
  for (const e of entries) {
    views.push({ id: e.env.id, key: e.key, functionId: e.functionId, memoryMb: e.memoryMb, status: e.status, provisioned: e.provisioned, lastUsedMs: e.lastUsedMs });
  }
  for (const s of starting) {
    views.push({ id: s.id, key: s.key, functionId: s.functionId, memoryMb: s.memoryMb, status: 'starting', provisioned: s.provisioned, lastUsedMs: 0 });
  }
  return views;
}
