import gzip
from pathlib import Path

import polars as pl
import pytest

from importer import csv_records
from importer.exceptions import UnreadableFileError
from importer.raw import ReadOptions
from importer.reading import open_table
from importer.scratch import scratch_space


def read(path: Path, **options: object) -> tuple[list[str], pl.DataFrame, dict[str, pl.DataFrame]]:
    with open_table(path, ReadOptions(**options)) as table:  # type: ignore[arg-type]
        frames: list[pl.DataFrame] = []
        lines: dict[str, list[pl.DataFrame]] = {name: [] for name in table.children}
        for frame in table.frames:  # a batch's lines follow its records
            frames.append(frame)
            for name, child in table.children.items():
                lines[name].append(next(child.frames))
        children = {name: pl.concat(parts) for name, parts in lines.items()}
        return table.headers, pl.concat(frames), children


def test_csv_rows_carry_their_line_numbers_across_quoted_newlines_and_batches(
    tmp_path: Path,
) -> None:
    path = tmp_path / "p.csv"
    path.write_bytes(
        b'\xef\xbb\xbfsku,name\r\nA1,"two\r\nlines"\r\n\r\nA2,"say ""hi"""\r\nA3,plain\r\n'
    )
    headers, frame, _ = read(path, batch_rows=1)
    assert headers == ["sku", "name"]
    assert frame.get_column("_row").to_list() == [2, 5, 6]
    assert frame.get_column("_c1").to_list() == ["two\r\nlines", 'say "hi"', "plain"]


def test_blocks_split_only_between_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks far smaller than a record: quoted line breaks and escaped quotes never split one."""
    monkeypatch.setattr(csv_records, "CSV_BLOCK_BYTES", 7)
    values = [f'"line {i}\nwith ""quotes"", and\ncommas"' for i in range(40)]
    path = tmp_path / "p.csv"
    path.write_text(
        'sku,"multi\nline header"\n' + "".join(f"A{i},{v}\n" for i, v in enumerate(values))
    )
    headers, frame, _ = read(path, batch_rows=3)
    assert headers == ["sku", "multi\nline header"]
    assert frame.get_column("_c0").to_list() == [f"A{i}" for i in range(40)]
    assert frame.get_column("_c1").to_list()[7] == 'line 7\nwith "quotes", and\ncommas'
    assert frame.get_column("_row").to_list() == [3 + 3 * i for i in range(40)]


def test_a_row_with_more_fields_than_the_header_is_named_by_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csv_records, "CSV_BLOCK_BYTES", 16)
    path = tmp_path / "p.csv"
    path.write_text("sku,name\n" + "".join(f"A{i},x\n" for i in range(30)) + "B,y,z\n")
    with pytest.raises(UnreadableFileError, match=r"line 32: 3 fields, more fields than the 2"):
        read(path)


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_delimiter_is_detected_from_the_header(tmp_path: Path, delimiter: str) -> None:
    path = tmp_path / "p.csv"
    path.write_text(f"sku{delimiter}price\nA1{delimiter}1,50\n")
    headers, frame, _ = read(path)
    assert headers == ["sku", "price"]
    assert frame.get_column("_c1").to_list() == ["1,50"]


def test_tsv_extension_means_tab(tmp_path: Path) -> None:
    path = tmp_path / "p.tsv"
    path.write_text("sku\tname\nA1\tx,y\n")
    _, frame, _ = read(path)
    assert frame.get_column("_c1").to_list() == ["x,y"]


def test_cp1252_is_re_encoded(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_bytes("sku,name\nA1,Café – 5€\n".encode("cp1252"))
    _, frame, _ = read(path, encoding="cp1252")
    assert frame.get_column("_c1").to_list() == ["Café – 5€"]


def test_invalid_utf8_names_the_line_and_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_bytes("sku,name\nA1,ok\nA2,Café\n".encode("cp1252"))
    with pytest.raises(UnreadableFileError, match=r"line 3: byte 0xe9 .*cp1252"):
        read(path)


def test_gzip_is_detected_by_content(tmp_path: Path) -> None:
    path = tmp_path / "p.csv.gz"
    path.write_bytes(gzip.compress(b"sku,name\nA1,x\n"))
    _, frame, _ = read(path)
    assert frame.get_column("_c0").to_list() == ["A1"]


def test_truncated_gzip_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "p.csv.gz"
    path.write_bytes(gzip.compress(b"sku,name\n" + b"A1,x\n" * 1000)[:40])
    with pytest.raises(UnreadableFileError, match="gzip"):
        read(path)


def test_empty_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_bytes(b"")
    with pytest.raises(UnreadableFileError, match="empty"):
        read(path)


def test_json_array_numbers_records_from_one(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text('[{"sku": "A1", "price": 1.5, "inStock": true}, {"sku": 2, "price": "x"}]')
    headers, frame, _ = read(path)
    assert headers == ["sku", "price", "inStock"]
    assert frame.rows() == [(1, "A1", "1.5", "true"), (2, "2", "x", None)]


def test_ndjson(tmp_path: Path) -> None:
    path = tmp_path / "p.ndjson"
    path.write_text('{"sku": "A1"}\n{"sku": "A2"}\n')
    _, frame, _ = read(path)
    assert frame.get_column("_c0").to_list() == ["A1", "A2"]


def test_envelope_with_nested_lines_and_objects(tmp_path: Path) -> None:
    path = tmp_path / "orders.json"
    path.write_text(
        '{"orders": [{"orderNumber": "1", "address": {"city": "Porto"}, '
        '"items": [{"sku": "a", "quantity": 1}, {"sku": "b", "quantity": 2}]}, '
        '{"orderNumber": "2", "items": [{"sku": "c", "quantity": 3}]}]}'
    )
    headers, frame, children = read(path, nested_lists=frozenset({"items"}))
    assert headers == ["orderNumber", "address_city"]
    assert frame.rows() == [(1, "1", "Porto"), (2, "2", None)]
    items = children["items"]
    assert items.select("_row", "_item", "_c0").rows() == [(1, 1, "a"), (1, 2, "b"), (2, 1, "c")]


def test_a_list_of_objects_that_loads_as_no_lines_is_its_json_text(tmp_path: Path) -> None:
    path = tmp_path / "products.json"
    path.write_text('[{"sku": "A1", "images": [{"url": "a.jpg", "w": 2}]}, {"sku": "A2"}]')
    headers, frame, children = read(path, nested_lists=frozenset({"items"}))
    assert headers == ["sku", "images"]
    assert children == {}
    assert frame.get_column("_c1").to_list() == ['[{"url":"a.jpg","w":2}]', None]


def test_broken_json_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text('[{"sku": "A1"')
    with pytest.raises(UnreadableFileError, match="invalid JSON"):
        read(path)


def test_a_lone_carriage_return_in_a_value_counts_as_a_line(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_bytes(b'sku,name\nA1,"x\ry"\nA2,z\n')
    _, frame, _ = read(path)
    assert frame.get_column("_row").to_list() == [2, 4]


def test_a_bad_byte_deep_in_the_file_names_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checked block by block, past the header and the first block alike; a character split
    between two blocks is still one character."""
    monkeypatch.setattr(csv_records, "CSV_BLOCK_BYTES", 16)
    rows = b"".join(b"A%d,caf\xc3\xa9\n" % i for i in range(2000))
    path = tmp_path / "p.csv"
    path.write_bytes(b"sku,name\n" + rows + b"B1,ok\nB2,caf\xe9\nB3,ok\n")
    with pytest.raises(UnreadableFileError, match=r"line 2003: byte 0xe9 "):
        read(path)


