"""Init (import the handler) then the invocation loop: GET /next, call the handler, POST the answer.

Pre-warmed (_KINDLING_BINDING=1): started before any function was chosen, with an empty /var/task and an
environment that holds nothing of a function; it waits at GET /kindling/binding until the platform has
bound a function's code at /var/task and /opt and answers with the function's environment, which then
replaces ours entirely before init goes on.
"""

import importlib
import json
import os
import sys
import time

from .bridge import await_bridge, port_of
from .context import LambdaContext
from .errors import MARSHAL_ERROR, UNMARSHAL_ERROR, FaultError, exception_result
from .handler_loader import load_handler, prepare_import_path
from .logs import InvocationState, configure_logging, write_error_result
from .runtime_api import RuntimeApiClient, RuntimeApiError


def main():
    _write_through(sys.stdout)
    _write_through(sys.stderr)
    env = os.environ
    # The platform's own channel to the Runtime API (a Unix socket, no relay in between): read once and
    # removed before any user code runs, so the function and its child processes see only
    # AWS_LAMBDA_RUNTIME_API, as on Lambda.
    socket_path = env.pop("_KINDLING_RUNTIME_API_SOCKET", None)
    prewarmed = env.pop("_KINDLING_BINDING", None) == "1"
    address = env.get("AWS_LAMBDA_RUNTIME_API")
    # The 127.0.0.1 bridge is starting beside us (bridge.py): its port, to wait for before the first invocation.
    bridge_port = port_of(address) if env.pop("_KINDLING_AWAIT_BRIDGE", None) == "1" else None
    if not socket_path and not address:
        sys.stderr.write("[kindling] AWS_LAMBDA_RUNTIME_API is not set\n")
        return 1
    try:
        api = RuntimeApiClient(address, socket_path)
    except ValueError as e:
        sys.stderr.write("[kindling] AWS_LAMBDA_RUNTIME_API: %s\n" % e)
        return 1
    try:
        if prewarmed:
            _await_binding(api, env)
        return _run(api, env, bridge_port)
    except RuntimeApiError as e:
        # The platform closed the API (environment shutting down) or is broken: nothing left to do.
        sys.stderr.write("[kindling] %s\n" % e)
        return 1


def _await_binding(api, env):
    bound = api.binding()
    env.clear()
    env.update(bound["env"])
    # The cwd is still the empty directory the code was mounted over; the import system may have seen
    # /var/task and /opt empty, and TZ is read by the C library only when told.
    os.chdir(env.get("LAMBDA_TASK_ROOT") or "/var/task")
    importlib.invalidate_caches()
    time.tzset()


def _run(api, env, bridge_port):
    prepare_import_path(env.get("LAMBDA_TASK_ROOT") or os.getcwd())
    log_format = configure_logging(env)
    handler_name = sys.argv[1] if len(sys.argv) > 1 else env.get("_HANDLER", "")

    init_error = None
    try:
        handler = load_handler(handler_name)
    except FaultError as e:
        init_error = e.result("")
    except Exception as e:  # an exception raised by the module's own top-level code
        init_error = exception_result(e, "")
    if init_error is not None:
        write_error_result(init_error, log_format)
        api.post_init_error(init_error)
        return 1
    if bridge_port is not None and not await_bridge(bridge_port):
        sys.stderr.write(
            "[kindling] nothing listens on 127.0.0.1:%d: function code cannot reach AWS_LAMBDA_RUNTIME_API\n" % bridge_port
        )

    while True:
        invocation = api.next_invocation()
        InvocationState.request_id = invocation.request_id
        InvocationState.tenant_id = invocation.tenant_id
        if invocation.trace_id:
            os.environ["_X_AMZN_TRACE_ID"] = invocation.trace_id
        else:
            os.environ.pop("_X_AMZN_TRACE_ID", None)
        _invoke(api, handler, invocation, log_format)


def _invoke(api, handler, invocation, log_format):
    # SystemExit and KeyboardInterrupt are not caught: sys.exit() in a handler ends the process, and the
    # platform reports the exit.
    try:
        context = LambdaContext(invocation)
        event = _decode_event(invocation)
        body, content_type = _encode_result(handler(event, context))
    except FaultError as e:
        error = e.result(invocation.request_id)
    except Exception as e:
        error = exception_result(e, invocation.request_id)
    else:
        api.post_response(invocation.request_id, body, content_type)
        return
    # Logged before the post, so the line lands in this invocation's log ahead of END/REPORT.
    write_error_result(error, log_format)
    api.post_error(invocation.request_id, error)


def _decode_event(invocation):
    # The platform always sends JSON; a missing Content-Type is read as JSON too.
    if invocation.content_type not in (None, "", "application/json"):
        return invocation.body
    try:
        return json.loads(invocation.body)
    except ValueError as e:
        raise FaultError(UNMARSHAL_ERROR, "Unable to unmarshal input: %s" % e) from None


def _encode_result(result):
    if isinstance(result, bytes):
        return result, "application/unknown"
    try:
        return json.dumps(result, default=_json_default).encode("utf-8"), "application/json"
    except Exception as e:  # TypeError, circular references, recursion depth: all unmarshallable
        raise FaultError(MARSHAL_ERROR, "Unable to marshal response: %s" % e) from None


def _json_default(value):
    # DynamoDB hands out Decimals; Lambda serialises them as JSON numbers. A Decimal exists only once its
    # module is loaded, so the runtime does not import decimal (5 ms) for functions that never use it.
    decimal = sys.modules.get("decimal")
    if decimal is not None and isinstance(value, decimal.Decimal):
        if value.is_finite() and value == value.to_integral_value():
            return int(value)
        return float(value)
    raise TypeError("Object of type %s is not JSON serializable" % type(value).__name__)


def _write_through(stream):
    # Output must reach the platform before the answer is posted. The platform starts us with -u
    # (nothing buffered); without it, line buffering still flushes every print() and log record.
    try:
        stream.reconfigure(line_buffering=True, write_through=True)
    except (AttributeError, ValueError):
        pass
