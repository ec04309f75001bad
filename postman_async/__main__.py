"""``python -m postman_async``: the ``postman-async`` command line (:mod:`postman_async.cli`)."""

from postman_async.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
