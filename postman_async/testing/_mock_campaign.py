"""A campaign: its settings, keys, templates, rate window, counters and messages."""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Literal

from ._checks import check_campaign_settings, recipient_problem
from ._environments import (
    DEFAULT_TPS,
    TEST_MAX_BATCH_ROWS,
    Environment,
    environment_of,
    new_key,
)
from ._rate_windows import MockRateWindow, make_rate_window
from ._records import MockBatch, MockMessage
from ._stats import Stats

#: Most API keys a campaign can hold.
MAX_API_KEYS = 3
#: The agency line every message starts with.
HEADER = "Open Government Products"
#: The localised line every message ends with.
FOOTERS: Mapping[str, str] = MappingProxyType(
    {
        "english": "This is an automated SMS from the Singapore Government. Please do not reply.",
        "chinese": "这是新加坡政府发出的自动短信。请勿回复。",
        "malay": "Ini ialah SMS automatik daripada Kerajaan Singapura. Sila jangan balas.",
        "tamil": "இது சிங்கப்பூர் அரசாங்கத்தின் தானியங்கி குறுஞ்செய்தி. பதில் அனுப்ப வேண்டாம்.",
    }
)

_PLACEHOLDER = re.compile(r"\{\{\s*([a-z][a-z0-9_]*)\s*\}\}")


class TemplateBody:
    """The template text of one language."""

    __slots__ = ("body", "created_iso", "id", "language")

    def __init__(self, language: str, body: str, created_iso: str) -> None:
        #: Template body ID.
        self.id = str(uuid.uuid4())
        #: Language of this body.
        self.language = language
        #: Raw text with ``{{variable}}`` placeholders.
        self.body = body
        #: ``createdAt`` as shown to callers.
        self.created_iso = created_iso


