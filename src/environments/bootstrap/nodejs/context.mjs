// The handler's context object (LAMBDA_REFERENCE §4.4). Own properties in the order Lambda's runtime creates them, so
// that JSON.stringify(context) matches: callbackWaitsForEmptyEventLoop, functionVersion, functionName,
// memoryLimitInMB (a string), logGroupName, logStreamName, clientContext, identity, invokedFunctionArn, awsRequestId
// (+ tenantId when the invocation has one). Functions (succeed/fail/done/getRemainingTimeInMillis) are own closures,
// so that `const { done } = context; done()` and `callSomething(context.done)` work as on Lambda.

/** What the context takes from the environment, read once at start. */
export function functionSettings(env) {
  return {
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
    functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
  };
}

/**
 * @param settings from functionSettings()
 * @param headers  the GET /next response headers (lower-case names)
 * @param completion { succeed(result), fail(error), done(error, result) } of the invocation
 */
export function createContext(settings, headers, completion) {
  const deadlineMs = Number.parseInt(headers['lambda-runtime-deadline-ms'], 10);
  const context = {
    callbackWaitsForEmptyEventLoop: true,
    succeed: completion.succeed,
    fail: completion.fail,
    done: completion.done,
    functionVersion: settings.functionVersion,
    functionName: settings.functionName,
    memoryLimitInMB: settings.memoryLimitInMB,
    logGroupName: settings.logGroupName,
    logStreamName: settings.logStreamName,
    clientContext: parseJsonHeader(headers['lambda-runtime-client-context'], 'Client Context'),
    identity: parseJsonHeader(headers['lambda-runtime-cognito-identity'], 'Cognito Identity'),
    invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
    awsRequestId: headers['lambda-runtime-aws-request-id'],
    getRemainingTimeInMillis: () => deadlineMs - Date.now(),
  };
  const tenantId = headers['lambda-runtime-aws-tenant-id'];
  if (tenantId !== undefined) context.tenantId = tenantId;
  return context;
}

function parseJsonHeader(value, what) {
  if (value === undefined || value === '') return undefined;
  try {
    return JSON.parse(value);
  } catch (error) {
    throw new Error(`Cannot parse ${what} as JSON: ${error}`);
  }
}
