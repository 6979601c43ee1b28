"""The reference README's two example scripts, with only the import changed,
run against each other on the default address 127.0.0.1:51966 — inside a
private network namespace (unshare -n), so the fixed port cannot clash."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "readme"


def _netns_ok():
    if not shutil.which("unshare"):
        return False
    r = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    return r.returncode == 0


@pytest.mark.skipif(not _netns_ok(), reason="needs unshare -n (root or user namespaces)")
def test_readme_scripts_run_unchanged_but_the_import():
    for name in ("server.py", "client.py"):
        assert "import netqueue as nq" in (EXAMPLES / name).read_text()
    script = (f'ip link set lo up && "{sys.executable}" server.py & '
              f'"{sys.executable}" client.py && wait $!')
    r = subprocess.run(["unshare", "-n", "sh", "-c", script], cwd=EXAMPLES, env=os.environ,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
