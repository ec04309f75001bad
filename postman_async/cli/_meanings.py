"""What Postman's codes mean and what to do about them, in one line each.

Delivery error codes (a failed attempt's ``error_code``) come from Postman's
"message delivery errors" page; API error codes (an ``APIError.code``) from
its API reference.  :func:`explain` turns any :class:`PostmanError` into the
one line a command prints before exiting 1.
"""

from __future__ import annotations

from typing import Final

from .._errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BatchRejectedError,
    ClientClosedError,
    LimiterTimeoutError,
    NotFoundError,
    PermissionDeniedError,
    PostmanError,
    RateLimitError,
    ResponseDecodeError,
    ServerError,
    TrackingTimeoutError,
)

#: Delivery error codes: what happened, and whether a retry can help.
DELIVERY_ERRORS: Final = {
    "recipient_invalid": "the operator does not recognise the number (deactivated or wrong); "
    "do not retry",
    "recipient_unavailable": "the phone is not on the network (no coverage, switched off, SIM "
    "problem); worth a retry later",
    "content_invalid": "the telco refused the message content; do not retry, check the values",
    "routing_error": "the message could not be routed to the recipient's network; a retry may help",
    "message_expired": "the telco could not deliver it in time; a retry may help "
    "(an OTP user has probably asked for a new one)",
    "delivery_unknown_error": "the telco did not say why delivery failed; a retry may help",
    "server_unknown_error": "Postman failed to hand it to the telco; a retry may help",
}

#: API error codes: what to do.
API_ERRORS: Final = {
    "parameter_invalid": "fix the request as the message says",
    "message_not_found_or_retry_message_not_in_failure_status": "only a message in failure "
    "can be retried; check its status with: postman-async status MESSAGE_ID",
    "too_many_message_attempts_error": "the message had its 3 attempts; send a new one",
    "batch_not_found_or_is_not_retryable": "check the batch ID, or wait until the batch is "
    "processed",
    "unresolved_batch_messages": "some messages are not final yet; wait (postman-async watch "
    "--batch BATCH_ID), then retry",
    "no_failed_batch_messages_to_retry": "no message of the batch failed: nothing to retry",
    "invalid_ip_address_used": "whitelist this machine's public IP address for the campaign "
    "in the Postman portal",
}


def meaning(code: str) -> str:
    """What a delivery error code means, or a plain note for a code this version does not know."""
    return DELIVERY_ERRORS.get(code, "no description known for this code")


def explain(exc: PostmanError) -> str:
    """One line: what failed, and what to do."""
    text = str(exc)
    hint = _hint(exc)
    return f"{text}; {hint}" if hint else text


def _hint(exc: PostmanError) -> str | None:
    if exc.message_may_exist:
        return (
            "check with postman-async list --since 10m (add --search DIGITS) before sending again"
        )
    if isinstance(exc, APIError) and exc.code in API_ERRORS:
        return API_ERRORS[exc.code]
    hints: list[tuple[type[PostmanError], str]] = [
        (
            AuthenticationError,
            "check POSTMAN_API_KEY and POSTMAN_CAMPAIGN_ID belong together "
            "and match the environment",
        ),
        (PermissionDeniedError, "this key may not do that; contact the Postman team"),
        (NotFoundError, "check the ID and the campaign"),
        (
            RateLimitError,
            "the campaign's rate limit was exceeded; wait a moment and retry "
            "(is another program using the campaign?)",
        ),
        (ServerError, "Postman failed and did not queue the request; try again later"),
        (APITimeoutError, "Postman did not answer in time; try again, or raise --timeout"),
        (APIConnectionError, "check the network and the API address (POSTMAN_BASE_URL or --env)"),
        (LimiterTimeoutError, "the rate budget did not free up in time; raise --timeout"),
        (BatchRejectedError, "fix the rows listed in the report and upload again"),
        (TrackingTimeoutError, "not every message was final; watch them again later"),
        (ResponseDecodeError, "Postman's answer was not understood; check the API address"),
        (ClientClosedError, "the command was stopping"),
    ]
    for cls, hint in hints:
        if isinstance(exc, cls):
            return hint
    return None
