"""A pytest plugin that writes each test's outcome as JSON and drops excluded tests.

Loaded in the child process of :mod:`tests.upstream.driver` (``-p
upstream_outcomes``, with this directory on ``PYTHONPATH``) while pytest runs
PyCryptodome's SelfTest under the shim.  Test ids are
``<module>::<class>::<name>[params]``, independent of where the package is
installed.  ``--upstream-exclude PATTERN`` (``*`` and ``?`` wildcards, repeatable) deselects
matching tests, reported as ``excluded``; ``--upstream-json PATH`` receives
the outcomes.
"""

import json
import sys

from upstream_patterns import matches

_RANK = {"error": 0, "failed": 1, "skipped": 2, "xfailed": 3, "passed": 4, "excluded": 5}


def pytest_addoption(parser):
    group = parser.getgroup("upstream outcomes")
    group.addoption("--upstream-json", required=True, help="write the outcomes here")
    group.addoption("--upstream-exclude", action="append", default=[],
                    help="deselect tests whose id matches this pattern (* and ? wildcards)")


#: pytest node id -> stable id; stable id -> (outcome, message).
_ids = {}
_outcomes = {}


def _stable_id(item):
    module = getattr(getattr(item, "module", None), "__name__", None)
    if module is None:
        return item.nodeid
    return "::".join([module, *item.nodeid.split("::")[1:]])


def _record(test_id, outcome, message=""):
    known = _outcomes.get(test_id)
    if known is None or _RANK[outcome] < _RANK[known[0]]:
        _outcomes[test_id] = (outcome, message)


def pytest_collection_modifyitems(config, items):
    patterns = config.getoption("upstream_exclude")
    keep, drop = [], []
    for item in items:
        test_id = _stable_id(item)
        _ids[item.nodeid] = test_id
        if any(matches(p, test_id) for p in patterns):
            drop.append(item)
            _record(test_id, "excluded")
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_collectreport(report):
    if report.failed:
        _record(report.nodeid, "error", report.longreprtext)


def pytest_runtest_logreport(report):
    test_id = _ids.get(report.nodeid, report.nodeid)
    if hasattr(report, "wasxfail"):
        outcome, message = ("xfailed", report.wasxfail) if report.skipped else ("failed", "XPASS")
    elif report.skipped:
        longrepr = report.longrepr
        message = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        outcome = "skipped"
    elif report.failed:
        outcome, message = ("failed" if report.when == "call" else "error"), report.longreprtext
    elif report.when == "call":
        outcome, message = "passed", ""
    else:
        return
    _record(test_id, outcome, message)


def pytest_sessionfinish(session):
    outcomes = [{"id": test_id, "outcome": outcome, "message": message}
                for test_id, (outcome, message) in _outcomes.items()]
    with open(session.config.getoption("upstream_json"), "w", encoding="utf-8") as out:
        json.dump({"python": sys.version.split()[0], "outcomes": outcomes}, out, indent=1)
