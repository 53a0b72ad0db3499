/** Serves the zip behind a `Code.Location` link (no credentials: the link itself is signed and expires). */
import { createReadStream } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { ApiDeps } from '../server.js';
import { ApiError } from '../wire/errors.js';

export function registerCodeDownloadRoute(app: FastifyInstance, deps: ApiDeps): void {
  app.get('/kindling/code/:token', { config: { operation: 'GetCode', body: 'public' } }, async (request, reply) => {
    const link = deps.codeLocations.verify((request.params as { token: string }).token);
    if (!link || !deps.blobs.has(link.sha256Hex)) {
      throw new ApiError('AccessDeniedException', 'The code link is invalid or has expired: call GetFunction for a fresh one.');
    }
    void reply.header('content-type', 'application/zip');
    return reply.send(createReadStream(deps.blobs.pathOf(link.sha256Hex)));
  });
}
