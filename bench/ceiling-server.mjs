// The ceiling: a plain node:http server that calls the same handler in-process and answers its JSON. Any POST path
// works (the bench posts the Invoke path). Prints `listening <port>` on stdout once bound to 127.0.0.1:0.
// Run as a separate process by bench/invoke.ts, with a cleared environment, like Kindling.
import http from 'node:http';
import { handler } from './fixtures/hello.mjs';

const context = { functionName: 'hello', awsRequestId: 'ceiling', getRemainingTimeInMillis: () => 3000 };

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let event;
    try {
      event = chunks.length === 0 ? {} : JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"message":"bad json"}');
      return;
    }
    handler(event, context).then(
      (result) => {
        const body = JSON.stringify(result);
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-amz-executed-version': '$LATEST' });
        res.end(body);
      },
      (error) => {
        res.writeHead(200, { 'content-type': 'application/json', 'x-amz-function-error': 'Unhandled' });
        res.end(JSON.stringify({ errorMessage: String(error?.message ?? error) }));
      },
    );
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
