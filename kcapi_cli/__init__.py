"""Command-line tools: ``kcapi doctor`` and ``kcapi sum``."""
