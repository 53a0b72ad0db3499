"""Application logs as Lambda's python runtimes write them, on stdout.

The platform turns each stdout line into one log event, so a record that spans lines (a traceback,
a message with newlines) is written with its newlines turned into \\r: one record, one line.
"""

import json
import logging
import sys
import time
import traceback
from datetime import datetime, timezone

_TEXT_FORMAT = "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s"
_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"
# Leading spaces of traceback lines become NO-BREAK SPACEs so log viewers that trim lines keep the
# indentation, as in Lambda's output.
_INDENT = "\u00a0"
# Kindling's choice: logging.info() shows without setup. AWS's runtime leaves the root logger at Python's
# WARNING unless AWS_LAMBDA_LOG_LEVEL is set; "WARNING" here would match it exactly.
_DEFAULT_LEVEL = "WARNING"


class InvocationState:
    """What log records are stamped with: the current invocation (empty before the first one)."""

    request_id = ""
    tenant_id = None


class _StampFilter(logging.Filter):
    def filter(self, record):
        record.aws_request_id = InvocationState.request_id or ""
        if InvocationState.tenant_id is not None:
            record.tenant_id = InvocationState.tenant_id
        return True


class _StdoutHandler(logging.Handler):
    def emit(self, record):
        try:
            line = self.format(record)
            # sys.stdout at the time of the call, as Lambda's runtime does (redirect_stdout applies).
            sys.stdout.write(line.replace("\n", "\r") + "\n")
        except Exception:
            self.handleError(record)


# Attributes every LogRecord has; anything else on a record came from `extra=` and is logged as a
# field in JSON format.
_RECORD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "aws_request_id",
    "tenant_id",
}


class JsonFormatter(logging.Formatter):
    def format(self, record):
        level = min(50, max(0, record.levelno)) // 10 * 10
        entry = {
            "timestamp": _iso_millis(record.created),
            "level": logging.getLevelName(level),
            "message": record.getMessage(),
            "logger": record.name,
            "requestId": getattr(record, "aws_request_id", None),
        }
        if record.exc_info and record.exc_info[0] is not None:
            exc_type, exc, tb = record.exc_info
            entry["errorType"] = exc_type.__name__
            entry["errorMessage"] = str(exc)
            entry["stackTrace"] = traceback.format_tb(tb)
            entry["location"] = "%s:%s:%s" % (record.pathname, record.funcName, record.lineno)
        tenant_id = getattr(record, "tenant_id", None)
        if tenant_id is not None:
            entry["tenantId"] = tenant_id
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRIBUTES and key not in entry:
                entry[key] = value
        return json.dumps({k: v for k, v in entry.items() if v is not None}, ensure_ascii=False, default=str)


def configure_logging(env):
    """Installs the root handler; returns the log format ('TEXT' or 'JSON')."""
    log_format = "JSON" if (env.get("AWS_LAMBDA_LOG_FORMAT") or "").upper() == "JSON" else "TEXT"
    # Lambda formats times in UTC for every formatter of the process, the user's included.
    logging.Formatter.converter = time.gmtime
    handler = _StdoutHandler()
    handler.setFormatter(JsonFormatter() if log_format == "JSON" else logging.Formatter(_TEXT_FORMAT, _DATE_FORMAT))
    handler.addFilter(_StampFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    level = (env.get("AWS_LAMBDA_LOG_LEVEL") or "").upper()
    level = "DEBUG" if level == "TRACE" else level
    root.setLevel(level if level in logging.getLevelNamesMapping() else _DEFAULT_LEVEL)
    return log_format


def write_error_result(result, log_format):
    """Logs an uncaught error (init or invoke) as one line before it is posted."""
    if log_format == "JSON":
        entry = {"timestamp": time.strftime(_DATE_FORMAT, time.gmtime()), "log_level": "ERROR", **result}
        sys.stdout.write(json.dumps(entry) + "\n")
        return
    head = "[ERROR]"
    if result.get("errorType"):
        head += " " + result["errorType"]
    if result.get("errorMessage"):
        head += (":" if result.get("errorType") else "") + " " + result["errorMessage"]
    lines = [head, "Traceback (most recent call last):"]
    for frame in result.get("stackTrace") or []:
        lines.extend(_indent_with_nbsp(line) for line in frame.splitlines() or [""])
    sys.stdout.write("\r".join(lines).replace("\n", "\r") + "\n")


def _indent_with_nbsp(line):
    stripped = line.lstrip(" ")
    return _INDENT * (len(line) - len(stripped)) + stripped


def _iso_millis(created):
    return datetime.fromtimestamp(created, tz=timezone.utc).strftime(_DATE_FORMAT + ".%f")[:-3] + "Z"
