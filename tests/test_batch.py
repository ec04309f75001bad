"""Batch CSV: building Postman's file from rows, and checking a file the caller wrote."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postman_async import ValidationError, _batch
from postman_async._batch import MAX_CSV_BYTES, TEST_MAX_ROWS, build_csv, check_csv, check_size


def _read(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


# --------------------------------------------------------------------------- build_csv


def test_build_csv_header_order_and_rows() -> None:
    data, count = build_csv(
        [
            {"topic": "flu jab", "recipient": "+65 9123 4567", "name": "Tan", "clinic": "Bedok"},
            {"clinic": "Tampines", "name": "Siti", "recipient": "6598765432", "topic": "x"},
        ]
    )
    assert count == 2
    assert data == (
        b"recipient,language,clinic,name,topic\r\n"
        b"6591234567,english,Bedok,Tan,flu jab\r\n"
        b"6598765432,english,Tampines,Siti,x\r\n"
    )


def test_build_csv_quotes_commas_quotes_and_newlines() -> None:
    rows = [
        {
            "recipient": "6591234567",
            "address": "1 Jalan Besar, #02-03",
            "quote": 'He said "hi"',
            "body": "line one\nline two",
            "crlf": "a\r\nb",
        }
    ]
    data, _ = build_csv(rows)
    text = data.decode()
    assert '"1 Jalan Besar, #02-03"' in text
    assert '"He said ""hi"""' in text  # quotes doubled inside a quoted cell
    assert '"line one\nline two"' in text  # a real newline, inside quotes
    assert "\\n" not in text  # never a literal backslash-n
    header, row = _read(data)
    assert dict(zip(header, row, strict=True)) == {
        "recipient": "6591234567",
        "language": "english",
        **{k: v for k, v in rows[0].items() if k != "recipient"},
    }


_cell_text = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
    min_size=1,
    max_size=30,
).filter(lambda s: s == s.strip(" "))


@given(
    st.lists(
        st.fixed_dictionaries({"a_var": _cell_text, "b": _cell_text, "zz_9": _cell_text}),
        min_size=1,
        max_size=5,
    )
)
def test_build_csv_round_trips_through_csv_reader(rows: list[dict[str, str]]) -> None:
    full = [{"recipient": f"65912345{i:02d}", **row} for i, row in enumerate(rows)]
    data, count = build_csv(full)
    assert count == len(rows)
    header, *records = _read(data)
    assert header == ["recipient", "language", "a_var", "b", "zz_9"]
    assert [dict(zip(header, r, strict=True)) for r in records] == [
        {**row, "language": "english"} for row in full
    ]
    assert check_csv(data) == len(rows)


def test_build_csv_default_and_per_row_language() -> None:
    data, _ = build_csv(
        [
            {"recipient": "6591234567", "name": "a"},
            {"recipient": "6591234568", "name": "b", "language": "Chinese"},
            {"recipient": "6591234569", "name": "c", "language": ""},
        ],
        default_language="malay",
    )
    assert [row[1] for row in _read(data)[1:]] == ["malay", "chinese", "malay"]


def test_build_csv_normalises_recipients() -> None:
    data, _ = build_csv(
        [
            {"recipient": "+65 9123-4567", "name": "a"},
            {"recipient": 6598765432, "name": "b"},
            {"recipient": "0044 20 7946 0958", "name": "c"},
        ]
    )
    assert [row[0] for row in _read(data)[1:]] == ["6591234567", "6598765432", "442079460958"]


def test_build_csv_accepts_a_generator() -> None:
    def rows() -> Iterator[dict[str, str]]:
        for i in range(3):
            yield {"recipient": f"659123456{i}", "n": str(i)}

    data, count = build_csv(rows())
    assert count == 3
    assert len(_read(data)) == 4


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        ({"recipient": "91234567", "name": "x"}, "country code"),
        ({"name": "x"}, "recipient must be a phone number"),
        ({"recipient": "6591234567", "name": "x", "language": "french"}, "language"),
        ({"recipient": "6591234567", "name": ""}, "empty"),
        ({"recipient": "6591234567", "name": 5}, "must be a string"),
        ({"recipient": "6591234567", "Name": "x"}, "template variable name"),
        ({"recipient": "6591234567"}, "values is empty"),
    ],
)
def test_build_csv_row_errors_name_the_row(bad: dict[str, object], fragment: str) -> None:
    rows: list[object] = [{"recipient": "6591234567", "name": "ok"}] * 2 + [bad]
    with pytest.raises(ValidationError) as info:
        build_csv(rows)  # type: ignore[arg-type]
    message = str(info.value)
    assert message.startswith("row 3: ")
    assert fragment in message


