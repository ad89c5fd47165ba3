"""``fediscope lake ls`` on what a lake really holds besides good batches: empty partitions, damaged files."""

from __future__ import annotations

import gzip

import pytest
from cli_run import clean_env, run


@pytest.fixture
def lake_dir(tmp_path, monkeypatch):
    lake = tmp_path / "lake"
    partition = lake / "raw/mastodon/statuses/instance=127.0.0.1:8080/dt=2026-11-01"
    partition.mkdir(parents=True)
    (partition / "good.jsonl").write_bytes(b'{"a": 1}\n{"a": 2}\n')
    (partition / "good.jsonl.gz").write_bytes(gzip.compress(b'{"a": 1}\n'))
    clean_env(tmp_path, monkeypatch, FEDISCOPE_PSEUDONYM_KEY="lake-ls-test-key-0123456789abcdef",
              FEDISCOPE_LAKE=str(lake))
    return lake, partition


def test_an_empty_directory_is_listed_as_empty(lake_dir, capsys) -> None:
    """Was: "cannot read …/_state: Is a directory" (the empty directory was read as a file), exit 1."""
    lake, _partition = lake_dir
    (lake / "_state").mkdir()
    code, out, err = run(capsys, "lake", "ls", "_state")
    assert (code, err) == (0, "")
    assert out == f"(empty) {lake}/_state\n"
    code, out, _err = run(capsys, "lake", "ls", "_state", "--json")
    assert code == 0 and '"entries": []' in out


@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
def test_a_damaged_gzip_batch_is_listed_without_a_record_count(lake_dir, capsys, damage: str) -> None:
    """Was: a truncated .jsonl.gz raised EOFError, which click takes for end of input: "fediscope: aborted",
    exit 130, as if the user had pressed Ctrl-C; a damaged one raised zlib.error, a traceback."""
    _lake, partition = lake_dir
    whole = gzip.compress(b'{"a": 1}\n' * 200)
    broken = whole[:40] if damage == "truncated" else whole[:10] + bytes(b ^ 0xFF for b in whole[10:30]) + whole[30:]
    (partition / "broken.jsonl.gz").write_bytes(broken)
    relative = partition.relative_to(_lake).as_posix()
    code, out, err = run(capsys, "lake", "ls", relative)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert [line.split()[-1] for line in lines] == [f"{relative}/broken.jsonl.gz", f"{relative}/good.jsonl",
                                                    f"{relative}/good.jsonl.gz"]
    assert "records" not in lines[0] and "2 records" in lines[1] and "1 records" in lines[2]


def test_an_empty_directory_of_a_webhdfs_lake_is_named_by_a_well_formed_url(webhdfs_server, tmp_path, monkeypatch,
                                                                           capsys) -> None:
    """Was: ``(empty) webhdfs://host:port/lake?user=etl/_state``, the path glued to the query string."""
    from fediscope.lake.webhdfs import WebHDFSLake

    url = webhdfs_server.lake_url("/lake", user="etl")
    WebHDFSLake(url).makedirs("_state")
    clean_env(tmp_path, monkeypatch, FEDISCOPE_PSEUDONYM_KEY="lake-ls-test-key-0123456789abcdef", FEDISCOPE_LAKE=url)
    code, out, err = run(capsys, "lake", "ls", "_state")
    assert (code, err) == (0, "")
    assert out == f"(empty) webhdfs://{webhdfs_server.namenode_address}/lake/_state?user=etl\n"
