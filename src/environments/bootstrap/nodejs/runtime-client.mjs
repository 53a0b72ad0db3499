// The Runtime API 2018-06-01 client (LAMBDA_REFERENCE §3.1): plain HTTP/1.1 on one kept-alive connection, over TCP
// (AWS_LAMBDA_RUNTIME_API) or straight over the environment's Unix socket when the platform hands its path over
// (no relay in between: it cost a wait at start and CPU on every request).
import http from 'node:http';

const PREFIX = '/2018-06-01/runtime';

/** Thrown when the Runtime API cannot be reached or answers /next with anything but 200: the runtime must exit. */
export class RuntimeApiUnavailable extends Error {
  constructor(message, options) {
    super(message, options);
    this.name = 'RuntimeApiUnavailable';
  }
}

export class RuntimeClient {
  #agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  /** Where requests go: { hostname, port } or { socketPath }, spread into every http.request. */
  #target;

  /**
   * @param target { address } with AWS_LAMBDA_RUNTIME_API ('host:port', '[v6]:port' too, no scheme, no path), or
   *               { socketPath } with the absolute path of the Runtime API's Unix socket.
   */
  constructor(target) {
    if (target.socketPath !== undefined) {
      this.#target = { socketPath: target.socketPath };
      return;
    }
    const address = target.address;
    const colon = address.lastIndexOf(':');
    const host = colon === -1 ? address : address.slice(0, colon);
    this.#target = {
      hostname: host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host,
      port: colon === -1 ? 80 : Number(address.slice(colon + 1)),
    };
  }

  /** Long-polls for the next event (no timeout: the sandbox may be frozen while waiting). → { headers, body } */
  async next() {
    const res = await this.#send('GET', `${PREFIX}/invocation/next`, undefined, undefined);
    if (res.status !== 200) {
      throw new RuntimeApiUnavailable(`GET /runtime/invocation/next answered ${res.status}: ${res.body}`);
    }
    return res;
  }

  /**
   * Pre-warmed environments only (Kindling's own endpoint, not Lambda's): waits until the platform binds this sandbox
   * to a function and returns its settings, { env }. Answered once; anything but 200 means the runtime must exit.
   */
  async binding() {
    const res = await this.#send('GET', '/kindling/binding', undefined, undefined);
    if (res.status !== 200) throw new RuntimeApiUnavailable(`GET /kindling/binding answered ${res.status}: ${res.body}`);
    return JSON.parse(res.body);
  }

  /**
   * Pre-warmed environments only, before they wait for their function: one GET and one POST that the Runtime API
   * answers 404, so that the code paths of a request with and without a body and of reading an answer are compiled
   * now (a few milliseconds in a fresh process) rather than in the function's Init Duration and first invocation.
   */
  async warmUp() {
    await this.#send('GET', '/kindling/warm-up', undefined, undefined);
    await this.#send('POST', '/kindling/warm-up', { 'content-type': 'application/json', 'content-length': 2 }, '{}');
  }

  /** Posts an already serialised JSON result. */
  postResponse(requestId, json) {
    return this.#post(`${PREFIX}/invocation/${encodeURIComponent(requestId)}/response`, json, undefined);
  }

  /** Posts {errorType, errorMessage, trace} for one invocation. */
  postError(requestId, payload, errorType) {
    return this.#post(`${PREFIX}/invocation/${encodeURIComponent(requestId)}/error`, JSON.stringify(payload), errorType);
  }

  postInitError(payload, errorType) {
    return this.#post(`${PREFIX}/init/error`, JSON.stringify(payload), errorType);
  }

  async #post(path, body, errorType) {
    const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
    if (errorType !== undefined) headers['lambda-runtime-function-error-type'] = errorType;
    const res = await this.#send('POST', path, headers, body);
    // 413 is the platform's to report (Function.ResponseSizeTooLarge); a 5xx means the container is broken.
    if (res.status >= 500) throw new RuntimeApiUnavailable(`POST ${path.slice(PREFIX.length)} answered ${res.status}: ${res.body}`);
    if (res.status >= 300 && res.status !== 413) {
      process.stderr.write(`[runtime] POST ${path.slice(PREFIX.length)} answered ${res.status}: ${res.body}\n`);
    }
  }

  #send(method, path, headers, body) {
    return new Promise((resolve, reject) => {
      const attempt = (retried) => {
        // servername '' skips the agent's TLS server-name guess, which for a host that is not an IPv4 literal
        // ('localhost' when socketPath is used) compiles Node's IPv6 regex: ~10 ms of the first request.
        const req = http.request({ agent: this.#agent, ...this.#target, servername: '', method, path, headers });
        req.on('response', (res) => {
          const chunks = [];
          res.on('data', (chunk) => chunks.push(chunk));
          res.on('end', () => {
            const text = chunks.length === 1 ? chunks[0].toString() : Buffer.concat(chunks).toString();
            resolve({ status: res.statusCode, headers: res.headers, body: text });
          });
          res.on('error', (error) => reject(new RuntimeApiUnavailable(`${method} ${path}: ${error.message}`, { cause: error })));
        });
        req.on('error', (error) => {
          // The server may close an idle kept-alive connection just as it is reused: one retry on a fresh one.
          if (!retried && req.reusedSocket && error.code === 'ECONNRESET') attempt(true);
          else reject(new RuntimeApiUnavailable(`${method} ${path}: ${error.message}`, { cause: error }));
        });
        req.end(body);
      };
      attempt(false);
    });
  }
}
