"""Error results in the shape Lambda's python runtimes post and callers parse.

{"errorMessage", "errorType", "requestId", "stackTrace"}, in that key order; init errors carry an empty
requestId, since no invocation exists yet.
"""

import os
import traceback

MARSHAL_ERROR = "Runtime.MarshalError"
UNMARSHAL_ERROR = "Runtime.UnmarshalError"
USER_CODE_SYNTAX_ERROR = "Runtime.UserCodeSyntaxError"
HANDLER_NOT_FOUND = "Runtime.HandlerNotFound"
IMPORT_MODULE_ERROR = "Runtime.ImportModuleError"
BUILT_IN_MODULE_CONFLICT = "Runtime.BuiltInModuleConflict"
MALFORMED_HANDLER_NAME = "Runtime.MalformedHandlerName"
CONTEXT_UNMARSHAL_ERROR = "Runtime.LambdaContextUnmarshalError"

# Frames of this runtime that lead into user code are noise to the user: a traceback starts at the
# first frame outside this directory (the folder that holds bootstrap.py).
_RUNTIME_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


class FaultError(Exception):
    """A failure the runtime names itself (Runtime.*), as opposed to an exception of the user's code."""

    def __init__(self, error_type, message, stack_trace=None):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.stack_trace = stack_trace or []

    def result(self, request_id):
        return error_result(self.message, self.error_type, self.stack_trace, request_id)


def error_result(message, error_type, stack_trace, request_id):
    return {
        "errorMessage": message or "",
        "errorType": error_type or "",
        "requestId": request_id if request_id is not None else "",
        "stackTrace": stack_trace or [],
    }


def exception_result(exc, request_id):
    """The result for an exception raised by user code: class name, str(), user frames only."""
    return error_result(_describe(exc), type(exc).__name__, user_stack_trace(exc.__traceback__), request_id)


def user_stack_trace(tb):
    frames = [(f.filename, f.lineno, f.name, f.line) for f in traceback.extract_tb(tb)]
    start = 0
    while start < len(frames) and frames[start][0].startswith(_RUNTIME_DIR):
        start += 1
    # Plain tuples format without Python 3.11's column carets, the shape AWS's runtime reports.
    return traceback.format_list(frames[start:])


def _describe(exc):
    try:
        return str(exc)
    except Exception:  # an exception whose __str__ raises must still be reported
        return "<unprintable %s object>" % type(exc).__name__
