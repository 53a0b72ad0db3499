/** AddPermission, RemovePermission, GetPolicy. */
import type { FastifyInstance } from 'fastify';
import { toPolicyDocument, type PermissionInput } from '../../functions/policy-service.js';
import type { ApiDeps, RouteConfig } from '../server.js';
import { AddPermissionBody } from '../wire/requests.js';
import { functionTarget } from './targets.js';

const POLICY = '/2015-03-31/functions/:FunctionName/policy';
const cfg = (operation: string, body: RouteConfig['body'] = 'json'): { config: RouteConfig } => ({ config: { operation, body } });

export function registerPolicyRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const { policies, partition } = deps;

  app.post(POLICY, { ...cfg('AddPermission'), schema: { body: AddPermissionBody } }, async (request, reply) => {
    const target = functionTarget(request, partition);
    const b = request.body as AddPermissionBody;
    const input: PermissionInput = { statementId: b.StatementId, action: b.Action, principal: b.Principal };
    if (b.SourceArn !== undefined) input.sourceArn = b.SourceArn;
    if (b.SourceAccount !== undefined) input.sourceAccount = b.SourceAccount;
    if (b.EventSourceToken !== undefined) input.eventSourceToken = b.EventSourceToken;
    if (b.PrincipalOrgID !== undefined) input.principalOrgId = b.PrincipalOrgID;
    if (b.FunctionUrlAuthType !== undefined) input.functionUrlAuthType = b.FunctionUrlAuthType;
    if (b.RevisionId !== undefined) input.revisionId = b.RevisionId;
    const statement = await policies.addPermission(request.accountId, target.functionName, target.qualifier, input);
    void reply.status(201);
    return { Statement: JSON.stringify(statement) };
  });

  app.delete(`${POLICY}/:StatementId`, cfg('RemovePermission', 'none'), async (request, reply) => {
    const target = functionTarget(request, partition);
    const { StatementId } = request.params as { StatementId: string };
    const revisionId = (request.query as { RevisionId?: string }).RevisionId;
    await policies.removePermission(request.accountId, target.functionName, target.qualifier, StatementId, revisionId);
    void reply.status(204);
    return null;
  });

  app.get(POLICY, cfg('GetPolicy', 'none'), async (request) => {
    const target = functionTarget(request, partition);
    const policy = await policies.getPolicy(request.accountId, target.functionName, target.qualifier);
    return { Policy: JSON.stringify(toPolicyDocument(policy)), RevisionId: policy.revisionId };
  });
}
