"""Configuration from the environment: the same names for the library and the command line.

``POSTMAN_API_KEY``
    one of the campaign's API keys.
``POSTMAN_CAMPAIGN_ID``
    the campaign's ID.
``POSTMAN_BASE_URL``
    the API base URL (a mock server's, for example); or
``POSTMAN_ENV``
    ``production``, ``test`` or ``loadtest``: the URL of that environment.
    Give one of the two; with neither, production.
"""

from __future__ import annotations

__all__ = ["ENVIRONMENTS", "EnvConfig", "read_env"]

import os
from collections.abc import Mapping
from typing import Final

import msgspec

from ._errors import ValidationError
from ._validate import Secret, check_api_key, check_base_url, path_segment

#: ``POSTMAN_ENV`` values and the API base URL each names.
ENVIRONMENTS: Final[Mapping[str, str]] = {
    "production": "https://postman.gov.sg/api/v2",
    "test": "https://test.postman.gov.sg/api/v2",
    "loadtest": "https://loadtest.postman.gov.sg/api/v2",
}


class EnvConfig(msgspec.Struct, frozen=True, kw_only=True):
    """What the environment says (see :func:`read_env`)."""

    #: The API base URL: ``POSTMAN_BASE_URL``, or ``POSTMAN_ENV``'s, or production's.
    base_url: str
    #: ``POSTMAN_API_KEY``, masked; ``None`` when unset.
    api_key: Secret | None
    #: ``POSTMAN_CAMPAIGN_ID``; ``None`` when unset.
    campaign_id: str | None

    def require(self) -> tuple[str, Secret]:
        """The campaign ID and key, or a ValidationError naming what is unset."""
        missing = [
            name
            for name, value in (
                ("POSTMAN_CAMPAIGN_ID", self.campaign_id),
                ("POSTMAN_API_KEY", self.api_key),
            )
            if value is None
        ]
        if missing or self.campaign_id is None or self.api_key is None:
            raise ValidationError(
                f"{' and '.join(missing)} not set: export the campaign's ID and one of its "
                "API keys (Postman portal > Campaign settings)"
            )
        return self.campaign_id, self.api_key


def read_env(environ: Mapping[str, str] | None = None) -> EnvConfig:
    """Read and check the ``POSTMAN_*`` variables (``environ``: ``os.environ`` by default).

    Empty variables count as unset.  Values are checked here; the key is never
    echoed in an error.

    Raises:
        ValidationError: an unknown ``POSTMAN_ENV``, both ``POSTMAN_ENV`` and
            ``POSTMAN_BASE_URL`` set to different URLs, or a malformed value.
    """
    env = os.environ if environ is None else environ
    url = env.get("POSTMAN_BASE_URL") or None
    name = env.get("POSTMAN_ENV") or None
    if name is not None:
        named = ENVIRONMENTS.get(name.strip().lower())
        if named is None:
            raise ValidationError(
                f"POSTMAN_ENV must be one of {', '.join(ENVIRONMENTS)}, got {name!r}"
            )
        if url is not None and check_base_url(url) != named:
            raise ValidationError(
                "POSTMAN_ENV and POSTMAN_BASE_URL name different URLs: set only one of them"
            )
        url = named
    key = env.get("POSTMAN_API_KEY") or None
    try:
        secret = None if key is None else check_api_key(key.strip())
    except ValidationError as exc:
        raise ValidationError(f"POSTMAN_API_KEY: {exc}") from None
    campaign = env.get("POSTMAN_CAMPAIGN_ID") or None
    if campaign is not None:
        campaign = campaign.strip()
        path_segment("POSTMAN_CAMPAIGN_ID", campaign)
    return EnvConfig(
        base_url=check_base_url(url or ENVIRONMENTS["production"]),
        api_key=secret,
        campaign_id=campaign,
    )
