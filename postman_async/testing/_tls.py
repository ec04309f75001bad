"""A throwaway certificate authority, so the mock can serve HTTPS to other machines."""

from __future__ import annotations

import ipaddress
import pathlib
import ssl
from collections.abc import Sequence

#: File name of the CA certificate that ``serve_with_throwaway_ca`` writes.
CA_FILE_NAME = "postman-mock-ca.pem"
#: Names the server certificate always covers.
LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")


class TlsUnavailableError(RuntimeError):
    """The optional dependency that makes certificates is not installed."""


def throwaway_tls(
    names: Sequence[str], directory: pathlib.Path
) -> tuple[ssl.SSLContext, pathlib.Path]:
    """Make a new CA and a server certificate for ``names``; write the CA to ``directory``.

    Returns the server's SSL context and the path of the CA certificate (PEM), which the
    callers of the mock trust (``ssl.create_default_context(cafile=...)``).

    Raises:
        TlsUnavailableError: If ``trustme`` (the ``mock`` extra) is not installed.
    """
    try:
        import trustme  # noqa: PLC0415 - optional, needed only with TLS
    except ImportError as exc:
        raise TlsUnavailableError(
            "serving HTTPS needs trustme: pip install 'postman-async[mock]'"
        ) from exc
    wanted = list(dict.fromkeys([*LOCAL_NAMES, *(name for name in names if not _wildcard(name))]))
    ca = trustme.CA(organization_name="postman_async mock (throwaway)")
    certificate = ca.issue_cert(*wanted)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate.configure_cert(context)
    directory.mkdir(parents=True, exist_ok=True)
    ca_file = directory / CA_FILE_NAME
    ca.cert_pem.write_to_path(str(ca_file))
    return context, ca_file


def _wildcard(host: str) -> bool:
    """Whether ``host`` means "every interface" rather than a name callers use."""
    if host in ("", "*"):
        return True
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False
