"""The runner as a program (docs/conformance.md, "Running it"): coverage
honesty, `python3 -m nqconf`, `python3 -m nqconf.cli`, progress lines, the
adapter protocol version. Runs the real CLI in a subprocess against
tests/adapters/refuse_adapter.py and version_adapter.py (no implementation,
no network). ctest: conformance_runner_cli."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

from nqconf import coverage

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)  # conformance/: the package's parent
REFUSE = f"{sys.executable} {os.path.join(HERE, 'adapters', 'refuse_adapter.py')}"
VERSIONED = f"{sys.executable} {os.path.join(HERE, 'adapters', 'version_adapter.py')}"
BROADCAST_CASE = "tcp/s2c/7"  # passes with an adapter whose puts all complete
SERVER_CASE, CLIENT_CASE = "tcp/ini/2", "tcp/ini/5"  # prefixes matching one case each  # role server, role client


def run(*args, module="nqconf"):
    return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


class Coverage(unittest.TestCase):
    def test_all_unsupported_fails_with_a_clear_message(self):
        p = run("--adapter", REFUSE, "--case", SERVER_CASE, "--case", CLIENT_CASE)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("COVERAGE TOO LOW: 0 of 2 selected cases answered", p.stdout)
        self.assertNotIn("OK: no unexpected failure", p.stdout)

    def test_allow_unsupported_accepts_it(self):
        p = run("--adapter", REFUSE, "--case", SERVER_CASE, "--case", CLIENT_CASE,
                "--allow-unsupported")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertNotIn("COVERAGE TOO LOW", p.stdout)

    def test_a_whole_role_unsupported_fails(self):
        # The server case fails (recorded as expected, so it alone would
        # not fail the run); the client role is entirely UNSUPPORTED.
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump({"label": "test", "failures": [{"case": SERVER_CASE, "reason": "r"}]}, f)
        try:
            args = ["--adapter", REFUSE + " --fail-role server", "--case", SERVER_CASE,
                    "--case", CLIENT_CASE, "--expected", f.name]
            p = run(*args)
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            self.assertIn("COVERAGE TOO LOW: 0 of 1 selected client-role cases answered", p.stdout)
            self.assertNotIn("server-role", p.stdout)
            self.assertEqual(run(*args, "--allow-unsupported").returncode, 0)
        finally:
            os.unlink(f.name)

    def test_min_coverage_threshold(self):
        rs = [{"role": "server", "verdict": "PASS"}, {"role": "server", "verdict": "UNSUPPORTED"},
              {"role": "client", "verdict": "FAIL"}, {"role": "both", "verdict": "PASS"}]
        self.assertEqual(coverage.table(rs), {"all": (3, 4), "server": (2, 3), "client": (1, 1)})
        self.assertEqual(coverage.shortfalls(rs), [])
        self.assertEqual(coverage.shortfalls(rs, 60), [])
        short = coverage.shortfalls(rs, 80)
        self.assertEqual(len(short), 2)  # all (75 %) and server (67 %)
        self.assertIn("below --min-coverage 80%", short[0])


class AdapterProtocolVersion(unittest.TestCase):
    """docs/spec/adapter.md, ADAPTER-2: the version in ready."""

    def run_version(self, version, *extra):
        return run("--adapter", f"{VERSIONED} --adapter-protocol {version}", "--case", BROADCAST_CASE,
                   *extra)

    def test_version_1_0_is_accepted_without_warning(self):
        p = self.run_version("1.0")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("OK: no unexpected failure", p.stdout)
        self.assertNotIn("WARNING", p.stdout)

    def test_a_later_minor_is_accepted(self):
        p = self.run_version("1.7")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertNotIn("WARNING", p.stdout)

    def test_missing_version_is_1_0_with_a_warning_in_the_report(self):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "r.json")
            p = self.run_version("none", "--json", out)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertIn('WARNING: the adapter\'s ready event has no "adapter_protocol": taken as 1.0',
                          p.stdout)
            with open(out, encoding="utf-8") as f:
                warnings = json.load(f)["warnings"]
            self.assertEqual(len(warnings), 1)
            self.assertIn("taken as 1.0", warnings[0])

    def test_major_2_is_refused_and_the_run_exits_2(self):
        p = self.run_version("2.0")
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn("adapter refused: the adapter speaks adapter protocol 2.0", p.stderr)
        self.assertIn("refuses any other major version", p.stderr)
        self.assertNotIn("OK: no unexpected failure", p.stdout)

    def test_a_malformed_version_is_refused(self):
        p = self.run_version("one")
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn("not a \"MAJOR.MINOR\" string", p.stderr)


class Entrypoints(unittest.TestCase):
    def test_cli_module_without_arguments_is_a_usage_error(self):
        p = run(module="nqconf.cli")
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn("usage:", p.stderr)
        self.assertIn("--adapter is required", p.stderr)

    def test_package_runs_as_a_module(self):
        p = run("--list", "--case", SERVER_CASE)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn(SERVER_CASE, p.stdout)
        self.assertIn("1 cases", p.stdout)


class Progress(unittest.TestCase):
    args = ("--adapter", REFUSE, "--case", SERVER_CASE, "--case", CLIENT_CASE, "--allow-unsupported")

    def test_a_line_per_case_with_progress(self):
        p = run(*self.args, "--progress")
        lines = [ln for ln in p.stdout.splitlines() if ln.startswith("[")]
        self.assertEqual(len(lines), 2, p.stdout)
        self.assertTrue(lines[0].startswith("[1/2] "))
        self.assertIn("UNSUPPORTED", lines[1])
        self.assertEqual({ln.split()[1] for ln in lines}, {SERVER_CASE, CLIENT_CASE})

    def test_quiet_when_stdout_is_not_a_terminal(self):
        p = run(*self.args)
        self.assertFalse([ln for ln in p.stdout.splitlines() if ln.startswith("[")], p.stdout)


if __name__ == "__main__":
    unittest.main()
