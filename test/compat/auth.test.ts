/** SigV4 on the wire: what a real SDK, a hand-signed request and a plain fetch get from a real server. */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { test } from 'node:test';
import { CreateFunctionCommand, LambdaClient, ListFunctionsCommand, LambdaServiceException } from '@aws-sdk/client-lambda';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { assertErrorResponse } from '../support/service-model.js';
import { createRecordingClient } from '../support/recording-client.js';
import type { TestServer } from '../support/test-server.js';
import { ROLE, createHello, expectAwsError, helloZip, startWorld } from './fixtures.js';
import { Sha256 } from '../support/node-sha256.js';
import { clockReading } from '../support/manual-clock.js';

const MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

/** A recording SDK client against the server with other credentials or settings; destroyed after the test. */
function clientWith(t: { after(fn: () => void): void }, server: TestServer, options: { accessKeyId?: string; secretAccessKey?: string; region?: string }) {
  const rec = createRecordingClient({
    endpoint: server.url,
    region: options.region ?? 'us-east-1',
    accessKeyId: options.accessKeyId ?? server.accessKeyId,
    secretAccessKey: options.secretAccessKey ?? server.secretAccessKey,
  });
  t.after(() => rec.client.destroy());
  return rec;
}

test('the SDK with a wrong secret gets 403 InvalidSignatureException, with an unknown key 403 UnrecognizedClientException', async (t) => {
  const { server } = await startWorld(t);
  const wrongSecret = clientWith(t, server, { secretAccessKey: 'not-the-secret' });
  await expectAwsError(wrongSecret, 'ListFunctions', wrongSecret.client.send(new ListFunctionsCommand({})), { type: 'InvalidSignatureException', status: 403, message: MISMATCH });
  const unknownKey = clientWith(t, server, { accessKeyId: 'AKIAUNKNOWNUNKNOWN00' });
  await expectAwsError(unknownKey, 'ListFunctions', unknownKey.client.send(new ListFunctionsCommand({})), {
    type: 'UnrecognizedClientException',
    status: 403,
    message: 'The security token included in the request is invalid.',
  });
  const otherRegion = clientWith(t, server, { region: 'eu-west-1' });
  await expectAwsError(otherRegion, 'ListFunctions', otherRegion.client.send(new ListFunctionsCommand({})), {
    type: 'InvalidSignatureException',
    status: 403,
    message: 'Credential should be scoped to a valid region.',
  });
});

test('a request without Authorization answers 403 MissingAuthenticationTokenException with a Date header', async (t) => {
  const { server } = await startWorld(t);
  const response = await fetch(`${server.url}/2015-03-31/functions`);
  const body = (await response.json()) as Record<string, unknown>;
  assert.equal(response.status, 403);
  assert.equal(response.headers.get('x-amzn-errortype'), 'MissingAuthenticationTokenException');
  assert.deepEqual(body, { message: 'Missing Authentication Token' });
  assertErrorResponse('ListFunctions', 'MissingAuthenticationTokenException', body);
  const date = Date.parse(response.headers.get('date') ?? '');
  assert.ok(Math.abs(date - Date.now()) < 5000, `Date header ${response.headers.get('date')}`);
});

function skewedClient(t: { after(fn: () => void): void }, server: TestServer, offsetMs: number, maxAttempts: number): LambdaClient {
  const client = new LambdaClient({
    endpoint: server.url,
    region: 'us-east-1',
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    maxAttempts,
    systemClockOffset: offsetMs,
  });
  t.after(() => client.destroy());
  return client;
}

test('a client whose clock is 10 minutes off gets 403 InvalidSignatureException naming the skew', async (t) => {
  const { server } = await startWorld(t);
  for (const [offsetMs, message] of [
    [-600_000, /^Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 5 min\.\)$/],
    [600_000, /^Signature not yet current: \d{8}T\d{6}Z is still later than \d{8}T\d{6}Z \(\d{8}T\d{6}Z \+ 5 min\.\)$/],
  ] as const) {
    const client = skewedClient(t, server, offsetMs, 1);
    const error = await client.send(new ListFunctionsCommand({})).then(
      () => assert.fail('a skewed request was accepted'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof LambdaServiceException);
    assert.equal(error.name, 'InvalidSignatureException');
    assert.equal(error.$metadata.httpStatusCode, 403);
    assert.match(error.message, message);
  }
});

test('the SDK with two attempts retries an expired signature after correcting its clock from our Date header', async (t) => {
  const { server } = await startWorld(t);
  const client = skewedClient(t, server, -600_000, 2);
  const out = await client.send(new ListFunctionsCommand({}));
  assert.equal(out.$metadata.httpStatusCode, 200);
  assert.equal(out.$metadata.attempts, 2);
  assert.ok(Math.abs(client.config.systemClockOffset) < 5000, `offset after correction: ${client.config.systemClockOffset}`);
});

test('on a machine whose clock runs 10 minutes ahead, the SDK with two attempts corrects itself from our Date header', async (t) => {
  // The SDK flags a correction (and retries "Signature not yet current") only when the skew it measures against
  // the Date header is the machine's own, so the machine clock is what runs ahead here; the server keeps real time.
  const realNow = () => performance.timeOrigin + performance.now();
  const { server } = await startWorld(t, { clock: clockReading(realNow) });
  t.mock.method(Date, 'now', () => realNow() + 600_000);
  const client = skewedClient(t, server, 0, 2);
  const out = await client.send(new ListFunctionsCommand({}));
  assert.equal(out.$metadata.httpStatusCode, 200);
  assert.equal(out.$metadata.attempts, 2);
  assert.ok(Math.abs(client.config.systemClockOffset + 600_000) < 5000, `offset after correction: ${client.config.systemClockOffset}`);
});


