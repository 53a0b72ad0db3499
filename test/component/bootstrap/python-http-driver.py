"""Drives kindling_runtime.http_connection for python-http-connection.test.ts.

argv[1]: JSON {"target": {"tcp": "host:port"} | {"unix": path}, "defaultTimeout": seconds?, "sigpipe": bool?,
"requests": [{"method", "path", "body"?, "bodyRepeat"?: [text, count], "headers"?, "lookup"?: [names]}]}.
Sends the requests in order on one HttpConnection and prints one JSON line per request:
{"status", "headers", "body", "bodyLength", "willClose", "lookup"} or {"error": class name, "message"}.
"""

import json
import signal
import socket
import sys

sys.dont_write_bytecode = True

from kindling_runtime.http_connection import HttpConnection  # noqa: E402  (PYTHONPATH names the runtime dir)


def main():
    spec = json.loads(sys.argv[1])
    if spec.get("sigpipe"):
        # As user code may do: SIGPIPE's default action kills the process on a write to a closed peer.
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    if spec.get("defaultTimeout") is not None:
        socket.setdefaulttimeout(spec["defaultTimeout"])
    target = spec["target"]
    connection = HttpConnection.tcp(target["tcp"]) if "tcp" in target else HttpConnection.unix(target["unix"])
    for request in spec["requests"]:
        body = None
        if "body" in request:
            body = request["body"].encode("utf-8")
        elif "bodyRepeat" in request:
            text, count = request["bodyRepeat"]
            body = text.encode("utf-8") * count
        try:
            response = connection.request(request["method"], request["path"], body, request.get("headers"))
        except Exception as e:
            result = {"error": type(e).__name__, "message": str(e)}
        else:
            result = {
                "status": response.status,
                "headers": dict(response.headers.items()),
                # Long bodies are summarised: their length and first bytes.
                "body": response.body[:200].decode("latin-1"),
                "bodyLength": len(response.body),
                "willClose": response.will_close,
                "lookup": {name: response.headers.get(name) for name in request.get("lookup", [])},
            }
        print(json.dumps(result), flush=True)
    connection.close()


if __name__ == "__main__":
    main()
