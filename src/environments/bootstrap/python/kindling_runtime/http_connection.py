"""A small HTTP/1.1 client on one kept-alive connection, over TCP or a Unix socket.

http.client is not used on purpose: importing it pulls in email.* and ssl, about 60 ms of every cold
start. The Runtime API needs little of HTTP: one request at a time, Content-Length bodies out, and
Content-Length, chunked or read-to-close bodies back.
"""

import socket

_MAX_LINE = 65536
_MAX_HEADERS = 100
_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")


class HttpProtocolError(Exception):
    """The server's answer is not HTTP/1.x as this client reads it."""


class ConnectionDropped(ConnectionError):
    """The connection ended before any byte of the answer arrived."""


class Headers:
    """Response header fields by case-insensitive name; repeated fields are joined with ', '."""

    __slots__ = ("_fields",)

    def __init__(self):
        self._fields = {}

    def add(self, name, value):
        key = name.lower()
        previous = self._fields.get(key)
        self._fields[key] = value if previous is None else previous + ", " + value

    def get(self, name, default=None):
        return self._fields.get(name.lower(), default)

    def __getitem__(self, name):
        return self._fields[name.lower()]

    def __contains__(self, name):
        return name.lower() in self._fields

    def items(self):
        return self._fields.items()

    def __repr__(self):
        return "Headers(%r)" % (self._fields,)


class HttpResponse:
    __slots__ = ("status", "headers", "body", "will_close")

    def __init__(self, status, headers, body, will_close):
        self.status = status
        self.headers = headers
        self.body = body
        self.will_close = will_close


