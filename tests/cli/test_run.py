"""``kcapi run`` / ``python -m kcapi_shim``: a program runs as under ``python``, with kcapi.

Each case runs the same program with ``python`` and with ``kcapi run`` and
compares what the program sees (``sys.argv``, ``sys.path[0]``, ``__file__``,
``__name__``, ``__main__``), its exit status and its standard error.  In the
kernel run a program's ``hashlib`` objects are served by the kernel.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kcapi_shim import run as run_command

from ..support import require_kernel_alg

PYTHON = sys.executable
KCAPI_RUN = [PYTHON, "-m", "kcapi_cli", "run"]

INTROSPECT = r'''
import json, sys
main = sys.modules["__main__"]
print(json.dumps({
    "argv": sys.argv, "path0": sys.path[0], "file": __file__, "name": __name__,
    "main_is_this": main.__dict__ is globals(),
    "spec": getattr(__spec__, "name", None), "cached": __cached__ is None,
    "loader": type(__loader__).__name__, "builtins": type(__builtins__).__name__,
}))
'''


def run(args: list[str], cwd: Path, **kwargs) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)  # the program's sys.path must be python's own
    return subprocess.run(args, capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=300, **kwargs)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "intro.py").write_text(INTROSPECT)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "intro.py").write_text(INTROSPECT)
    return tmp_path


def test_a_script_sees_what_python_shows_it(tree: Path):
    args = ["sub/intro.py", "a", "--help", "-m", "x"]
    plain = run([PYTHON, *args], tree)
    ours = run([*KCAPI_RUN, *args], tree)
    assert plain.returncode == ours.returncode == 0, ours.stderr
    assert json.loads(ours.stdout) == json.loads(plain.stdout)
    assert json.loads(ours.stdout)["argv"] == args


def test_a_module_sees_what_python_m_shows_it(tree: Path):
    plain = run([PYTHON, "-m", "pkg.intro", "x", "-v"], tree)
    ours = run([*KCAPI_RUN, "-m", "pkg.intro", "x", "-v"], tree)
    assert plain.returncode == ours.returncode == 0, ours.stderr
    seen, expected = json.loads(ours.stdout), json.loads(plain.stdout)
    assert seen["argv"] == expected["argv"] == [str(tree / "pkg" / "intro.py"), "x", "-v"]
    for key in ("path0", "file", "name", "spec", "cached", "loader"):
        assert seen[key] == expected[key], key


@pytest.mark.parametrize("body, status", [
    ("pass", 0),
    ("import sys; sys.exit(3)", 3),
    ("import sys; sys.exit('a message')", 1),
    ("import sys; sys.exit(None)", 0),
    ("raise KeyError('boom')", 1),
    ("def f():\n    raise ValueError('deep')\nf()", 1),
    ("def (", 1),
])
def test_exit_status_and_standard_error_are_pythons(tmp_path: Path, body: str, status: int):
    script = tmp_path / "prog.py"
    script.write_text(body + "\n")
    plain = run([PYTHON, "prog.py"], tmp_path)
    ours = run([*KCAPI_RUN, "prog.py"], tmp_path)
    assert plain.returncode == status
    assert ours.returncode == status
    assert ours.stderr == plain.stderr  # tracebacks show the program's frames only
    assert ours.stdout == plain.stdout


def test_a_module_that_raises_shows_its_own_frames(tree: Path):
    (tree / "pkg" / "fails.py").write_text("import missing_module_for_kcapi_tests\n")
    plain = run([PYTHON, "-m", "pkg.fails"], tree)
    ours = run([*KCAPI_RUN, "-m", "pkg.fails"], tree)
    assert plain.returncode == ours.returncode == 1
    # python -m shows runpy's frames first; the program's frames and the error match.
    assert plain.stderr.endswith(ours.stderr.split("Traceback (most recent call last):\n")[1])
    assert "ModuleNotFoundError: No module named 'missing_module_for_kcapi_tests'" in ours.stderr


def test_a_program_that_cannot_start_says_so_as_python_does(tmp_path: Path):
    plain = run([PYTHON, "absent.py"], tmp_path)
    ours = run([*KCAPI_RUN, "absent.py"], tmp_path)
    assert plain.returncode == ours.returncode == 2
    assert ours.stderr == plain.stderr.replace(PYTHON, "kcapi run")
    plain = run([PYTHON, "-m", "absent_module_for_kcapi_tests"], tmp_path)
    ours = run([*KCAPI_RUN, "-m", "absent_module_for_kcapi_tests"], tmp_path)
    assert plain.returncode == ours.returncode == 1
    assert ours.stderr == plain.stderr.replace(PYTHON, "kcapi run")


@pytest.mark.parametrize("argv, message", [
    ([], "a SCRIPT or -m MODULE is required"),
    (["--backend"], "argument --backend: expected one argument"),
    (["--backend", "fast", "x.py"], "argument --backend: invalid choice: 'fast'"),
    (["-x", "x.py"], "unrecognized option '-x'"),
    (["-m"], "argument -m: expected one argument"),
    (["--"], "a SCRIPT or -m MODULE is required"),
])
def test_a_bad_command_line_is_a_usage_error(capsys, argv: list[str], message: str):
    assert run_command.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: kcapi run [--backend")
    assert f"kcapi run: error: {message}" in err


def test_help_is_printed_and_succeeds(capsys):
    assert run_command.main(["--help"]) == 0
    assert "-m MODULE" in capsys.readouterr().out


@pytest.mark.parametrize("argv, expected", [
    (["s.py", "--backend", "x"], ("s.py", None, ("--backend", "x"), None)),
    (["--backend=kernel", "--", "-s.py", "-h"], ("-s.py", None, ("-h",), "kernel")),
    (["--backend", "software", "-m", "mod", "--backend", "kernel"],
     (None, "mod", ("--backend", "kernel"), "software")),
    (["-mmod", "a"], (None, "mod", ("a",), None)),
])
def test_options_end_where_the_program_begins(argv: list[str], expected: tuple):
    target = run_command.parse(argv)
    assert target is not None
    assert (target.script, target.module, target.args, target.backend) == expected


HASHING = """
import hashlib, hmac, sys
h = hashlib.sha256(b"abc")
m = hmac.new(b"key", b"abc", "sha256")
info = hashlib.backend_info(h)
print(hashlib.__name__, info.backend, info.reason.split(":")[0] or "-",
      hashlib.backend_info(m).backend)
