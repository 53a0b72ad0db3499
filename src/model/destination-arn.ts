/**
 * Destinations of asynchronous invocations and dead-letter targets (LAMBDA_REFERENCE §7.1): which kind of resource
 * an ARN names. Pure, so the control plane (validation) and the async runner (delivery) agree.
 */
import { parseFunctionReference, type FunctionReference } from './arn.js';

export type DestinationKind = 'lambda' | 'sqs' | 'sns' | 'events' | 's3';

/** The service model's DestinationArn pattern (max 350 characters). */
const DESTINATION_ARN = /^arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9-]+):([a-z]{2}(-gov)?(-iso[a-z]?)?-[a-z]+-\d)?:(\d{12})?:(.*)$/;
export const MAX_DESTINATION_ARN_LENGTH = 350;

export function destinationKindOf(arn: string): DestinationKind | undefined {
  const m = DESTINATION_ARN.exec(arn);
  if (!m || arn.length > MAX_DESTINATION_ARN_LENGTH) return undefined;
  const [, , service, region, , , account, resource = ''] = m;
  switch (service) {
    case 'lambda':
      return region && account && resource.startsWith('function:') ? 'lambda' : undefined;
    case 'sqs':
    case 'sns':
      return region && account && resource !== '' ? service : undefined;
    case 'events':
      return region && account && resource.startsWith('event-bus/') ? 'events' : undefined;
    case 's3':
      return resource !== '' ? 's3' : undefined;
    default:
      return undefined;
  }
}

/** A Lambda destination's function (and qualifier), in the region and account it names. */
export function destinationFunctionOf(arn: string): (FunctionReference & { region: string; accountId: string }) | undefined {
  if (destinationKindOf(arn) !== 'lambda') return undefined;
  const ref = parseFunctionReference(arn);
  return ref?.region !== undefined && ref.accountId !== undefined ? { ...ref, region: ref.region, accountId: ref.accountId } : undefined;
}

/** Dead-letter targets are SQS queues or SNS topics only. */
export function isDeadLetterTarget(arn: string): boolean {
  const kind = destinationKindOf(arn);
  return kind === 'sqs' || kind === 'sns';
}