class HttpConnection:
    """Sends requests one at a time; connects on first use and again after the server closed.

    Sockets are blocking without a timeout, whatever socket.setdefaulttimeout() says: a GET of the
    next event waits as long as the environment stays idle, frozen included.
    """

    def __init__(self, connect, host):
        self._connect = connect
        self._host = host
        self._sock = None
        self._reader = None

    @classmethod
    def tcp(cls, address):
        """address: 'host:port' ('[v6]:port' too; port 80 when absent), as in AWS_LAMBDA_RUNTIME_API."""
        host, colon, port = address.rpartition(":")
        if not colon or "]" in port:
            host, port = address, "80"
        if not host or not port.isdigit() or not port.isascii():
            raise ValueError("not a host:port address: %r" % address)
        target = (host[1:-1] if host.startswith("[") and host.endswith("]") else host, int(port))

        def connect():
            sock = socket.create_connection(target, timeout=None)
            # One send per request already; this keeps a large body's last segment from waiting on an ACK.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock

        return cls(connect, address)

    @classmethod
    def unix(cls, path):
        def connect():
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.settimeout(None)
                sock.connect(path)
            except BaseException:
                sock.close()
                raise
            return sock

        return cls(connect, "localhost")

    def request(self, method, path, body=None, headers=None):
        """Returns an HttpResponse with the whole body read.

        Raises OSError when the server cannot be reached or the connection breaks, HttpProtocolError on a
        malformed answer. A kept-alive connection that turns out to be closed (the server may drop idle
        ones) is replaced once, provided no byte of an answer came back on it.
        """
        data = self._encode(method, path, body, headers)
        while True:
            reused = self._sock is not None
            if not reused:
                self._open()
            try:
                try:
                    # MSG_NOSIGNAL: a closed peer is an EPIPE error here even if user code restored SIGPIPE.
                    self._sock.sendall(data, socket.MSG_NOSIGNAL)
                except OSError as e:
                    raise ConnectionDropped("sending failed: %s" % e) from e
                response = self._read_response(method)
            except ConnectionDropped:
                self.close()
                if reused:
                    continue
                raise
            except BaseException:
                self.close()
                raise
            if response.will_close:
                self.close()
            return response

    def close(self):
        reader, sock = self._reader, self._sock
        self._reader = self._sock = None
        if reader is not None:
            reader.close()
        if sock is not None:
            sock.close()

    def _open(self):
        self._sock = self._connect()
        self._reader = self._sock.makefile("rb")

    def _encode(self, method, path, body, headers):
        lines = ["%s %s HTTP/1.1" % (method, path), "Host: " + self._host]
        for name, value in (headers or {}).items():
            if "\r" in value or "\n" in value or "\r" in name or "\n" in name or ":" in name:
                raise ValueError("invalid header %r: %r" % (name, value))
            lines.append("%s: %s" % (name, value))
        if body is not None:
            lines.append("Content-Length: %d" % len(body))
        elif method in ("POST", "PUT", "PATCH"):
            lines.append("Content-Length: 0")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        return head if not body else head + body

    def _read_response(self, method):
        while True:
            try:
                line = self._reader.readline(_MAX_LINE + 1)
            except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError) as e:
                raise ConnectionDropped("connection reset before the answer: %s" % e) from e
            if not line:
                raise ConnectionDropped("connection closed before the answer")
            version, status = _parse_status_line(self._checked(line))
            headers = self._read_headers()
            # 1xx interim answers (100 Continue) precede the real one.
            if status >= 200 or status == 101:
                break
        connection = {t.strip().lower() for t in headers.get("Connection", "").split(",")}
        will_close = "close" in connection or (version == "HTTP/1.0" and "keep-alive" not in connection)
        if method == "HEAD" or status < 200 or status in (204, 304):
            return HttpResponse(status, headers, b"", will_close)
        coding = headers.get("Transfer-Encoding")
        if coding is not None and coding.rsplit(",", 1)[-1].strip().lower() == "chunked":
            body = self._read_chunked()
        elif coding is None and "Content-Length" in headers:
            body = self._read_exact(_parse_content_length(headers["Content-Length"]))
        else:
            # Neither (or an unknown coding): the body ends when the server closes.
            body = self._reader.read()
            will_close = True
        return HttpResponse(status, headers, body, will_close)

    def _read_headers(self):
        headers = Headers()
        name = None
        for _ in range(_MAX_HEADERS + 1):
            line = self._readline()
            if line in (b"\r\n", b"\n"):
                return headers
            text = line.decode("latin-1").rstrip("\r\n")
            if text[:1] in (" ", "\t"):
                # An obsolete folded line continues the previous field's value.
                if name is None:
                    raise HttpProtocolError("folded line before any header field")
                headers.add(name, text.strip())
                continue
            name, colon, value = text.partition(":")
            if not colon or not name or name != name.strip():
                raise HttpProtocolError("malformed header line %r" % text[:100])
            headers.add(name, value.strip())
        raise HttpProtocolError("more than %d header fields" % _MAX_HEADERS)

    def _read_chunked(self):
        parts = []
        while True:
            size_text = self._readline().split(b";", 1)[0].strip()
            if not size_text or not _HEX_DIGITS.issuperset(size_text):
                raise HttpProtocolError("malformed chunk size %r" % size_text[:20])
            size = int(size_text, 16)
            if size == 0:
                break
            parts.append(self._read_exact(size))
            if self._readline().strip():
                raise HttpProtocolError("chunk not followed by CRLF")
        # Trailer fields, if any, are not needed: read up to the empty line that ends the message.
        for _ in range(_MAX_HEADERS + 1):
            if self._readline() in (b"\r\n", b"\n"):
                return b"".join(parts)
        raise HttpProtocolError("more than %d trailer fields" % _MAX_HEADERS)

    def _read_exact(self, size):
        data = self._reader.read(size)
        if len(data) != size:
            raise HttpProtocolError("connection closed %d bytes short of the body" % (size - len(data)))
        return data

    def _readline(self):
        return self._checked(self._reader.readline(_MAX_LINE + 1))

    @staticmethod
    def _checked(line):
        if len(line) > _MAX_LINE:
            raise HttpProtocolError("line longer than %d bytes" % _MAX_LINE)
        if not line.endswith(b"\n"):
            raise HttpProtocolError("connection closed in the middle of the answer")
        return line


def _parse_status_line(line):
    parts = line.split(None, 2)
    if (
        len(parts) < 2
        or not parts[0].startswith(b"HTTP/1.")
        or len(parts[1]) != 3
        or not parts[1].isdigit()
    ):
        raise HttpProtocolError("malformed status line %r" % line[:100])
    return parts[0].decode("ascii", "replace"), int(parts[1])


def _parse_content_length(value):
    # Repeated identical values ("5, 5") are allowed, differing ones are not.
    values = {v.strip() for v in value.split(",")}
    if len(values) != 1:
        raise HttpProtocolError("conflicting Content-Length %r" % value)
    (text,) = values
    if not text.isdigit() or not text.isascii():
        raise HttpProtocolError("malformed Content-Length %r" % value)
    return int(text)