/** Signs `signedBody` for POST /2015-03-31/functions with smithy, then sends `sentBody` with node:http. */
async function sendSigned(
  server: TestServer,
  signedBody: string,
  sentBody: string,
  options: { applyChecksum?: boolean; headers?: Record<string, string> } = {},
): Promise<{ status: number; errorType: string | undefined; body: Record<string, unknown> }> {
  const url = new URL(server.url);
  const signer = new SignatureV4({
    service: 'lambda',
    region: 'us-east-1',
    sha256: Sha256,
    uriEscapePath: true,
    applyChecksum: options.applyChecksum ?? true,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
  });
  const signed = await signer.sign(
    new HttpRequest({
      method: 'POST',
      protocol: 'http:',
      hostname: url.hostname,
      port: Number(url.port),
      path: '/2015-03-31/functions',
      headers: { host: url.host, 'content-type': 'application/json', ...options.headers },
      body: signedBody,
    }),
  );
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: url.hostname, port: url.port, method: 'POST', path: '/2015-03-31/functions', headers: { ...signed.headers, 'content-length': Buffer.byteLength(sentBody) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const errorType = res.headers['x-amzn-errortype'];
          resolve({ status: res.statusCode ?? 0, errorType: typeof errorType === 'string' ? errorType : undefined, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} });
        });
      },
    );
    req.on('error', reject);
    req.end(sentBody);
  });
}

async function createBody(name: string): Promise<string> {
  return JSON.stringify({ FunctionName: name, Runtime: 'nodejs20.x', Handler: 'index.handler', Role: ROLE, Code: { ZipFile: (await helloZip(name)).toString('base64') } });
}

test('a signed CreateFunction whose body was changed after signing is refused with 403 and creates nothing', async (t) => {
  const { server, client } = await startWorld(t);
  const original = await createBody('signed');
  const tampered = original.replace('"signed"', '"evil01"');
  assert.equal(tampered.length, original.length);

  const control = await sendSigned(server, original, original);
  assert.equal(control.status, 201, JSON.stringify(control.body));

  const withChecksum = await sendSigned(server, await createBody('other'), tampered);
  assert.equal(withChecksum.status, 403);
  assert.equal(withChecksum.errorType, 'InvalidSignatureException');
  assert.equal(withChecksum.body.message, "The provided 'x-amz-content-sha256' header does not match what was computed.");
  assertErrorResponse('CreateFunction', 'InvalidSignatureException', withChecksum.body);

  // Without x-amz-content-sha256 (as the AWS CLI signs), the signature itself no longer matches.
  const withoutChecksum = await sendSigned(server, await createBody('other'), tampered, { applyChecksum: false });
  assert.equal(withoutChecksum.status, 403);
  assert.equal(withoutChecksum.errorType, 'InvalidSignatureException');
  assert.equal(withoutChecksum.body.message, MISMATCH);

  const listed = await client.send(new ListFunctionsCommand({}));
  assert.deepEqual(listed.Functions?.map((f) => f.FunctionName), ['signed']);
});

test('a request signed with UNSIGNED-PAYLOAD is refused with 403', async (t) => {
  const { server } = await startWorld(t);
  const body = await createBody('unsigned');
  const result = await sendSigned(server, body, body, { headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } });
  assert.equal(result.status, 403);
  assert.equal(result.errorType, 'InvalidSignatureException');
  assert.match(String(result.body.message), /UNSIGNED-PAYLOAD/);
});

test('GET /kindling/health answers 200 without credentials', async (t) => {
  const { server } = await startWorld(t);
  const response = await fetch(`${server.url}/kindling/health`);
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { status: 'ok' });
});

test('with KINDLING_AUTH=none any credentials, and none at all, are accepted', async (t) => {
  const { server } = await startWorld(t, { env: { KINDLING_AUTH: 'none' } });
  const anyone = clientWith(t, server, { accessKeyId: 'AKIAANYONEANYONE0000', secretAccessKey: 'whatever' });
  await createHello(anyone.client, 'open');
  const otherRegion = clientWith(t, server, { accessKeyId: 'AKIASOMEONEELSE00000', secretAccessKey: 'x', region: 'eu-west-1' });
  const listed = await otherRegion.client.send(new ListFunctionsCommand({}));
  assert.deepEqual(listed.Functions?.map((f) => f.FunctionName), ['open']);
  const response = await fetch(`${server.url}/2015-03-31/functions`);
  const body = (await response.json()) as { Functions: { FunctionName: string }[] };
  assert.equal(response.status, 200);
  assert.deepEqual(body.Functions.map((f) => f.FunctionName), ['open']);
  // Auth off does not switch off request checks.
  await expectAwsError(anyone, 'CreateFunction', anyone.client.send(new CreateFunctionCommand({ FunctionName: 'open', Role: ROLE, Runtime: 'nodejs20.x', Handler: 'i.h', Code: { ZipFile: await helloZip() } })), {
    type: 'ResourceConflictException',
    status: 409,
  });
});
