/** Resource-based policies: AddPermission / RemovePermission / GetPolicy (LAMBDA_REFERENCE §1.2). */
import { arnPartition } from '../model/arn.js';
import { LATEST, type PolicyStatement, type ResourcePolicy } from '../model/function.js';
import { MAX_POLICY_BYTES } from '../model/limits.js';
import { newRevisionId } from '../shared/ids.js';
import { StoreError, type Store } from '../store/store.js';
import { FunctionsError, revisionMismatch } from './errors.js';
import type { FunctionService } from './function-service.js';

export interface PermissionInput {
  statementId: string;
  action: string;
  principal: string;
  sourceArn?: string;
  sourceAccount?: string;
  eventSourceToken?: string;
  principalOrgId?: string;
  functionUrlAuthType?: string;
  revisionId?: string;
}

export class PolicyService {
  readonly #store: Store;
  readonly #functions: FunctionService;

  constructor(deps: { store: Store; functions: FunctionService }) {
    this.#store = deps.store;
    this.#functions = deps.functions;
  }

  async addPermission(accountId: string, functionName: string, qualifier: string | undefined, input: PermissionInput): Promise<PolicyStatement> {
    if (qualifier === LATEST) throw new FunctionsError('ERR_INVALID_PARAMETER', 'We currently do not support adding policies for $LATEST.');
    await this.#functions.resolve(accountId, functionName, qualifier);
    const current = await this.#store.policies.findPolicy(accountId, functionName, qualifier ?? '');
    if (input.revisionId !== undefined && input.revisionId !== current?.revisionId) throw revisionMismatch('GetPolicy');
    const statements = current?.statements ?? [];
    if (statements.some((s) => s.Sid === input.statementId)) {
      throw new FunctionsError(
        'ERR_CONFLICT',
        `The statement id (${input.statementId}) provided already exists. Please provide a new statement id, or remove the existing statement.`,
      );
    }
    const statement = this.#render(functionName, qualifier, input);
    const next: ResourcePolicy = {
      accountId,
      functionName,
      qualifier: qualifier ?? '',
      statements: [...statements, statement],
      revisionId: newRevisionId(),
    };
    if (Buffer.byteLength(JSON.stringify(toPolicyDocument(next))) > MAX_POLICY_BYTES) {
      throw new FunctionsError('ERR_POLICY_TOO_LARGE', `The final policy size (${Buffer.byteLength(JSON.stringify(toPolicyDocument(next)))}) is bigger than the limit (${MAX_POLICY_BYTES}).`);
    }
    await this.#save(next, current?.revisionId);
    return statement;
  }

  async removePermission(accountId: string, functionName: string, qualifier: string | undefined, statementId: string, revisionId?: string): Promise<void> {
    await this.#functions.resolve(accountId, functionName, qualifier);
    const current = await this.#store.policies.findPolicy(accountId, functionName, qualifier ?? '');
    if (!current) throw new FunctionsError('ERR_NOT_FOUND', 'No policy is associated with the given resource.');
    if (revisionId !== undefined && revisionId !== current.revisionId) throw revisionMismatch('GetPolicy');
    if (!current.statements.some((s) => s.Sid === statementId)) {
      throw new FunctionsError('ERR_NOT_FOUND', `Statement ${statementId} is not found in resource policy.`);
    }
    await this.#save({ ...current, statements: current.statements.filter((s) => s.Sid !== statementId), revisionId: newRevisionId() }, current.revisionId);
  }

  async getPolicy(accountId: string, functionName: string, qualifier: string | undefined): Promise<ResourcePolicy> {
    await this.#functions.resolve(accountId, functionName, qualifier);
    const policy = await this.#store.policies.findPolicy(accountId, functionName, qualifier ?? '');
    if (!policy || policy.statements.length === 0) throw new FunctionsError('ERR_NOT_FOUND', 'No policy is associated with the given resource.');
    return policy;
  }

  async #save(policy: ResourcePolicy, expectedRevisionId: string | undefined): Promise<void> {
    try {
      await this.#store.policies.savePolicy(policy, expectedRevisionId);
    } catch (error) {
      if (error instanceof StoreError && error.code === 'ERR_STORE_REVISION_MISMATCH') throw revisionMismatch('GetPolicy');
      throw error;
    }
  }

  /** IAM's rendering of one statement, as Lambda stores it. */
  #render(functionName: string, qualifier: string | undefined, input: PermissionInput): PolicyStatement {
    const statement: PolicyStatement = {
      Sid: input.statementId,
      Effect: 'Allow',
      Principal: renderPrincipal(input.principal, arnPartition(this.#functions.partition.region)),
      Action: input.action,
      Resource: this.#functions.arn(functionName, qualifier),
    };
    const condition: Record<string, Record<string, string>> = {};
    const add = (op: string, key: string, value: string | undefined) => {
      if (value !== undefined) condition[op] = { ...condition[op], [key]: value };
    };
    add('StringEquals', 'AWS:SourceAccount', input.sourceAccount);
    add('StringEquals', 'lambda:EventSourceToken', input.eventSourceToken);
    add('StringEquals', 'aws:PrincipalOrgID', input.principalOrgId);
    add('StringEquals', 'lambda:FunctionUrlAuthType', input.functionUrlAuthType);
    add('ArnLike', 'AWS:SourceArn', input.sourceArn);
    if (Object.keys(condition).length > 0) statement.Condition = condition;
    return statement;
  }
}

function renderPrincipal(principal: string, arnPartitionName: string): unknown {
  if (principal === '*') return '*';
  if (/^\d{12}$/.test(principal)) return { AWS: `arn:${arnPartitionName}:iam::${principal}:root` };
  if (principal.startsWith('arn:')) return { AWS: principal };
  return { Service: principal };
}

export function toPolicyDocument(policy: ResourcePolicy): Record<string, unknown> {
  return { Version: '2012-10-17', Id: 'default', Statement: policy.statements };
}