def test_a_file_cut_inside_a_character_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_bytes(b"sku,name\n" + b"A1,x\n" * 3000 + b"A2,caf\xc3")
    with pytest.raises(UnreadableFileError, match="ends inside a UTF-8 character"):
        read(path)


def test_nul_bytes_are_noticed_in_the_block_that_holds_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches before the NUL need no search of their values; the batch holding it does."""
    monkeypatch.setattr(csv_records, "CSV_BLOCK_BYTES", 16)
    path = tmp_path / "p.csv"
    path.write_bytes(b"sku,name\n" + b"".join(b"A%d,x\n" % i for i in range(30)) + b"B,y\x00\n")
    with open_table(path, ReadOptions(batch_rows=5)) as table:
        seen = [(frame.height, table.nul_free) for frame in table.frames]
    assert seen[0] == (5, True)
    assert seen[-1] == (1, False)


def test_scratch_space_is_made_only_when_used_and_removed_even_after_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    with scratch_space():
        assert list(tmp_path.iterdir()) == []
    with pytest.raises(RuntimeError), scratch_space() as scratch:
        (scratch / "copy").write_text("rows")
        assert [p.name for p in (scratch / "copy").parent.iterdir()] == ["copy"]
        raise RuntimeError("the read failed")
    assert list(tmp_path.iterdir()) == []


def test_a_compressed_file_is_read_through_scratch_space_that_is_gone_afterwards(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch_root = tmp_path / "tmp"
    scratch_root.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch_root))
    monkeypatch.setattr("tempfile.tempdir", None)
    path = tmp_path / "products.csv.gz"
    path.write_bytes(gzip.compress(b"sku,name\nA1,Widget\n"))
    with open_table(path, ReadOptions()) as table:
        assert len(list(scratch_root.iterdir())) == 1
        rows = pl.concat(list(table.frames))
    assert rows.height == 1
    assert list(scratch_root.iterdir()) == []
