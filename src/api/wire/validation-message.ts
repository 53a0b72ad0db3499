/** Words an ajv schema failure as AWS words a model-constraint failure (LAMBDA_REFERENCE §2.1). */
export interface SchemaFailure {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
  data?: unknown;
}

export function toValidationMessage(errors: readonly SchemaFailure[]): string {
  const parts = errors.slice(0, 1).map((e) => {
    const path = memberPath(e);
    // A missing member has no value: AWS writes a bare null, every other value in quotes.
    const value = e.keyword === 'required' || e.data === undefined || e.data === null ? 'null' : `'${typeof e.data === 'string' ? e.data : JSON.stringify(e.data)}'`;
    return `Value ${value} at '${path}' failed to satisfy constraint: ${constraint(e, errors)}`;
  });
  return `${parts.length} validation error detected: ${parts.join('; ')}`;
}

/** The values an enum allows: ajv reports typebox's union of literals as one `const` failure per literal. */
function allowedValues(e: SchemaFailure, errors: readonly SchemaFailure[]): unknown[] {
  if (Array.isArray(e.params.allowedValues)) return e.params.allowedValues;
  return errors.filter((f) => f.keyword === 'const' && f.instancePath === e.instancePath).map((f) => f.params.allowedValue);
}

function memberPath(e: SchemaFailure): string {
  const segments = e.instancePath.split('/').filter(Boolean);
  if (e.keyword === 'required' && typeof e.params.missingProperty === 'string') segments.push(e.params.missingProperty);
  return segments.map((s) => (/^\d+$/.test(s) ? `${Number(s) + 1}` : s.charAt(0).toLowerCase() + s.slice(1))).join('.') || 'body';
}

function constraint(e: SchemaFailure, errors: readonly SchemaFailure[]): string {
  switch (e.keyword) {
    case 'required':
      return 'Member must not be null';
    case 'maximum':
      return `Member must have value less than or equal to ${String(e.params.limit)}`;
    case 'minimum':
      return `Member must have value greater than or equal to ${String(e.params.limit)}`;
    case 'maxLength':
    case 'maxItems':
      return `Member must have length less than or equal to ${String(e.params.limit)}`;
    case 'minLength':
    case 'minItems':
      return `Member must have length greater than or equal to ${String(e.params.limit)}`;
    case 'pattern':
      // JSON Schema patterns need ^…$ to match whole values; the model's patterns (which AWS quotes) have none.
      return `Member must satisfy regular expression pattern: ${String(e.params.pattern).replace(/^\^/, '').replace(/\$$/, '')}`;
    case 'anyOf':
    case 'const':
    case 'enum': {
      const values = allowedValues(e, errors);
      return values.length > 0 ? `Member must satisfy enum value set: [${values.map(String).join(', ')}]` : 'Member must satisfy enum value set';
    }
    case 'type':
      return `Member must be of type ${String(e.params.type)}`;
    default:
      return e.message ?? 'Member is invalid';
  }
}
