"""Run CPython's test modules with unittest and write each test's outcome as JSON.

A program for the child process of :mod:`tests.upstream.driver`, run as::

    python -m kcapi_shim --backend B cpython_runner.py --json OUT [--data-dir DIR]
        [--exclude PATTERN]... MODULE...

so that the test modules import ``hashlib`` and ``hmac`` with the shim in
place.  Tests whose id matches an ``--exclude`` pattern (``*``/``?`` wildcards) are not
run and are reported as ``excluded``.  ``--data-dir`` becomes
``test.support.TEST_DATA_DIR``, where ``test_hashlib`` looks for its vector
files before trying the network.  Exit status: 0 when the run completed
(whatever the outcomes: the driver judges them), 2 for a bad command line.
"""

import argparse
import json
import sys
import unittest

from upstream_patterns import matches

# Worst first: a test keeps the worst outcome reported for it (subtests).
_RANK = {"error": 0, "failed": 1, "skipped": 2, "xfailed": 3, "passed": 4}


class RecordingResult(unittest.TextTestResult):
    """A text result that also keeps ``{id: (outcome, message)}``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.outcomes = {}

    def _record(self, test, outcome, message=""):
        test_id = test.id()
        known = self.outcomes.get(test_id)
        if known is None or _RANK[outcome] < _RANK[known[0]]:
            self.outcomes[test_id] = (outcome, message)

    def addSuccess(self, test):
        super().addSuccess(test)
        self._record(test, "passed")

    def addError(self, test, err):
        super().addError(test, err)
        self._record(test, "error", self._exc_info_to_string(err, test))

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._record(test, "failed", self._exc_info_to_string(err, test))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._record(test, "skipped", reason)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._record(test, "xfailed", self._exc_info_to_string(err, test))

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._record(test, "failed", "unexpected success of a test marked expectedFailure")

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            failed = issubclass(err[0], test.failureException)
            self._record(test, "failed" if failed else "error",
                         f"{subtest}: {self._exc_info_to_string(err, test)}")


def _flatten(suite):
    for test in suite:
        if isinstance(test, unittest.TestSuite):
            yield from _flatten(test)
        else:
            yield test


def main(argv):
    parser = argparse.ArgumentParser(prog="cpython_runner.py")
    parser.add_argument("--json", required=True)
    parser.add_argument("--data-dir")
    parser.add_argument("--exclude", action="append", default=[])
    parser.add_argument("modules", nargs="+")
    args = parser.parse_args(argv)
    if args.data_dir:
        import test.support

        test.support.TEST_DATA_DIR = args.data_dir
    tests = list(_flatten(unittest.defaultTestLoader.loadTestsFromNames(args.modules)))
    excluded = [t for t in tests if any(matches(p, t.id()) for p in args.exclude)]
    chosen = unittest.TestSuite(t for t in tests if t not in excluded)
    runner = unittest.TextTestRunner(stream=sys.stderr, verbosity=1, resultclass=RecordingResult)
    result = runner.run(chosen)
    outcomes = [{"id": test_id, "outcome": outcome, "message": message}
                for test_id, (outcome, message) in result.outcomes.items()]
    outcomes += [{"id": t.id(), "outcome": "excluded", "message": ""} for t in excluded]
    with open(args.json, "w", encoding="utf-8") as out:
        json.dump({"python": sys.version.split()[0], "outcomes": outcomes}, out, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
