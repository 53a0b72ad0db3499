/**
 * Lambda's invocation record, the payload a destination receives (LAMBDA_REFERENCE §7.1): what was asked
 * (requestPayload), under which condition the event ended, and what its last attempt answered.
 */
import type { AttemptOutcome, DestinationCondition } from '../../model/async-event.js';

export interface DestinationRecordInput {
  requestId: string;
  /** Always qualified: `:$LATEST`, `:N` or `:alias`. */
  functionArn: string;
  condition: DestinationCondition;
  approximateInvokeCount: number;
  /** The event's payload (JSON text, checked when it was accepted). */
  requestPayload: Buffer;
  outcome?: AttemptOutcome;
  timestampMs: number;
}

export function toDestinationRecord(input: DestinationRecordInput): Buffer {
  const { outcome } = input;
  const record: Record<string, unknown> = {
    version: '1.0',
    timestamp: new Date(input.timestampMs).toISOString(),
    requestContext: {
      requestId: input.requestId,
      functionArn: input.functionArn,
      condition: input.condition,
      approximateInvokeCount: input.approximateInvokeCount,
    },
    requestPayload: parseOrText(input.requestPayload.toString('utf8')),
  };
  if (outcome) {
    record.responseContext = {
      statusCode: outcome.statusCode,
      ...(outcome.executedVersion === undefined ? {} : { executedVersion: outcome.executedVersion }),
      ...(outcome.functionError === undefined ? {} : { functionError: outcome.functionError }),
    };
    if (outcome.payload !== undefined) record.responsePayload = parseOrText(outcome.payload);
  }
  return Buffer.from(JSON.stringify(record));
}

/** A response that is not JSON (a handler can answer anything) is carried as a string. */
function parseOrText(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
