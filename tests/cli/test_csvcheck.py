"""The local batch check: every bad row, with the line it starts on."""

from __future__ import annotations

import pathlib

from postman_async.cli._csvcheck import MAX_PROBLEMS, check_bytes, check_file


def lines_of(data: bytes, max_rows: int | None = None) -> list[int]:
    return [line for line, _ in check_bytes(data, max_rows=max_rows).problems]


def test_a_good_file() -> None:
    report = check_bytes(b"\xef\xbb\xbfrecipient,language,otp,name\r\n6591234567,english,1,Tan\r\n")
    assert report.ok
    assert report.rows == 1
    assert report.variables == ["otp", "name"]


def test_line_numbers_count_quoted_newlines_and_skip_blank_lines() -> None:
    data = (
        b'recipient,language,note\n6591234567,english,"a\nb"\n\n6591234568,ENGLISH,c\n'
        b"6591234569,english, padded\n"
    )
    report = check_bytes(data)
    assert [line for line, _ in report.problems] == [5, 6]
    assert report.rows == 3


def test_header_problems() -> None:
    assert check_bytes(b"").problems[0][1].startswith("the file is empty")
    assert "lacks language" in check_bytes(b"recipient,otp\n6591234567,1\n").problems[0][1]
    assert "repeats otp" in check_bytes(b"recipient,language,otp,otp\n").problems[0][1]
    assert "no rows" in check_bytes(b"recipient,language\n").problems[0][1]


def test_not_utf8_names_the_line() -> None:
    assert lines_of(b"recipient,language,otp\n6591234567,english,\xff\n") == [2]


def test_row_limit_of_the_test_environment() -> None:
    data = b"recipient,language\n" + b"6591234567,english\n" * 21
    assert check_bytes(data, max_rows=21).ok
    (problem,) = check_bytes(data, max_rows=20).problems
    assert problem == (0, "21 rows; the test environment takes at most 20")


def test_problems_are_capped_but_counted(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(b"recipient,language\n" + b"12,english\n" * (MAX_PROBLEMS + 5))
    report = check_file(path)
    assert len(report.problems) == MAX_PROBLEMS
    assert report.more == 5
    assert report.problems[0][0] == 2
    assert "recipient ** has 2 digits" in report.problems[0][1]  # numbers stay masked