print(h.hexdigest(), m.hexdigest())
"""


def _hashing(tmp_path: Path, *options: str) -> list[str]:
    (tmp_path / "hashing.py").write_text(HASHING)
    done = run([*KCAPI_RUN, *options, "hashing.py"], tmp_path)
    assert done.returncode == 0, done.stderr
    import hashlib
    import hmac

    lines = done.stdout.splitlines()
    assert lines[1].split() == [hashlib.sha256(b"abc").hexdigest(),
                                hmac.new(b"key", b"abc", "sha256").hexdigest()]
    return lines[0].split()


@pytest.mark.kernel
def test_a_programs_hashlib_is_served_by_the_kernel(tmp_path: Path):
    require_kernel_alg("hash", "sha256")
    require_kernel_alg("hash", "hmac(sha256)")
    name, backend, _, hmac_backend = _hashing(tmp_path, "--backend", "kernel")
    assert (name, backend, hmac_backend) == ("kcapi_hashlib", "kernel", "kernel")


def test_backend_software_keeps_the_program_off_the_kernel(tmp_path: Path):
    name, backend, reason, hmac_backend = _hashing(tmp_path, "--backend", "software")
    assert (name, backend, reason, hmac_backend) == ("kcapi_hashlib", "software", "software-policy",
                                                     "software")


def test_every_entry_point_runs_the_program(tmp_path: Path):
    (tmp_path / "p.py").write_text("import hashlib, sys; print(hashlib.__name__, sys.argv[1:])\n")
    console = Path(PYTHON).with_name("kcapi")
    for command in ([str(console), "run"], [PYTHON, "-m", "kcapi_shim"], KCAPI_RUN):
        if not Path(command[0]).exists():
            pytest.fail(f"{command[0]} is not installed")
        done = run([*command, "p.py", "x"], tmp_path)
        assert (done.returncode, done.stdout) == (0, "kcapi_hashlib ['x']\n"), \
            (command, done.stderr)