def test_build_csv_first_row_error_is_row_1() -> None:
    with pytest.raises(ValidationError, match=r"^row 1: "):
        build_csv([{"recipient": "abc", "name": "x"}])


def test_build_csv_refuses_non_mapping_rows() -> None:
    with pytest.raises(ValidationError, match=r"row 2: expected a mapping, got list"):
        build_csv([{"recipient": "6591234567", "n": "x"}, ["6591234567", "x"]])  # type: ignore[list-item]


@pytest.mark.parametrize(
    "second",
    [
        {"recipient": "6591234568", "name": "b"},
        {"recipient": "6591234568", "name": "b", "clinic": "c", "extra": "d"},
        {"recipient": "6591234568", "name": "b", "clinik": "c"},
    ],
)
def test_build_csv_refuses_mismatched_variables(second: dict[str, str]) -> None:
    with pytest.raises(ValidationError, match="row 2: has variables") as info:
        build_csv([{"recipient": "6591234567", "name": "a", "clinic": "c"}, second])
    assert "['clinic', 'name']" in str(info.value)


def test_build_csv_refuses_empty_input() -> None:
    with pytest.raises(ValidationError, match="no rows"):
        build_csv([])


def test_build_csv_max_rows() -> None:
    rows = [{"recipient": f"65912345{i:02d}", "n": "x"} for i in range(TEST_MAX_ROWS)]
    _, count = build_csv(rows, max_rows=TEST_MAX_ROWS)
    assert count == TEST_MAX_ROWS == 20
    with pytest.raises(ValidationError, match="more than 20 rows"):
        build_csv([*rows, rows[0]], max_rows=TEST_MAX_ROWS)


def test_build_csv_max_rows_stops_reading_early() -> None:
    consumed: list[int] = []

    def endless() -> Iterator[dict[str, str]]:
        i = 0
        while True:
            consumed.append(i)
            yield {"recipient": "6591234567", "n": "x"}
            i += 1

    with pytest.raises(ValidationError, match="more than 3 rows"):
        build_csv(endless(), max_rows=3)
    assert len(consumed) == 4


