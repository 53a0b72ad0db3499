/**
 * The cost of server-side SigV4 verification, apart from the load runs (which use KINDLING_AUTH=none): one Invoke-shaped
 * request signed once with @smithy/signature-v4 as the JS SDK signs it, then verifySigV4 over it `n` times.
 */
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { verifySigV4, type SignedRequest } from '../../src/api/auth/sigv4.js';
import { Sha256 } from '../../test/support/node-sha256.js';
import { INVOKE_PAYLOAD, invokePath } from './raw-client.js';

const ACCESS_KEY_ID = 'AKIABENCHBENCHBENCH1';
const SECRET = 'bench/secret/key/for/sigv4/verification/only';

export interface SigV4Cost {
  verifies: number;
  usPerVerify: number;
  /** Median of the per-batch figures (batches of 1,000), steadier on a shared machine. */
  usPerVerifyMedianBatch: number;
  usPerSign: number;
}

export async function measureSigV4(n = 10_000): Promise<SigV4Cost> {
  const signer = new SignatureV4({
    service: 'lambda',
    region: 'us-east-1',
    sha256: Sha256,
    uriEscapePath: true,
    applyChecksum: true,
    credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET },
  });
  const path = invokePath('hello');
  const now = Date.now();
  const sign = () =>
    signer.sign(
      new HttpRequest({
        method: 'POST',
        protocol: 'http:',
        hostname: '127.0.0.1',
        port: 9000,
        path,
        headers: {
          host: '127.0.0.1:9000',
          'content-type': 'application/json',
          'content-length': String(INVOKE_PAYLOAD.length),
          'amz-sdk-invocation-id': '2a1f0c1e-4c0e-4a8e-9d53-5f2b0b8f4a11',
          'amz-sdk-request': 'attempt=1; max=1',
          'x-amz-user-agent': 'aws-sdk-js/3.1164.0',
          'user-agent': 'aws-sdk-js/3.1164.0 ua/2.1 os/linux lang/js md/nodejs#20.20.2 api/lambda#3.1164.0',
        },
        body: INVOKE_PAYLOAD,
      }),
      { signingDate: new Date(now) },
    );
  const signed = await sign();
  const request: SignedRequest = { method: 'POST', url: path, headers: { ...signed.headers, connection: 'keep-alive' }, body: INVOKE_PAYLOAD };
  const options = { region: 'us-east-1', service: 'lambda', nowMs: now, maxSkewMs: 300_000, findSecret: (id: string) => (id === ACCESS_KEY_ID ? SECRET : undefined) };

  const check = await verifySigV4(request, options);
  if (!check.ok) throw new Error(`assertion failed: the benchmark's own signature does not verify: ${check.message}`);
  for (let i = 0; i < 1000; i++) await verifySigV4(request, options); // warm-up (JIT, signing-key cache)

  const batch = 1000;
  const batchUs: number[] = [];
  const started = process.hrtime.bigint();
  for (let done = 0; done < n; done += batch) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) await verifySigV4(request, options);
    batchUs.push(Number(process.hrtime.bigint() - t0) / 1e3 / batch);
  }
  const totalUs = Number(process.hrtime.bigint() - started) / 1e3;

  const signs = 2000;
  const s0 = process.hrtime.bigint();
  for (let i = 0; i < signs; i++) await sign();
  const usPerSign = Number(process.hrtime.bigint() - s0) / 1e3 / signs;

  batchUs.sort((a, b) => a - b);
  return {
    verifies: batchUs.length * batch,
    usPerVerify: totalUs / (batchUs.length * batch),
    usPerVerifyMedianBatch: batchUs[Math.floor(batchUs.length / 2)]!,
    usPerSign,
  };
}
