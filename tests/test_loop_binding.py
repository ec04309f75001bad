"""One event loop per client; a client dropped while open warns where it was made."""

from __future__ import annotations

import asyncio
import gc
import threading
import warnings

import pytest

from postman_async import Campaign, PostmanClient, PostmanError, WrongEventLoopError
from postman_async.testing import MockTransport, Request, Response, serve_mock

KEY = "key_test_loop-binding-secret"
CREATED = b'{"id": "message_1", "latestStatus": "created", "recipient": "6591234567"}'


def _created(request: Request) -> Response:
    return Response(status=201, body=CREATED)


def _setup() -> tuple[PostmanClient, Campaign, MockTransport]:
    transport = MockTransport(_created)
    client = PostmanClient(base_url=PostmanClient.TEST_URL, transport=transport)
    return client, client.campaign("campaign_1", api_key=KEY), transport


def test_second_loop_after_the_first_closed_is_refused_at_once() -> None:
    client, otp, transport = _setup()
    asyncio.run(otp.send("6591234567", {"otp": "1"}))
    with pytest.raises(WrongEventLoopError, match="one PostmanClient per event loop") as info:
        asyncio.run(otp.send("6591234567", {"otp": "2"}))
    assert isinstance(info.value, PostmanError)
    assert "has closed since" in str(info.value)
    assert "test_loop_binding.py" in str(info.value)  # where the client was created
    assert len(transport.requests) == 1  # nothing sent from the second loop
    # Closing from a new loop after the first one closed works (nothing can be awaited there).
    asyncio.run(client.close())
    assert client.closed


def test_a_thread_with_its_own_loop_is_refused_while_the_first_runs() -> None:
    client, otp, transport = _setup()
    errors: list[BaseException] = []

    def in_thread() -> None:
        try:
            asyncio.run(otp.send("6591234567", {"otp": "2"}))
        except BaseException as exc:
            errors.append(exc)

    async def main() -> None:
        await otp.send("6591234567", {"otp": "1"})
        thread = threading.Thread(target=in_thread)
        thread.start()
        await asyncio.to_thread(thread.join)
        # Closing from another loop while ours runs is refused too.
        with pytest.raises(WrongEventLoopError, match="is another one"):
            await asyncio.to_thread(asyncio.run, client.close())
        await client.close()

    asyncio.run(main())
    assert len(errors) == 1
    assert isinstance(errors[0], WrongEventLoopError)
    assert len(transport.requests) == 1


def test_the_same_loop_is_fine_for_many_calls() -> None:
    client, otp, transport = _setup()

    async def main() -> None:
        async with client:
            await asyncio.gather(*(otp.send("6591234567", {"otp": "1"}) for _ in range(5)))

    asyncio.run(main())
    assert len(transport.requests) == 5


def _recording() -> warnings.catch_warnings[list[warnings.WarningMessage]]:
    """Record every warning (``del`` of the last reference runs ``__del__`` at once)."""
    return warnings.catch_warnings(record=True)


def test_a_used_client_dropped_open_warns_where_it_was_created() -> None:
    async def main() -> list[warnings.WarningMessage]:
        client, otp, _ = _setup()
        line = _setup.__code__.co_firstlineno + 2  # the PostmanClient(...) line in _setup
        await otp.send("6591234567", {"otp": "1"})
        with _recording() as caught:
            warnings.simplefilter("always")
            del client, otp
            gc.collect()
        assert [str(w.message) for w in caught] == [
            f"PostmanClient created at {__file__}:{line} was garbage collected while open; "
            "close it: `async with PostmanClient(...) as client:` or `await client.close()`"
        ]
        return caught

    caught = asyncio.run(main())
    assert caught[0].category is ResourceWarning


def test_an_unused_client_holds_nothing_and_does_not_warn() -> None:
    client, otp, _ = _setup()
    with _recording() as caught:
        warnings.simplefilter("always")
        del client, otp
        gc.collect()
    assert caught == []


def test_a_closed_client_does_not_warn() -> None:
    async def main() -> None:
        client, otp, _ = _setup()
        await otp.send("6591234567", {"otp": "1"})
        await client.close()
        with _recording() as caught:
            warnings.simplefilter("always")
            del client, otp
            gc.collect()
        assert caught == []

    asyncio.run(main())


def test_dropped_aiohttp_client_closes_its_connections_with_only_our_warning() -> None:
    """aiohttp's own "Unclosed client session"/"Unclosed connector" do not follow ours."""

    async def main() -> list[str]:
        async with serve_mock(tps=10, variables=("otp",)) as server:
            client = PostmanClient(base_url=server.base_url)
            otp = client.campaign(server.campaign_id, api_key=server.api_key)
            await otp.send("6591234567", {"otp": "1"})
            transport = client._requests.transport
            session = transport._session  # type: ignore[attr-defined]
            assert session is not None and not session.closed
            with _recording() as caught:
                warnings.simplefilter("always")
                del client, otp, transport
                gc.collect()
                assert session.closed
                del session
                gc.collect()
            return [str(w.message) for w in caught]

    messages = asyncio.run(main())
    assert len(messages) == 1
    assert messages[0].startswith("PostmanClient created at ")
    assert "test_loop_binding.py" in messages[0]
