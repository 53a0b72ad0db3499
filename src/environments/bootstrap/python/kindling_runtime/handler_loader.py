"""Finds the function named by the handler setting (`module.function`, `pkg.sub.module.function`)."""

import importlib
import os
import site
import sys

from .errors import (
    BUILT_IN_MODULE_CONFLICT,
    HANDLER_NOT_FOUND,
    IMPORT_MODULE_ERROR,
    MALFORMED_HANDLER_NAME,
    USER_CODE_SYNTAX_ERROR,
    FaultError,
)

_OPT_PYTHON = os.path.join("/opt", "python")
_OPT_SITE_PACKAGES = os.path.join(
    _OPT_PYTHON, "lib", "python%d.%d" % sys.version_info[:2], "site-packages"
)


def prepare_import_path(task_root):
    """Puts the function code first, then the layers, as Lambda orders sys.path.

    The runtime directory and PYTHONPATH (Python added them at start-up) stay behind them, so a user
    module never loses to one of ours by name.
    """
    front = [task_root, _OPT_SITE_PACKAGES, _OPT_PYTHON]
    for path in reversed(front):
        while path in sys.path:
            sys.path.remove(path)
        sys.path.insert(0, path)
    # Deployment packages and layers may rely on .pth files; site dirs already on sys.path are not
    # added twice, and missing ones are skipped.
    for path in front:
        site.addsitedir(path)


def load_handler(handler):
    """Imports the module and returns the function; raises FaultError, or whatever the module raised."""
    parts = handler.rsplit(".", 1)
    if len(parts) != 2:
        raise FaultError(
            MALFORMED_HANDLER_NAME,
            "Bad handler '%s': not enough values to unpack (expected 2, got 1)" % handler,
        )
    module_name, function_name = parts
    if not module_name or not function_name:
        what = "module" if not module_name else "function"
        raise FaultError(MALFORMED_HANDLER_NAME, "Bad handler '%s': empty %s name" % (handler, what))

    if module_name.split(".")[0] in sys.builtin_module_names:
        raise FaultError(
            BUILT_IN_MODULE_CONFLICT,
            "Cannot use built-in module %s as a handler module" % module_name,
        )
    try:
        # `dir/module.fn` is accepted as `dir.module`, as Lambda does.
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as e:
        raise FaultError(
            IMPORT_MODULE_ERROR, "Unable to import module '%s': %s" % (module_name, e)
        ) from None
    except SyntaxError as e:
        trace = ['  File "%s" Line %s\n    %s' % (e.filename, e.lineno, e.text)]
        raise FaultError(
            USER_CODE_SYNTAX_ERROR, "Syntax error in module '%s': %s" % (module_name, e), trace
        ) from None
    # Any other exception raised while the module ran propagates: it is reported under its own class
    # name, with the user's frames, as Lambda does.

    try:
        return getattr(module, function_name)
    except AttributeError:
        raise FaultError(
            HANDLER_NOT_FOUND, "Handler '%s' missing on module '%s'" % (function_name, module_name)
        ) from None
