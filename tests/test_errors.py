"""The exception tree, the status-to-class map and what an APIError says."""

from __future__ import annotations

import inspect

import pytest

import postman_async
from postman_async import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    BatchReceipt,
    BatchRejectedError,
    GoneError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    PostmanError,
    RateLimitError,
    ResponseDecodeError,
    ServerError,
    ValidationError,
    _errors,
)
from postman_async._errors import error_class_for


def _error_classes() -> list[type[BaseException]]:
    return [getattr(_errors, name) for name in _errors.__all__]


def test_all_lists_every_exception_class_in_the_module() -> None:
    defined = {
        name
        for name, obj in vars(_errors).items()
        if inspect.isclass(obj)
        and issubclass(obj, BaseException)
        and obj.__module__ == _errors.__name__
    }
    assert defined == set(_errors.__all__)


@pytest.mark.parametrize("cls", _error_classes(), ids=lambda cls: cls.__name__)
def test_every_error_is_a_postman_error_and_exported(cls: type[BaseException]) -> None:
    assert issubclass(cls, PostmanError)
    assert getattr(postman_async, cls.__name__) is cls
    assert cls.__name__ in postman_async.__all__
    assert cls.__doc__
    # The tree drawn in the module docstring shows every class.
    assert cls.__name__ in (_errors.__doc__ or "")


def test_tree_shape() -> None:
    assert issubclass(PostmanError, Exception)
    assert issubclass(ValidationError, ValueError)
    assert issubclass(APITimeoutError, APIConnectionError)
    assert not issubclass(APIConnectionError, APIError)
    assert not issubclass(ResponseDecodeError, APIError)
    for cls in (
        BadRequestError,
        AuthenticationError,
        PermissionDeniedError,
        NotFoundError,
        GoneError,
        PayloadTooLargeError,
        RateLimitError,
        ServerError,
    ):
        assert issubclass(cls, APIError)
        assert cls is not APIError


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (410, GoneError),
        (413, PayloadTooLargeError),
        (429, RateLimitError),
        (418, APIError),
        (409, APIError),
        (302, APIError),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
        (504, ServerError),
        (599, ServerError),
    ],
)
def test_error_class_for(status: int, cls: type[APIError]) -> None:
    assert error_class_for(status) is cls


def test_postman_error_defaults() -> None:
    error = PostmanError("boom")
    assert str(error) == "boom"
    assert error.message_may_exist is False
    assert PostmanError("x", message_may_exist=True).message_may_exist is True


def test_api_error_attributes() -> None:
    error = RateLimitError(
        "Too Many Requests",
        status=429,
        request="POST /campaigns/c/messages",
        code="rate_limited",
        trace_id="t-1",
        body=b'{"x": 1}',
        retry_after=2.5,
    )
    assert error.status == 429
    assert error.message == "Too Many Requests"
    assert error.code == "rate_limited"
    assert error.trace_id == "t-1"
    assert error.body == b'{"x": 1}'
    assert error.retry_after == 2.5
    assert error.request == "POST /campaigns/c/messages"
    assert error.message_may_exist is False


def test_api_error_str_has_everything() -> None:
    error = BadRequestError(
        "Invalid recipient, ensure it is a valid normalized phone number, eg 6591112222.",
        status=400,
        request="POST /campaigns/campaign_1/messages",
        code="parameter_invalid",
        trace_id="trace_abc",
    )
    assert str(error) == (
        "POST /campaigns/campaign_1/messages: HTTP 400: parameter_invalid: "
        "Invalid recipient, ensure it is a valid normalized phone number, eg 6591112222. "
        "(trace id trace_abc)"
    )


def test_api_error_str_with_the_may_exist_hint() -> None:
    error = ServerError(
        "Bad Gateway", status=502, request="POST /campaigns/c/messages", message_may_exist=True
    )
    text = str(error)
    assert text.startswith("POST /campaigns/c/messages: HTTP 502: Bad Gateway")
    assert "may have been created" in text
    assert "reconcile" in text
    # The hint follows the attribute, which the request loop sets after construction.
    error.message_may_exist = False
    assert "may have been created" not in str(error)


def test_api_error_str_minimal() -> None:
    assert str(APIError("I'm a teapot", status=418)) == "HTTP 418: I'm a teapot"


def test_api_error_keeps_at_most_2_kib_of_body() -> None:
    body = b"<html>" + b"x" * 10_000
    error = ServerError("Bad Gateway", status=502, body=body)
    assert error.body == body[:2048]
    assert len(error.body) == 2048
    assert "xxxx" not in str(error)  # the body is kept, not printed


def test_response_decode_error() -> None:
    body = b"{" * 5000
    error = ResponseDecodeError("bad", status=201, body=body, message_may_exist=True)
    assert error.status == 201
    assert error.body == body[:2048]
    assert error.message_may_exist is True
    assert str(error) == "bad"


def test_batch_rejected_error_keeps_the_receipt() -> None:
    receipt = BatchReceipt(is_valid=False, report_url="https://x/report.csv", num_errors=2)
    error = BatchRejectedError("refused", receipt=receipt)
    assert error.receipt is receipt
    assert error.message_may_exist is False


def test_validation_error_is_caught_as_value_error() -> None:
    with pytest.raises(ValueError, match="nope"):
        raise ValidationError("nope")


def test_errors_survive_pickling_with_their_attributes() -> None:
    import pickle

    from postman_async import BatchReceipt, BatchRejectedError, ServerError

    err = ServerError(
        "boom", status=502, code="bad_gateway", request="GET /x", message_may_exist=True
    )
    copy = pickle.loads(pickle.dumps(err))
    assert type(copy) is ServerError
    assert (copy.status, copy.code, copy.message_may_exist, str(copy)) == (
        502,
        "bad_gateway",
        True,
        str(err),
    )
    rejected = pickle.loads(
        pickle.dumps(BatchRejectedError("no", receipt=BatchReceipt(num_rows=3)))
    )
    assert rejected.receipt.num_rows == 3
