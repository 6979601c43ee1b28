#!/usr/bin/env python3
"""Runs mini (conformance/selftest/mini/) as a conformance adapter:
    mini_adapter.py [--mutant NAME] --role ... --transport ... (docs/conformance.md)"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mini.adapter import main  # noqa: E402

sys.exit(main())
