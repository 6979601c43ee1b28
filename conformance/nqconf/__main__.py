"""`python3 -m nqconf`: the same program as nq-conformance."""
import sys

from .cli import main

sys.exit(main())
