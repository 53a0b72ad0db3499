"""Client of the Lambda Runtime API 2018-06-01 over one keep-alive HTTP/1.1 connection."""

import json
import sys

from .http_connection import HttpConnection, HttpProtocolError

_BASE = "/2018-06-01/runtime"
# What a path segment keeps unescaped (RFC 3986 unreserved), as urllib.parse.quote(safe="") does;
# urllib.parse itself is not imported only for this.
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


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
    """Talks to the Runtime API at a TCP address (host:port) or over a Unix socket (its path)."""

    def __init__(self, address=None, socket_path=None):
        if socket_path:
            self._connection = HttpConnection.unix(socket_path)
        else:
            self._connection = HttpConnection.tcp(address)

    def next_invocation(self):
        status, headers, body = self._request("GET", _BASE + "/invocation/next")
        if status != 200:
            raise RuntimeApiError("GET /next answered %d: %s" % (status, _excerpt(body)))
        invocation = Invocation(headers, body)
        if not invocation.request_id:
            raise RuntimeApiError("GET /next answered without Lambda-Runtime-Aws-Request-Id")
        return invocation

    def binding(self):
        """Pre-warmed environments only (Kindling's own endpoint, not Lambda's): waits until the platform
        binds this sandbox to a function; returns its settings, {"env": {...}}. Answered once."""
        status, _, body = self._request("GET", "/kindling/binding")
        if status != 200:
            raise RuntimeApiError("GET /kindling/binding answered %d: %s" % (status, _excerpt(body)))
        return json.loads(body)

    def post_response(self, request_id, body, content_type):
        path = "%s/invocation/%s/response" % (_BASE, _quote(request_id))
        self._post(path, body, {"Content-Type": content_type})

    def post_error(self, request_id, result):
        path = "%s/invocation/%s/error" % (_BASE, _quote(request_id))
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
        try:
            response = self._connection.request(method, path, body, headers)
        except (OSError, HttpProtocolError) as e:
            raise RuntimeApiError("%s %s failed: %s" % (method, path, e)) from e
        return response.status, response.headers, response.body


def _error_headers(result):
    # A header value is printable ASCII here; an exception class name may hold anything else.
    error_type = result.get("errorType") or "Runtime.Unknown"
    return {
        "Content-Type": "application/json",
        "Lambda-Runtime-Function-Error-Type": "".join(c if " " <= c <= "~" else "?" for c in error_type),
    }


def _quote(segment):
    data = segment.encode("utf-8")
    if _UNRESERVED.issuperset(data):
        return segment
    return "".join(chr(b) if b in _UNRESERVED else "%%%02X" % b for b in data)


def _json_bytes(value):
    return json.dumps(value).encode("utf-8")


def _int_or_zero(text):
    try:
        return int(text)
    except (TypeError, ValueError):
        return 0


def _excerpt(body):
    return body[:200].decode("utf-8", "replace")
