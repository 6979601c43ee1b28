#!/usr/bin/env python3
"""nq-conformance entry point (docs/conformance.md)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nqconf.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
