"""Command-line tools: ``kcapi doctor``, ``kcapi sum`` and ``kcapi run``.

Modules, one job each:

* :mod:`.__main__` -- ``kcapi COMMAND ...`` (console script and ``python -m kcapi_cli``);
* :mod:`.doctor` -- what the kernel crypto API gives this process (table or JSON);
* :mod:`.sum` -- ``sha256sum`` & co. over ``kcapi_hashlib.file_digest``;
* :mod:`.run` -- an unchanged Python program run with :mod:`kcapi_shim` installed;
* :mod:`.sumopts` -- its command line, coreutils' option rules and messages;
* :mod:`.sumformat` -- coreutils' checksum line formats (pure);
* :mod:`.quoting` -- coreutils' quoting of file names in messages (pure);
* :mod:`.console` -- byte output and prefixed diagnostics;
* :mod:`.progress` -- the tqdm bar for large files on a terminal.
"""
