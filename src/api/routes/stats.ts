/**
 * GET /kindling/stats (Kindling's own, signed like every API call): runtime counters, today how invocations started
 * (warm, pre-warmed, cold) and the pre-warmed sandboxes kept, as JSON.
 */
import type { FastifyInstance } from 'fastify';
import type { ApiDeps } from '../server.js';

export function registerStatsRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.get('/kindling/stats', { config: { operation: 'GetStats', body: 'none' } }, async () => deps.stats?.() ?? {});
}
