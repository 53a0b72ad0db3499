"""The Runtime API bridge (socat: 127.0.0.1:9001 inside the sandbox -> the environment's Unix socket) may
start beside this runtime rather than before it; the platform then says so with _KINDLING_AWAIT_BRIDGE.
The runtime itself speaks over the socket, but function code and its child processes reach the Runtime API
at AWS_LAMBDA_RUNTIME_API, so the first invocation waits until the bridge listens. The wait comes after the
handler's import: usually it is one read of /proc/net/tcp. It opens no connection (socat forks a child per
connection).
"""

import time

_LIMIT_SECONDS = 5.0


def port_of(address):
    """The port of a 'host:port' address, or None."""
    try:
        port = int((address or "").rsplit(":", 1)[-1])
    except ValueError:
        return None
    return port if 0 < port < 65536 else None


def listens_on(table, port):
    """Whether a /proc/net/tcp table lists a socket listening (state 0A) on 127.0.0.1:port (either byte order)."""
    hex_port = "%04X" % port
    local = ("0100007F:" + hex_port, "7F000001:" + hex_port)
    for line in table.splitlines():
        fields = line.split()
        if len(fields) > 3 and fields[1] in local and fields[3] == "0A":
            return True
    return False


def await_bridge(port, limit_seconds=_LIMIT_SECONDS):
    """True once 127.0.0.1:port listens; False after limit_seconds, or when /proc/net/tcp cannot be read."""
    deadline = time.monotonic() + limit_seconds
    while True:
        try:
            with open("/proc/net/tcp", encoding="latin-1") as f:
                table = f.read()
        except OSError:
            return False
        if listens_on(table, port):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.001)