class MockCampaign:
    """A campaign of the mock. Create one with ``MockPostman.add_campaign``."""

    __slots__ = (
        "allowed_ips",
        "api_keys",
        "batches",
        "creator_email",
        "creator_id",
        "environment",
        "hold_sent_to_telco",
        "id",
        "keys",
        "languages",
        "max_batch_rows",
        "messages",
        "nric",
        "rate_limit",
        "rate_window",
        "stats",
        "template_bodies",
        "template_id",
        "tps",
        "variables",
    )

    def __init__(
        self,
        *,
        campaign_id: str | None,
        api_keys: Sequence[str] | None,
        environment: Environment | None,
        tps: int | Literal["auto"] | None,
        rate_limit: str,
        languages: Sequence[str],
        variables: Sequence[str],
        max_batch_rows: int | Literal["auto"] | None,
        hold_sent_to_telco: bool,
        templates: Mapping[str, str] | None,
        allowed_ips: Sequence[str] | None,
        created_iso: str,
        nric: Mapping[str, str] | None = None,
    ) -> None:
        check_campaign_settings(languages, variables)
        if api_keys is None:
            environment = environment_of([], environment or "test")
            keys = [new_key(environment)]
        else:
            keys = list(api_keys)
            environment = environment_of(keys, environment)
        if not 1 <= len(keys) <= MAX_API_KEYS:
            raise ValueError(f"a campaign holds 1 to {MAX_API_KEYS} API keys, got {len(keys)}")
        if max_batch_rows == "auto":
            max_batch_rows = TEST_MAX_BATCH_ROWS if environment == "test" else None
        if max_batch_rows is not None and max_batch_rows < 1:
            raise ValueError(f"max_batch_rows must be at least 1, got {max_batch_rows}")
        if tps == "auto":
            tps = DEFAULT_TPS[environment]
        #: Campaign ID.
        self.id = campaign_id or f"campaign_{uuid.uuid4()}"
        #: Keys accepted for this campaign (up to three).
        self.api_keys = keys
        #: ``test``, ``production`` or ``loadtest``: decides test numbers, row cap, lifecycle.
        self.environment: Environment = environment
        #: Source addresses allowed to call (the IP whitelist), ``None`` for any.
        self.allowed_ips = (
            None
            if allowed_ips is None
            else frozenset(str(ipaddress.ip_address(ip)) for ip in allowed_ips)
        )
        #: NRIC-style identifiers (upper case) and the numbers they resolve to; ``None``: the
        #: campaign cannot send by NRIC.
        self.nric = None if nric is None else {k.strip().upper(): v for k, v in nric.items()}
        if self.nric is not None:
            bad = [number for number in self.nric.values() if recipient_problem(number)]
            if bad:
                raise ValueError("nric maps to numbers that are not normalised numbers")
        #: Requests per second allowed, ``None`` for no limit.
        self.tps = tps
        #: The rate-limit model: ``sliding``, ``fixed`` or ``token_bucket``.
        self.rate_limit = rate_limit
        #: The rate window shared by every endpoint of the campaign.
        self.rate_window: MockRateWindow = make_rate_window(tps, rate_limit)
        #: Enabled languages.
        self.languages = tuple(languages)
        #: Template variables every send must fill.
        self.variables = tuple(variables)
        #: Most rows a batch CSV may hold (20 on the test environment), ``None`` for no cap.
        self.max_batch_rows = max_batch_rows
        #: Keep messages in ``sent_to_telco`` instead of letting the telco report back.
        self.hold_sent_to_telco = hold_sent_to_telco
        #: Template ID and one body per language.
        self.template_id = str(uuid.uuid4())
        self.template_bodies = {
            language: TemplateBody(language, self._template(templates, language), created_iso)
            for language in self.languages
        }
        #: The user that API-created messages are attributed to.
        self.creator_id = f"user_{uuid.uuid4()}"
        self.creator_email = f"{self.id}@postman.gov.sg"
        #: Counters for this campaign.
        self.stats = Stats()
        #: Messages in creation order, and their sort keys.
        self.messages: list[MockMessage] = []
        self.keys: list[tuple[str, str]] = []
        #: Batches by ID.
        self.batches: dict[str, MockBatch] = {}

    def __repr__(self) -> str:
        return (
            f"MockCampaign(id={self.id!r}, environment={self.environment!r}, tps={self.tps!r}, "
            f"rate_limit={self.rate_limit!r})"
        )

    @property
    def api_key(self) -> str:
        """The first API key."""
        return self.api_keys[0]

    def accepts(self, authorization: str | None) -> bool:
        """Return whether an ``Authorization`` header value carries one of the keys."""
        if not authorization:
            return False
        scheme, _, token = authorization.partition(" ")
        return scheme.lower() == "bearer" and token.strip() in self.api_keys

    def allows_ip(self, address: str | None) -> bool:
        """Return whether a request from ``address`` passes the IP whitelist."""
        if self.allowed_ips is None:
            return True
        if address is None:
            return False
        try:
            return str(ipaddress.ip_address(address)) in self.allowed_ips
        except ValueError:
            return False

    def fill(self, language: str, values: Mapping[str, str]) -> str:
        """Return the template of ``language`` filled with ``values`` (no header or footer)."""
        template = self.template_bodies[language].body
        return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)

    def render(self, language: str, values: Mapping[str, str]) -> str:
        """Return the full text of a message: header, filled template, footer."""
        body = self.fill(language, values)
        return f"{HEADER}\n\n---\n\n{body}\n\n---\n\n{FOOTERS[language]}"

    def add_message(self, message: MockMessage) -> None:
        """Store a newly created message (they arrive in key order)."""
        self.messages.append(message)
        self.keys.append(message.key)

    def clear(self) -> None:
        """Forget messages, batches, counters and rate-limit history."""
        self.messages.clear()
        self.keys.clear()
        self.batches.clear()
        self.stats.reset()
        self.rate_window.reset()

    def _template(self, templates: Mapping[str, str] | None, language: str) -> str:
        if templates and language in templates:
            body = templates[language]
            unknown = set(_PLACEHOLDER.findall(body)) - set(self.variables)
            if unknown:
                raise ValueError(f"template uses undeclared variables: {sorted(unknown)}")
            return body
        return " ".join(f"{{{{{name}}}}}" for name in self.variables) or "Hello."
