"""The checksum command: ``sha256sum`` & co. over :func:`kcapi_hashlib.file_digest`.

It runs as ``kcapi sum`` (:mod:`kcapi_cli` dispatches to :func:`main`) and as
``python -m kcapi_hashlib``; the ``prog`` argument of :func:`main` is the name
its messages carry.  The command depends on the library, never the other
way round: ``import kcapi_hashlib`` does not import this package.

Modules, one job each:

* :mod:`.command` -- hashing files and verifying checksum files (coreutils' ``digest.c`` rules);
* :mod:`.options` -- its command line, coreutils' option rules and messages;
* :mod:`.formats` -- coreutils' checksum line formats (pure);
* :mod:`.quoting` -- coreutils' quoting of file names in messages (pure);
* :mod:`.console` -- byte output and prefixed diagnostics;
* :mod:`.progress` -- the tqdm bar for large files on a terminal.
"""

from __future__ import annotations

from .command import main

__all__ = ["main"]
