// console.* as Lambda's Node runtime prints it (LAMBDA_REFERENCE §5.2): every call is one line on stdout, Text
// `<ISO>\t<requestId>\t<LEVEL>\t<util.format(...)>` with embedded newlines turned into \r (one call = one log event),
// or, with AWS_LAMBDA_LOG_FORMAT=JSON, one JSON object filtered by AWS_LAMBDA_LOG_LEVEL (Lambda filters only in JSON).
import { format } from 'node:util';

const PRIORITY = { TRACE: 1, DEBUG: 2, INFO: 3, WARN: 4, ERROR: 5, FATAL: 6 };

const METHODS = [
  ['trace', 'TRACE'], ['debug', 'DEBUG'], ['info', 'INFO'], ['log', 'INFO'], ['warn', 'WARN'], ['error', 'ERROR'],
  ['fatal', 'FATAL'],
];

// The invocation the lines belong to; `undefined` (printed as such) until the first invocation, like Lambda.
let requestId;
let tenantId;

export function setLogContext(id, tenant) {
  requestId = id;
  tenantId = tenant;
}

/** Replaces the console's level methods. `logFormat`/`logLevel` are the AWS_LAMBDA_LOG_FORMAT/_LEVEL values. */
export function patchConsole(logFormat, logLevel) {
  const json = typeof logFormat === 'string' && logFormat.toUpperCase() === 'JSON';
  const minimum = json ? (PRIORITY[String(logLevel ?? '').toUpperCase()] ?? PRIORITY.TRACE) : PRIORITY.TRACE;
  const out = process.stdout;
  for (const [method, level] of METHODS) {
    if (PRIORITY[level] < minimum) {
      console[method] = noop;
    } else if (json) {
      console[method] = (...args) => { out.write(`${jsonLine(level, args)}\n`); };
    } else {
      const tag = `\t${level}\t`;
      console[method] = (...args) => {
        const line = `${new Date().toISOString()}\t${requestId}${tag}${format(...args)}`;
        out.write(`${line.includes('\n') ? line.replace(/\n/g, '\r') : line}\n`);
      };
    }
  }
}

function noop() {}

function jsonLine(level, args) {
  const record = { timestamp: new Date().toISOString(), level, requestId };
  if (tenantId !== undefined) record.tenantId = tenantId;
  if (args.length === 1) {
    // A single argument is kept as a value (objects stay objects); errors become {errorType, errorMessage, stackTrace}.
    record.message = args[0];
    try {
      return JSON.stringify(record, jsonErrorReplacer);
    } catch {
      record.message = format(args[0]);
      return JSON.stringify(record);
    }
  }
  record.message = format(...args);
  const error = args.find((arg) => arg instanceof Error);
  if (error !== undefined) Object.assign(record, errorFields(error));
  return JSON.stringify(record);
}

function jsonErrorReplacer(_key, value) {
  return value instanceof Error ? { ...errorFields(value), ...value } : value;
}

function errorFields(error) {
  return {
    errorType: error.constructor?.name ?? 'UnknownError',
    errorMessage: error.message,
    stackTrace: typeof error.stack === 'string' ? error.stack.split('\n') : [],
  };
}
