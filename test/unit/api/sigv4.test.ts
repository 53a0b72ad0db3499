import { createHash, createHmac, type BinaryLike } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SignatureV4 } from '@smithy/signature-v4';
import { HttpRequest } from '@smithy/protocol-http';
import { GetFunctionCommand, LambdaClient, ListFunctionsCommand } from '@aws-sdk/client-lambda';
import { verifySigV4, type SignedRequest, type SigV4Options } from '../../../src/api/auth/sigv4.js';
import { Sha256 } from '../../support/node-sha256.js';

const ACCESS_KEY_ID = 'AKIDLOCALTEST';
const SECRET = 'local-secret-key';
const NOW_MS = Date.UTC(2026, 10, 29, 5, 51, 38);
const FIVE_MINUTES_MS = 5 * 60_000;
const HOST = '127.0.0.1:18555';
const ARN_PATH = '/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Ahello%3A%24LATEST';
const MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

function options(overrides: Partial<SigV4Options> = {}): SigV4Options {
  return {
    region: 'us-east-1',
    service: 'lambda',
    nowMs: NOW_MS,
    maxSkewMs: FIVE_MINUTES_MS,
    findSecret: (id) => (id === ACCESS_KEY_ID ? SECRET : undefined),
    ...overrides,
  };
}


interface JsStyle {
  method?: string;
  /** already percent-encoded, as the SDK puts it on the wire */
  path: string;
  /** the decoded query smithy signs ... */
  query?: Record<string, string | string[]>;
  /** ... and the same query as the SDK writes it on the wire */
  rawQuery?: string;
  body?: string;
  headers?: Record<string, string>;
  secret?: string;
  region?: string;
  service?: string;
  signedAtMs?: number;
}

/** Signs the way @aws-sdk/client-lambda does: smithy SignatureV4 with uriEscapePath and applyChecksum. */
async function signJsStyle(spec: JsStyle): Promise<SignedRequest> {
  const body = Buffer.from(spec.body ?? '');
  const headers: Record<string, string> = {
    'amz-sdk-invocation-id': 'cc1a0276-25c5-4618-8605-96ac57d78634',
    'amz-sdk-request': 'attempt=1; max=1',
    host: HOST,
    'x-amz-user-agent': 'aws-sdk-js/3.1163.0',
    'user-agent': 'aws-sdk-js/3.1163.0 ua/2.1 os/linux lang/js md/nodejs#20.20.2 api/lambda#3.1163.0',
    ...(body.length > 0 ? { 'content-type': 'application/json', 'content-length': String(body.length) } : {}),
    ...spec.headers,
  };
  const signer = new SignatureV4({
    service: spec.service ?? 'lambda',
    region: spec.region ?? 'us-east-1',
    sha256: Sha256,
    uriEscapePath: true,
    applyChecksum: true,
    credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: spec.secret ?? SECRET },
  });
  const signed = await signer.sign(
    new HttpRequest({
      method: spec.method ?? 'GET',
      protocol: 'http:',
      hostname: '127.0.0.1',
      port: 18555,
      path: spec.path,
      query: spec.query ?? {},
      headers,
      body: body.length > 0 ? body : undefined,
    }),
    { signingDate: new Date(spec.signedAtMs ?? NOW_MS) },
  );
  return {
    method: spec.method ?? 'GET',
    url: spec.rawQuery ? `${spec.path}?${spec.rawQuery}` : spec.path,
    headers: { ...signed.headers, connection: 'keep-alive' },
    body,
  };
}

const hmac = (key: BinaryLike, data: string) => createHmac('sha256', key).update(data).digest();
const sha256Hex = (data: BinaryLike) => createHash('sha256').update(data).digest('hex');

/**
 * Signs as botocore (AWS CLI v1) does, from a canonical request written out by hand in each test:
 * no x-amz-content-sha256 header, the payload hash is the body's SHA-256.
 */
