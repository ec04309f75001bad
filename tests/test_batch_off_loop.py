"""Big batch CSVs are built and checked off the event loop, and files are uploaded from disk."""

from __future__ import annotations

import asyncio
import pathlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import postman_async._batch as batch_module
from postman_async import PostmanClient, ValidationError
from postman_async.testing import MockTransport, Request, Response

KEY = "key_live_batch-off-loop-secret"
RECEIPT = b'{"batchId": "batch_1", "isValid": true}'
ROWS = 10_000


def _csv(rows: int) -> bytes:
    lines = ["recipient,language,name"]
    lines += [f"659{i:07d},english,Tan Ah Kow {i}" for i in range(rows)]
    return ("\r\n".join(lines) + "\r\n").encode()


def _spy(monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    """Record the thread each call of ``_batch.<name>`` runs on."""
    threads: list[int] = []
    real: Callable[..., Any] = getattr(batch_module, name)

    def spy(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.get_ident())
        return real(*args, **kwargs)

    monkeypatch.setattr(batch_module, name, spy)
    return threads


def _send(rows: object) -> tuple[list[Request], int]:
    """Send ``rows`` as a batch through MockTransport; return the requests and the loop's thread."""
    requests: list[Request] = []

    def handler(request: Request) -> Response:
        requests.append(request)
        return Response(status=201, body=RECEIPT)

    async def main() -> int:
        async with PostmanClient(transport=MockTransport(handler)) as client:
            campaign = client.campaign("campaign_1", api_key=KEY)
            receipt = await campaign.send_batch(rows)  # type: ignore[arg-type]
            assert receipt.num_rows == ROWS
        return threading.get_ident()

    return requests, asyncio.run(main())


def test_a_file_is_checked_in_a_thread_and_uploaded_from_disk(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    threads = _spy(monkeypatch, "check_csv_file")
    reads = _spy(monkeypatch, "check_csv")
    path = tmp_path / "alerts.csv"
    path.write_bytes(_csv(ROWS))
    requests, loop_thread = _send(path)
    assert len(threads) == 1
    assert threads[0] != loop_thread
    assert reads == []  # the file was never read whole into bytes
    (upload,) = requests[0].uploads
    assert upload.source == path  # streamed from disk by the transport
    assert upload.filename == "alerts.csv"


def test_big_csv_bytes_are_checked_in_a_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    threads = _spy(monkeypatch, "check_csv")
    data = _csv(ROWS)
    assert len(data) > batch_module.INLINE_CHECK_BYTES
    _, loop_thread = _send(data)
    assert len(threads) == 1
    assert threads[0] != loop_thread


def test_a_row_iterator_is_built_in_a_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    threads = _spy(monkeypatch, "build_csv")
    rows_threads: list[int] = []

    def rows() -> Iterator[dict[str, str]]:
        for i in range(ROWS):
            rows_threads.append(threading.get_ident())
            yield {"recipient": f"659{i:07d}", "name": "Tan"}

    requests, loop_thread = _send(rows())
    assert len(threads) == 1
    assert threads[0] != loop_thread
    assert set(rows_threads) == {threads[0]}
    assert isinstance(requests[0].uploads[0].source, bytes)


def test_a_short_row_list_is_built_inline(monkeypatch: pytest.MonkeyPatch) -> None:
    threads = _spy(monkeypatch, "build_csv")
    requests: list[Request] = []

    def handler(request: Request) -> Response:
        requests.append(request)
        return Response(status=201, body=RECEIPT)

    async def main() -> int:
        async with PostmanClient(transport=MockTransport(handler)) as client:
            campaign = client.campaign("campaign_1", api_key=KEY)
            await campaign.send_batch([{"recipient": "6591234567", "name": "Tan"}])
        return threading.get_ident()

    assert threads == [asyncio.run(main())]


def test_a_bad_file_fails_before_any_request(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(_csv(10) + b"6591234567,english\r\n")
    with pytest.raises(ValidationError, match="row 11 has 2 cells"):
        _send(path)
    path.write_bytes(b"recipient,language,name\r\n6591234567,english,\xff\xfe\r\n")
    with pytest.raises(ValidationError, match="not UTF-8"):
        _send(path)
    with pytest.raises(ValidationError, match="cannot read batch CSV"):
        _send(tmp_path / "missing.csv")
