"""``python -m postman_async.testing``: run the mock server until interrupted."""

from postman_async.testing._cli import main

if __name__ == "__main__":
    raise SystemExit(main())
