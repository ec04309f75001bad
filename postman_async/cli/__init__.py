"""The ``postman-async`` command line: send, check, upload and follow messages from the shell.

Commands: ``send``, ``status``, ``retry``, ``batch``, ``retry-batch``, ``watch``,
``list``, ``export``, ``mock`` and ``demo`` (``postman-async --help``).  They read
``POSTMAN_API_KEY``, ``POSTMAN_CAMPAIGN_ID`` and ``POSTMAN_BASE_URL`` (or
``--env``); human output by default, ``--format json`` for scripts.  Live
progress needs the ``cli`` extra (rich); without it, progress is plain lines.
"""

from ._main import main

__all__ = ["main"]
