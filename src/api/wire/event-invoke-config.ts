/** The wire shapes of the EventInvokeConfig operations (LAMBDA_REFERENCE rows 94–98): request schema, response mapping. */
import { Type, type Static } from 'typebox';
import type { EventInvokeConfig } from '../../model/async-event.js';
import type { EventInvokeConfigInput } from '../../invoke/async/event-invoke-configs.js';

/** The service model's DestinationArn: empty, or an ARN of any service (the kind is checked by meaning later). */
const Destination = Type.Object({
  Destination: Type.Optional(
    Type.String({ maxLength: 350, pattern: '^(|arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\\-])+:([a-z]{2}(-gov)?-[a-z]+-\\d{1})?:(\\d{12})?:(.*))$' }),
  ),
});

export const EventInvokeConfigBody = Type.Object({
  MaximumRetryAttempts: Type.Optional(Type.Integer({ minimum: 0, maximum: 2 })),
  MaximumEventAgeInSeconds: Type.Optional(Type.Integer({ minimum: 60, maximum: 21600 })),
  DestinationConfig: Type.Optional(Type.Object({ OnSuccess: Type.Optional(Destination), OnFailure: Type.Optional(Destination) })),
});
export type EventInvokeConfigBody = Static<typeof EventInvokeConfigBody>;

/** An OnSuccess/OnFailure present without a Destination clears it (''). */
export function fromEventInvokeConfigBody(body: EventInvokeConfigBody): EventInvokeConfigInput {
  const input: EventInvokeConfigInput = {};
  if (body.MaximumRetryAttempts !== undefined) input.maximumRetryAttempts = body.MaximumRetryAttempts;
  if (body.MaximumEventAgeInSeconds !== undefined) input.maximumEventAgeSeconds = body.MaximumEventAgeInSeconds;
  const { OnSuccess, OnFailure } = body.DestinationConfig ?? {};
  if (OnSuccess !== undefined) input.onSuccess = OnSuccess.Destination ?? '';
  if (OnFailure !== undefined) input.onFailure = OnFailure.Destination ?? '';
  return input;
}

/** FunctionEventInvokeConfig: LastModified is epoch seconds (a JSON number), FunctionArn always qualified. */
export function toFunctionEventInvokeConfig(config: EventInvokeConfig, qualifiedArn: string): Record<string, unknown> {
  const out: Record<string, unknown> = { LastModified: config.lastModifiedMs / 1000, FunctionArn: qualifiedArn };
  if (config.maximumRetryAttempts !== undefined) out.MaximumRetryAttempts = config.maximumRetryAttempts;
  if (config.maximumEventAgeSeconds !== undefined) out.MaximumEventAgeInSeconds = config.maximumEventAgeSeconds;
  out.DestinationConfig = {
    OnSuccess: config.onSuccess === undefined ? {} : { Destination: config.onSuccess },
    OnFailure: config.onFailure === undefined ? {} : { Destination: config.onFailure },
  };
  return out;
}
