"""Test-id patterns of ``exclusions.toml``: ``*`` and ``?`` are the only wildcards.

Test ids carry brackets (``test[AES-CFB8]``), which ``fnmatch`` would read as
character classes; here every other character stands for itself.  Shared by
the driver and by the two programs it runs in child processes.
"""

import re
from functools import lru_cache


@lru_cache(maxsize=None)
def _compiled(pattern):
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.DOTALL)


def matches(pattern, text):
    """Whether ``text`` matches ``pattern`` as a whole (``*``: any run, ``?``: one character)."""
    return _compiled(pattern).fullmatch(text) is not None