function signCliStyle(spec: {
  method: string;
  url: string;
  canonicalRequest: string;
  headers: Record<string, string>;
  signedHeaders: string;
  body?: string;
  secret?: string;
}): SignedRequest {
  // With only a Date header, the string to sign still carries the time in ISO-8601 basic form.
  const amzDate = spec.headers['x-amz-date'] ?? '20261129T055138Z';
  const date = amzDate.slice(0, 8);
  const scope = `${date}/us-east-1/lambda/aws4_request`;
  const stringToSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${sha256Hex(spec.canonicalRequest)}`;
  let key = hmac(`AWS4${spec.secret ?? SECRET}`, date);
  for (const part of ['us-east-1', 'lambda', 'aws4_request']) key = hmac(key, part);
  const signature = createHmac('sha256', key).update(stringToSign).digest('hex');
  return {
    method: spec.method,
    url: spec.url,
    headers: {
      ...spec.headers,
      'user-agent': 'aws-cli/1.45.11 md/Botocore#1.43.11',
      'accept-encoding': 'identity',
      authorization: `AWS4-HMAC-SHA256 Credential=${ACCESS_KEY_ID}/${scope}, SignedHeaders=${spec.signedHeaders}, Signature=${signature}`,
    },
    body: Buffer.from(spec.body ?? ''),
  };
}

const INVOKE_BODY = '{"a":1}';
/** CLI `lambda invoke --qualifier $LATEST`, with temporary credentials. */
function cliInvoke(body = INVOKE_BODY, secret = SECRET): SignedRequest {
  return signCliStyle({
    method: 'POST',
    url: '/2015-03-31/functions/hello/invocations?Qualifier=%24LATEST',
    headers: {
      host: HOST,
      'x-amz-date': '20261129T055138Z',
      'x-amz-invocation-type': 'RequestResponse',
      'x-amz-security-token': 'session-token',
      'content-length': String(Buffer.byteLength(body)),
    },
    signedHeaders: 'host;x-amz-date;x-amz-invocation-type;x-amz-security-token',
    canonicalRequest: [
      'POST',
      '/2015-03-31/functions/hello/invocations',
      'Qualifier=%24LATEST',
      `host:${HOST}`,
      'x-amz-date:20261129T055138Z',
      'x-amz-invocation-type:RequestResponse',
      'x-amz-security-token:session-token',
      '',
      'host;x-amz-date;x-amz-invocation-type;x-amz-security-token',
      sha256Hex(INVOKE_BODY),
    ].join('\n'),
    body,
    secret,
  });
}

const CREATE_BODY = JSON.stringify({ FunctionName: 'hello', Role: 'arn:aws:iam::000000000000:role/x', Runtime: 'nodejs20.x' });
const jsCreateFunction = (extra: Partial<JsStyle> = {}) =>
  signJsStyle({ method: 'POST', path: '/2015-03-31/functions', body: CREATE_BODY, ...extra });

function assertFailure(
  result: Awaited<ReturnType<typeof verifySigV4>>,
  errorType: string,
  message: string | RegExp,
  label = 'request',
): void {
  assert.equal(result.ok, false, `expected the ${label} to be refused`);
  if (result.ok) return;
  assert.equal(result.errorType, errorType, label);
  if (typeof message === 'string') assert.equal(result.message, message, label);
  else assert.match(result.message, message, label);
}

test('a JS SDK style POST with a JSON body verifies and names the access key', async () => {
  const req = await jsCreateFunction();
  assert.match(String(req.headers.authorization), /SignedHeaders=amz-sdk-invocation-id;amz-sdk-request;content-length;content-type;host;x-amz-content-sha256;x-amz-date;x-amz-user-agent,/);
  assert.deepEqual(await verifySigV4(req, options()), { ok: true, accessKeyId: ACCESS_KEY_ID });
});

test('a GET by function ARN verifies against the double-encoded path', async () => {
  const req = await signJsStyle({ path: ARN_PATH });
  assert.deepEqual(await verifySigV4(req, options()), { ok: true, accessKeyId: ACCESS_KEY_ID });
});

test('a path decoded before verification no longer matches', async () => {
  const req = await signJsStyle({ path: ARN_PATH });
  const decoded = { ...req, url: decodeURIComponent(ARN_PATH) };
  assertFailure(await verifySigV4(decoded, options()), 'InvalidSignatureException', MISMATCH);
});

test('a query with repeated keys and an encoded $LATEST verifies', async () => {
  const req = await signJsStyle({
    path: '/2017-03-31/tags/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Ahello',
    method: 'DELETE',
    query: { tagKeys: ['b c', 'a'], Qualifier: '$LATEST' },
    rawQuery: 'tagKeys=b%20c&tagKeys=a&Qualifier=%24LATEST',
  });
  assert.deepEqual(await verifySigV4(req, options()), { ok: true, accessKeyId: ACCESS_KEY_ID });
  const reordered = { ...req, url: req.url.replace('tagKeys=b%20c&tagKeys=a', 'tagKeys=a&tagKeys=b%20c') };
  assert.equal((await verifySigV4(reordered, options())).ok, true, 'query order on the wire must not matter');
  const changed = { ...req, url: req.url.replace('tagKeys=a', 'tagKeys=z') };
  assertFailure(await verifySigV4(changed, options()), 'InvalidSignatureException', MISMATCH);
});

test('a layer lookup query with an encoded ARN value verifies', async () => {
  const arn = 'arn:aws:lambda:us-east-1:000000000000:layer:deps:3';
  const req = await signJsStyle({
    path: '/2018-10-31/layers',
    query: { find: 'LayerVersion', Arn: arn },
    rawQuery: `find=LayerVersion&Arn=${encodeURIComponent(arn)}`,
  });
  assert.deepEqual(await verifySigV4(req, options()), { ok: true, accessKeyId: ACCESS_KEY_ID });
  // The canonical query is rebuilt from decoded values, so other spellings of the same query verify too.
  const respelled = { ...req, url: `/2018-10-31/layers?Arn=${arn.replaceAll(':', '%3a').replace('%3a', ':')}&find=Layer%56ersion` };
  assert.deepEqual(await verifySigV4(respelled, options()), { ok: true, accessKeyId: ACCESS_KEY_ID });
});

test('a CLI style request without x-amz-content-sha256 verifies with the body hash', async () => {
  const req = cliInvoke();
  assert.equal(req.headers['x-amz-content-sha256'], undefined);
  assert.deepEqual(await verifySigV4(req, options()), { ok: true, accessKeyId: ACCESS_KEY_ID });
});

test('a CLI style GET by ARN is verified with a %25-escaped canonical path', async () => {
  const req = signCliStyle({
    method: 'GET',
    url: ARN_PATH,
    headers: { host: HOST, 'x-amz-date': '20261129T055138Z' },
    signedHeaders: 'host;x-amz-date',
    canonicalRequest: [
      'GET',
      '/2015-03-31/functions/arn%253Aaws%253Alambda%253Aus-east-1%253A000000000000%253Afunction%253Ahello%253A%2524LATEST',
      '',
      `host:${HOST}`,
      'x-amz-date:20261129T055138Z',
      '',
      'host;x-amz-date',
      sha256Hex(''),
    ].join('\n'),
  });
  assert.deepEqual(await verifySigV4(req, options()), { ok: true, accessKeyId: ACCESS_KEY_ID });
});

test('a request dated by an HTTP Date header instead of x-amz-date verifies', async () => {
  const req = signCliStyle({
    method: 'GET',
    url: '/2015-03-31/functions',
    headers: { host: HOST, date: new Date(NOW_MS).toUTCString() },
    signedHeaders: 'date;host',
    canonicalRequest: ['GET', '/2015-03-31/functions', '', `date:${new Date(NOW_MS).toUTCString()}`, `host:${HOST}`, '', 'date;host', sha256Hex('')].join('\n'),
  });
  assert.deepEqual(await verifySigV4(req, options()), { ok: true, accessKeyId: ACCESS_KEY_ID });
});

test('a signature made with the wrong secret is refused', async () => {
  assertFailure(await verifySigV4(await jsCreateFunction({ secret: 'not-the-secret' }), options()), 'InvalidSignatureException', MISMATCH);
  assertFailure(await verifySigV4(cliInvoke(INVOKE_BODY, 'not-the-secret'), options()), 'InvalidSignatureException', MISMATCH);
});

test('an unknown access key is refused as an invalid security token', async () => {
  const result = await verifySigV4(await jsCreateFunction(), options({ findSecret: () => undefined }));
  assertFailure(result, 'UnrecognizedClientException', 'The security token included in the request is invalid.');
});

test('a tampered body is refused while x-amz-content-sha256 still names the old hash', async () => {
  const req = await jsCreateFunction();
  const tampered = { ...req, body: Buffer.from(CREATE_BODY.replace('hello', 'evil!')) };
  assertFailure(await verifySigV4(tampered, options()), 'InvalidSignatureException', /x-amz-content-sha256.*does not match/);
});

test('a tampered body whose x-amz-content-sha256 is updated to match is refused', async () => {
  const req = await jsCreateFunction();
  const body = Buffer.from(CREATE_BODY.replace('hello', 'evil!'));
  const tampered = { ...req, body, headers: { ...req.headers, 'x-amz-content-sha256': sha256Hex(body) } };
  assertFailure(await verifySigV4(tampered, options()), 'InvalidSignatureException', MISMATCH);
});

test('a tampered body on a CLI style request without a content hash header is refused', async () => {
  const req = cliInvoke();
  const tampered = { ...req, body: Buffer.from('{"a":666}') };
  assertFailure(await verifySigV4(tampered, options()), 'InvalidSignatureException', MISMATCH);
});

test('unsigned and streaming payloads are refused even when correctly signed', async () => {
  for (const claim of ['UNSIGNED-PAYLOAD', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD']) {
    const req = await jsCreateFunction({ headers: { 'x-amz-content-sha256': claim } });
    assert.match(String(req.headers.authorization), /x-amz-content-sha256/);
    assertFailure(await verifySigV4(req, options()), 'InvalidSignatureException', /[Uu]nsigned or streaming payloads are not accepted/);
  }
});

test('a request dated more than five minutes in the past is refused as expired', async () => {
  const req = await jsCreateFunction({ signedAtMs: NOW_MS - FIVE_MINUTES_MS - 1000 });
  assertFailure(
    await verifySigV4(req, options()),
    'InvalidSignatureException',
    'Signature expired: 20261129T054637Z is now earlier than 20261129T054638Z (20261129T055138Z - 5 min.)',
  );
});

test('a request dated more than five minutes in the future is refused as not yet current', async () => {
  const req = await jsCreateFunction({ signedAtMs: NOW_MS + FIVE_MINUTES_MS + 1000 });
  assertFailure(
    await verifySigV4(req, options()),
    'InvalidSignatureException',
    'Signature not yet current: 20261129T055639Z is still later than 20261129T055638Z (20261129T055138Z + 5 min.)',
  );
});

test('requests dated at the edges of the five minute window are accepted', async () => {
  for (const signedAtMs of [NOW_MS - FIVE_MINUTES_MS, NOW_MS + FIVE_MINUTES_MS - 1000]) {
    const req = await jsCreateFunction({ signedAtMs });
    assert.deepEqual(await verifySigV4(req, options()), { ok: true, accessKeyId: ACCESS_KEY_ID }, new Date(signedAtMs).toISOString());
  }
});

test('a credential scoped to another region is refused', async () => {
  const req = await jsCreateFunction({ region: 'eu-west-1' });
  assertFailure(await verifySigV4(req, options()), 'InvalidSignatureException', 'Credential should be scoped to a valid region.');
});

test('a credential scoped to another service is refused', async () => {
  const req = await jsCreateFunction({ service: 's3' });
  assertFailure(await verifySigV4(req, options()), 'InvalidSignatureException', "Credential should be scoped to correct service: 'lambda'.");
});

test('a credential scope date that differs from x-amz-date is refused', async () => {
  const req = await jsCreateFunction();
  const auth = String(req.headers.authorization).replace('/20261129/', '/20261128/');
  assertFailure(
    await verifySigV4({ ...req, headers: { ...req.headers, authorization: auth } }, options()),
    'InvalidSignatureException',
    /'20261128' != '20261129', from '20261129T055138Z'/,
  );
});

test('changing a signed header is refused but changing an unsigned one is not', async () => {
  const req = cliInvoke();
  const eventInvoke = { ...req, headers: { ...req.headers, 'x-amz-invocation-type': 'Event' } };
  assertFailure(await verifySigV4(eventInvoke, options()), 'InvalidSignatureException', MISMATCH);
  const otherHost = { ...req, headers: { ...req.headers, host: '127.0.0.1' } };
  assertFailure(await verifySigV4(otherHost, options()), 'InvalidSignatureException', MISMATCH);
  const otherAgent = { ...req, headers: { ...req.headers, 'user-agent': 'curl/8', 'x-forwarded-for': '10.0.0.1' } };
  assert.deepEqual(await verifySigV4(otherAgent, options()), { ok: true, accessKeyId: ACCESS_KEY_ID });
});

test('a request without an Authorization header is refused as missing a token', async () => {
  const req = await jsCreateFunction();
  const { authorization: _dropped, ...headers } = req.headers;
  assertFailure(await verifySigV4({ ...req, headers }, options()), 'MissingAuthenticationTokenException', 'Missing Authentication Token');
});

test('a presigned query string is refused as an incomplete signature', async () => {
  const req: SignedRequest = {
    method: 'GET',
    url: '/2015-03-31/functions?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=x&X-Amz-Signature=00',
    headers: { host: HOST },
    body: Buffer.alloc(0),
  };
  assertFailure(await verifySigV4(req, options()), 'IncompleteSignatureException', /presigned/);
});

test('malformed Authorization headers are refused as incomplete signatures naming the problem', async () => {
  const good = await jsCreateFunction();
  const auth = String(good.headers.authorization);
  const withAuth = (authorization: string) => ({ ...good, headers: { ...good.headers, authorization } });
  const cases: Array<[string, SignedRequest, RegExp]> = [
    ['another algorithm', withAuth(auth.replace('AWS4-HMAC-SHA256', 'AWS4-HMAC-SHA1')), /Unsupported Authorization algorithm 'AWS4-HMAC-SHA1'/],
    ['a bearer token', withAuth('Bearer abc'), /Unsupported Authorization algorithm 'Bearer'/],
    ['no Signature', withAuth(auth.replace(/, Signature=[0-9a-f]+/, '')), /^Authorization header requires 'Signature' parameter\.$/],
    ['no Credential or SignedHeaders', withAuth('AWS4-HMAC-SHA256 Signature=abc'), /requires 'Credential' parameter\. .*requires 'SignedHeaders' parameter/],
    ['a four-part scope', withAuth(auth.replace('/us-east-1/', '/')), /Credential must have the form/],
    ['a bad terminator', withAuth(auth.replace('aws4_request', 'aws5_request')), /valid terminator: 'aws4_request', not 'aws5_request'/],
    ['a short signature', withAuth(auth.replace(/Signature=[0-9a-f]+/, 'Signature=abcd')), /Signature must be 64/],
    ['host not signed', withAuth(auth.replace('host;', '')), /'Host' must be a 'SignedHeader'/],
    ['an uppercase signed header', withAuth(auth.replace('host;', 'Host;')), /SignedHeaders must be/],
  ];
  for (const [label, req, message] of cases) {
    assertFailure(await verifySigV4(req, options()), 'IncompleteSignatureException', message, label);
  }
  const { 'x-amz-date': _date, ...noDate } = good.headers;
  assertFailure(await verifySigV4({ ...good, headers: noDate }, options()), 'IncompleteSignatureException', /either a 'X-Amz-Date' or a 'Date' header/);
  const badDate = { ...good, headers: { ...good.headers, 'x-amz-date': '20261332T055138Z' } };
  assertFailure(await verifySigV4(badDate, options()), 'IncompleteSignatureException', /ISO-8601 'basic format'\. Got '20261332T055138Z'/);
});

test('the real Lambda SDK is accepted with the right secret and refused with a wrong one', async (t) => {
  const seenUrls: string[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      seenUrls.push(req.url ?? '');
      const request = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body: Buffer.concat(chunks) };
      verifySigV4(request, options({ nowMs: Date.now() })).then((result) => {
        if (result.ok) {
          res.writeHead(200, { 'content-type': 'application/json' }).end('{"Functions":[]}');
        } else {
          res.writeHead(403, { 'content-type': 'application/json', 'x-amzn-ErrorType': result.errorType });
          res.end(JSON.stringify({ message: result.message }));
        }
      }, (error: unknown) => res.writeHead(500).end(String(error)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = (secretAccessKey: string) => {
    const c = new LambdaClient({ endpoint, region: 'us-east-1', maxAttempts: 1, credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey } });
    t.after(() => c.destroy());
    return c;
  };

  const good = client(SECRET);
  const list = await good.send(new ListFunctionsCommand({}));
  assert.deepEqual(list.Functions, []);
  await good.send(new GetFunctionCommand({ FunctionName: 'arn:aws:lambda:us-east-1:000000000000:function:hello:$LATEST' }));
  assert.equal(seenUrls.at(-1), ARN_PATH);

  const bad = client('not-the-secret');
  await assert.rejects(bad.send(new ListFunctionsCommand({})), (error: Error & { $metadata?: { httpStatusCode?: number } }) => {
    assert.equal(error.name, 'InvalidSignatureException');
    assert.equal(error.message, MISMATCH);
    assert.equal(error.$metadata?.httpStatusCode, 403);
    return true;
  });
});
