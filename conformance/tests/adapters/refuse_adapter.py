#!/usr/bin/env python3
"""A test adapter that implements nothing: it exits 127 (UNSUPPORTED) for
every case, except with --fail-role R, where a case of role R fails at once
(exit 1 before ready). It lets the runner's coverage check be tested
without any implementation (tests/runner_cli.py)."""
import sys


def main(argv):
    role = argv[argv.index("--role") + 1] if "--role" in argv else None
    if "--fail-role" in argv and argv[argv.index("--fail-role") + 1] == role:
        return 1
    return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