def test_build_csv_refuses_an_oversized_file(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [{"recipient": "6591234567", "body": "x" * 500}] * 3
    data, _ = build_csv(rows)
    monkeypatch.setattr(_batch, "MAX_CSV_BYTES", len(data) - 1)
    with pytest.raises(ValidationError, match="40 MB"):
        build_csv(rows)
    monkeypatch.setattr(_batch, "MAX_CSV_BYTES", len(data))
    assert build_csv(rows)[0] == data


# --------------------------------------------------------------------------- check_size


def test_check_size_limit_is_40_mb() -> None:
    assert MAX_CSV_BYTES == 40_000_000
    check_size(0)
    check_size(MAX_CSV_BYTES)
    with pytest.raises(ValidationError, match=r"40\.0 MB; Postman's limit is 40 MB: split it"):
        check_size(MAX_CSV_BYTES + 1)


# --------------------------------------------------------------------------- check_csv

GOOD = (
    b"recipient,language,name,body\r\n"
    b'6591234567,english,Tan,"line one\r\nline two"\r\n'
    b'6598765432,chinese,"Lim, Siti","say ""hi""\nbye"\r\n'
    b"6591112222,tamil,Raj,plain\r\n"
)


def test_check_csv_counts_records_not_lines() -> None:
    assert GOOD.count(b"\n") == 6
    assert check_csv(GOOD) == 3


def test_check_csv_accepts_lf_bom_and_no_trailing_newline() -> None:
    assert check_csv(b"recipient,language,n\n6591234567,english,x") == 1
    assert check_csv(b"\xef\xbb\xbfrecipient,language,n\r\n6591234567,english,x\r\n") == 1


def test_check_csv_accepts_columns_in_any_order() -> None:
    assert check_csv(b"name,language,recipient\r\nTan,malay,6591234567\r\n") == 1


def test_check_csv_accepts_no_variable_columns() -> None:
    assert check_csv(b"recipient,language\r\n6591234567,english\r\n") == 1


#: Files whose header (or lack of one) is wrong, and what the refusal names.
BAD_HEADERS = [
    (b"", "empty"),
    (b"\r\n", "empty"),
    (b"language,name\r\nenglish,x\r\n", "lacks recipient"),
    (b"recipient,name\r\n6591234567,x\r\n", "lacks language"),
    (b"phone,lang\r\n6591234567,english\r\n", "lacks recipient, language"),
    (b"recipient,language,n,n\r\n6591234567,english,a,b\r\n", "repeats a column"),
    (b"recipient,language,name\r\n", "no rows"),
]

#: Files with a good header and a bad row, and what the refusal names.
BAD_ROWS = [
    (b"recipient,language,n\r\n6591234567,english\r\n", "row 1 has 2 cells, the header has 3"),
    (
        b"recipient,language,n\r\n6591234567,english,a\r\n6591234567,english,a,b\r\n",
        "row 2 has 4 cells, the header has 3",
    ),
    (
        b"recipient,language,n\r\n6591234567,english,a\r\n\r\n6591234568,english,b\r\n",
        "row 2 has 0 cells",
    ),
    (b"recipient,language,n\r\n+6591234567,english,a\r\n", "row 1: recipient must be digits"),
    (b"recipient,language,n\r\n65 9123 4567,english,a\r\n", "row 1: recipient must be digits"),
    (b"recipient,language,n\r\n91234567,english,a\r\n", "row 1: recipient 91****67"),
    (b"recipient,language,n\r\n6591234567,ENGLISH,a\r\n", "row 1: language must be lowercase"),
    (b"recipient,language,n\r\n6591234567,English,a\r\n", "row 1: language must be lowercase"),
    (b"recipient,language,n\r\n6591234567,french,a\r\n", "row 1: language must be one of"),
    (b"recipient,language,n\r\n6591234567,english,\r\n", "row 1: value of 'n' is empty"),
    (b"recipient,language,n\r\n6591234567,english, a\r\n", "row 1: value of 'n' starts"),
    (b"recipient,language,N\r\n6591234567,english,a\r\n", "row 1: template variable name"),
    (b"recipient,language,n\r\n,english,a\r\n", "row 1: recipient is empty"),
]


@pytest.mark.parametrize(("data", "fragment"), [*BAD_HEADERS, *BAD_ROWS])
def test_check_csv_refuses_bad_files(data: bytes, fragment: str) -> None:
    with pytest.raises(ValidationError, match="batch CSV") as info:
        check_csv(data)
    assert fragment in str(info.value)


def test_check_csv_row_errors_do_not_show_full_numbers() -> None:
    with pytest.raises(ValidationError) as info:
        check_csv(b"recipient,language,n\r\n87654321,english,a\r\n")
    assert "87654321" not in str(info.value)


def test_check_csv_refuses_non_utf8() -> None:
    data = "recipient,language,name\r\n6591234567,english,Zoë\r\n".encode("latin-1")
    with pytest.raises(ValidationError, match="not UTF-8") as info:
        check_csv(data)
    position = data.index("ë".encode("latin-1"))
    assert f"byte {position}" in str(info.value)


def test_check_csv_max_rows() -> None:
    rows = b"".join(b"6591234567,english,x\r\n" for _ in range(21))
    data = b"recipient,language,n\r\n" + rows
    assert check_csv(data) == 21
    with pytest.raises(ValidationError, match="more than 20 rows"):
        check_csv(data, max_rows=TEST_MAX_ROWS)
    assert check_csv(data, max_rows=21) == 21


def test_check_csv_max_rows_counts_records_with_newlines() -> None:
    row = b'6591234567,english,"a\r\nb\r\nc"\r\n'
    data = b"recipient,language,n\r\n" + row * 2
    assert check_csv(data, max_rows=2) == 2  # six lines, but two rows


def test_check_csv_refuses_over_the_size_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_batch, "MAX_CSV_BYTES", len(GOOD) - 1)
    with pytest.raises(ValidationError, match="Postman's limit is 40 MB"):
        check_csv(GOOD)
    monkeypatch.setattr(_batch, "MAX_CSV_BYTES", len(GOOD))
    assert check_csv(GOOD) == 3


def test_check_csv_checks_size_before_anything_else(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_batch, "MAX_CSV_BYTES", 10)
    with pytest.raises(ValidationError, match="limit is 40 MB"):
        check_csv(b"\xff" * 11)  # not UTF-8 either, but size is reported


def test_check_csv_a_huge_cell_is_a_validation_error() -> None:
    # Bigger than csv.field_size_limit(): the csv module raises csv.Error.
    cell = b"x" * (csv.field_size_limit() + 1)
    data = b"recipient,language,body\r\n6591234567,english," + cell + b"\r\n"
    with pytest.raises(ValidationError, match="cannot be read"):
        check_csv(data)
