"""Client of the Lambda Runtime API 2018-06-01 over one keep-alive HTTP/1.1 connection."""

import http.client
import json
import sys
from urllib.parse import quote

_BASE = "/2018-06-01/runtime"


class RuntimeApiError(Exception):
    """The Runtime API cannot be reached or refused to hand out work; the runtime must exit."""


class Invocation:
    __slots__ = (
        "request_id",
        "deadline_ms",
        "invoked_function_arn",
        "trace_id",
        "client_context",
        "cognito_identity",
        "tenant_id",
        "content_type",
        "body",
    )

    def __init__(self, headers, body):
        self.request_id = headers.get("Lambda-Runtime-Aws-Request-Id") or ""
        self.deadline_ms = _int_or_zero(headers.get("Lambda-Runtime-Deadline-Ms"))
        self.invoked_function_arn = headers.get("Lambda-Runtime-Invoked-Function-Arn")
        self.trace_id = headers.get("Lambda-Runtime-Trace-Id")
        self.client_context = headers.get("Lambda-Runtime-Client-Context")
        self.cognito_identity = headers.get("Lambda-Runtime-Cognito-Identity")
        self.tenant_id = headers.get("Lambda-Runtime-Aws-Tenant-Id")
        self.content_type = headers.get("Content-Type")
        self.body = body


class RuntimeApiClient:
    def __init__(self, address):
        # AWS_LAMBDA_RUNTIME_API is host:port without a scheme; HTTPConnection parses that form.
        self._address = address
        self._connection = None

    def next_invocation(self):
        status, headers, body = self._request("GET", _BASE + "/invocation/next")
        if status != 200:
            raise RuntimeApiError("GET /next answered %d: %s" % (status, _excerpt(body)))
        invocation = Invocation(headers, body)
        if not invocation.request_id:
            raise RuntimeApiError("GET /next answered without Lambda-Runtime-Aws-Request-Id")
        return invocation

    def post_response(self, request_id, body, content_type):
        path = "%s/invocation/%s/response" % (_BASE, quote(request_id, safe=""))
        self._post(path, body, {"Content-Type": content_type})

    def post_error(self, request_id, result):
        path = "%s/invocation/%s/error" % (_BASE, quote(request_id, safe=""))
        self._post(path, _json_bytes(result), _error_headers(result))

    def post_init_error(self, result):
        self._post(_BASE + "/init/error", _json_bytes(result), _error_headers(result))

    def _post(self, path, body, headers):
        status, _, answer = self._request("POST", path, body, headers)
        # A refused answer (stale id, 413 too large, second answer) is the platform's to judge: it has
        # settled the invocation already, so the runtime only notes it and asks for the next one.
        if not 200 <= status < 300:
            sys.stderr.write("[kindling] POST %s answered %d: %s\n" % (path, status, _excerpt(answer)))

    def _request(self, method, path, body=None, headers=None):
        for attempt in (1, 2):
            reused = self._connection is not None
            if not reused:
                # No timeout: GET /next blocks for as long as the environment stays idle (even frozen).
                self._connection = http.client.HTTPConnection(self._address)
            connection = self._connection
            try:
                connection.request(method, path, body=body, headers=headers or {})
                response = connection.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as e:
                connection.close()
                self._connection = None
                # The server may have closed an idle keep-alive connection (for example while the
                # handler ran): one retry on a fresh connection. A fresh connection failing is real.
                if reused and attempt == 1:
                    continue
                raise RuntimeApiError("%s %s failed: %s" % (method, path, e)) from e
            if response.will_close:
                connection.close()
                self._connection = None
            return response.status, response.headers, data
        raise AssertionError("unreachable")


def _error_headers(result):
    # Header values must be latin-1 on the wire; an exception class name may not be.
    error_type = result.get("errorType") or "Runtime.Unknown"
    return {
        "Content-Type": "application/json",
        "Lambda-Runtime-Function-Error-Type": error_type.encode("ascii", "replace"),
    }


def _json_bytes(value):
    return json.dumps(value).encode("utf-8")


def _int_or_zero(text):
    try:
        return int(text)
    except (TypeError, ValueError):
        return 0


def _excerpt(body):
    return body[:200].decode("utf-8", "replace")
