"""Command-line tools: ``kcapi doctor``, ``kcapi sum`` and ``kcapi run``.

Modules, one job each:

* :mod:`.__main__` -- ``kcapi COMMAND ...`` (console script and ``python -m kcapi_cli``);
* :mod:`.doctor` -- what the kernel crypto API gives this process (table or JSON);
* :mod:`.run` -- an unchanged Python program run with :mod:`kcapi_shim` installed.

``kcapi sum`` is :mod:`kcapi_hashlib.checksum`, the command the hashlib
package ships (also ``python -m kcapi_hashlib``): the CLI depends on the
libraries, never the other way round.
"""
