"""Kindling's runtime for python3.11: the process an execution environment starts.

Run as `/usr/bin/python3.11 -u /var/runtime/bootstrap.py` with cwd LAMBDA_TASK_ROOT and the Lambda
environment variables. Standard library only: nothing is installed inside the sandbox.
"""

import sys

# /var/runtime and /var/task are read-only inside the sandbox, so writing bytecode caches only costs
# failed syscalls; outside a sandbox (tests) it would litter the source tree. Cached .pyc files that a
# deployment package ships are still read.
sys.dont_write_bytecode = True

from kindling_runtime.main import main  # noqa: E402  (after the bytecode switch on purpose)

if __name__ == "__main__":
    sys.exit(main())
