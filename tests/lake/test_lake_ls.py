"""``fediscope lake ls`` on what a lake really holds besides good batches: empty partitions, damaged files."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_run import clean_env, run
from doubles.webhdfs_server import WebHDFSDouble
from permissions import without_dac_rights

from fediscope.cli.lake import RECORDS_HINT


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


def damaged_warning(path: str, count: int = 1) -> str:
    more = f" (and {count - 1} more)" if count > 1 else ""
    return (f"fediscope: warning: {count} batch file(s) damaged, not counted: {path}{more}; `fediscope process` "
            "stops on a damaged raw file: restore it from a copy, or move it out of the lake\n")


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
    code, out, err = run(capsys, "lake", "ls", relative, "--records")
    assert code == 0 and err == damaged_warning(f"{relative}/broken.jsonl.gz")
    lines = out.splitlines()
    assert [line.split()[-1] for line in lines] == [f"{relative}/broken.jsonl.gz", f"{relative}/good.jsonl",
                                                    f"{relative}/good.jsonl.gz"]
    assert "records" not in lines[0] and "2 records" in lines[1] and " 1 record " in lines[2]


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


# -- cheap by default: metadata only, records with --records ----------------------------------------------------


@pytest.fixture
def webhdfs_lake(webhdfs_server: WebHDFSDouble, tmp_path, monkeypatch) -> tuple[WebHDFSDouble, str]:
    """A WebHDFS lake with a partition of three batch files (2, 1 and 3 records) and a checkpoint."""
    from fediscope.lake.webhdfs import WebHDFSLake

    url = webhdfs_server.lake_url("/lake", user="etl")
    lake = WebHDFSLake(url)
    partition = "raw/mastodon/statuses/instance=127.0.0.1:8080/dt=2026-11-01"
    lake.write_atomic(f"{partition}/a.jsonl", b'{"a": 1}\n{"a": 2}\n')
    lake.write_atomic(f"{partition}/b.jsonl.gz", gzip.compress(b'{"a": 1}\n'))
    lake.write_atomic(f"{partition}/c.jsonl", b'{"a": 1}\n' * 3)
    lake.write_atomic("_state/checkpoint.json", b"{}")
    clean_env(tmp_path, monkeypatch, FEDISCOPE_PSEUDONYM_KEY="lake-ls-test-key-0123456789abcdef", FEDISCOPE_LAKE=url)
    webhdfs_server.requests.clear()
    return webhdfs_server, partition


def _opens(double: WebHDFSDouble) -> int:
    return sum(1 for _server, _method, op, _path, _user in double.requests if op == "OPEN")


def test_lake_ls_over_webhdfs_reads_no_file_by_default(webhdfs_lake, capsys) -> None:
    """Was: every batch file downloaded to count its records, on every listing."""
    double, partition = webhdfs_lake
    code, out, err = run(capsys, "lake", "ls", partition)
    assert (code, err) == (0, "")
    assert _opens(double) == 0
    lines = out.splitlines()
    assert [line.split()[-1] for line in lines[:-1]] == [f"{partition}/a.jsonl", f"{partition}/b.jsonl.gz",
                                                         f"{partition}/c.jsonl"]
    assert "records" not in "".join(lines[:-1]) and lines[-1] == RECORDS_HINT
    assert lines[0].split()[:2] == ["18", "B"]  # the size, from the listing

    code, out, _err = run(capsys, "lake", "ls", partition, "--json")
    document = json.loads(out)
    assert document["records_counted"] is False
    assert [row["records"] for row in document["entries"]] == [None, None, None]
    assert [row["bytes"] for row in document["entries"]][0] == 18

    code, out, _err = run(capsys, "lake", "ls", f"{partition}/c.jsonl", "--json")  # one file: metadata too
    assert json.loads(out)["entries"] == [{"path": f"{partition}/c.jsonl", "type": "file", "bytes": 27,
                                           "records": None}]
    code, out, _err = run(capsys, "lake", "ls")  # the top: directories only, no hint
    assert RECORDS_HINT not in out and "raw/" in out
    assert _opens(double) == 0


def test_lake_ls_counts_records_when_asked(webhdfs_lake, capsys) -> None:
    double, partition = webhdfs_lake
    code, out, err = run(capsys, "lake", "ls", partition, "--records")
    assert (code, err) == (0, "")
    assert [" ".join(line.split()[2:4]) for line in out.splitlines()] == ["2 records", "1 record", "3 records"]
    assert RECORDS_HINT not in out
    assert _opens(double) == 2 * 3  # namenode and datanode, once per batch file
    code, out, _err = run(capsys, "lake", "ls", partition, "--records", "--json")
    document = json.loads(out)
    assert document["records_counted"] is True
    assert [row["records"] for row in document["entries"]] == [2, 1, 3]
    code, out, _err = run(capsys, "lake", "ls", f"{partition}/c.jsonl", "--records")
    assert "3 records" in out and out.split()[0] == "27"


def test_lake_ls_records_counts_the_records_below_each_directory(webhdfs_lake, capsys) -> None:
    """Was: directory rows showed no count with --records, while --json said "records_counted": true."""
    double, partition = webhdfs_lake
    code, out, err = run(capsys, "lake", "ls", "raw/mastodon/statuses", "--records")
    assert (code, err) == (0, "")
    (line,) = out.splitlines()
    assert line.split()[-1] == "raw/mastodon/statuses/instance=127.0.0.1:8080/" and "3 files, 6 records" in line
    assert _opens(double) == 2 * 3
    code, out, _err = run(capsys, "lake", "ls", "--records", "--json")  # the top: raw/ holds them, _state/ none
    document = json.loads(out)
    assert document["records_counted"] is True
    rows = {row["path"]: row for row in document["entries"]}
    assert rows["raw/"]["records"] == 6 and rows["raw/"]["uncounted_files"] == 0
    assert rows["_state/"]["records"] is None  # no batch file below it: nothing to count
    code, out, _err = run(capsys, "lake", "ls", "--json")  # without --records: null, nothing read
    assert [row["records"] for row in json.loads(out)["entries"]] == [None, None]
    assert _opens(double) == 2 * 3 * 2


def test_a_damaged_batch_below_a_directory_is_reported_not_counted(lake_dir, capsys) -> None:
    lake, partition = lake_dir
    (partition / "broken.jsonl.gz").write_bytes(gzip.compress(b'{"a": 1}\n' * 200)[:40])
    code, out, err = run(capsys, "lake", "ls", "raw/mastodon/statuses", "--records")
    assert code == 0 and err == damaged_warning(f"{partition.relative_to(lake).as_posix()}/broken.jsonl.gz")
    assert "3 files, 3 records, 1 not counted (unreadable)" in out
    code, out, _err = run(capsys, "lake", "ls", "raw/mastodon/statuses", "--records", "--json")
    (row,) = json.loads(out)["entries"]
    assert (row["files"], row["records"], row["uncounted_files"]) == (3, 3, 1)


def test_counting_records_reports_its_progress(lake_dir) -> None:
    from fediscope.cli.lake import listing
    from fediscope.lake.backend import open_lake

    lake, partition = lake_dir
    (partition / "notes.txt").write_text("not a batch: not read, not counted")
    calls: list[tuple[int, int]] = []
    rows = listing(open_lake(str(lake)), "raw/mastodon", records=True, progress=lambda *a: calls.append(a))
    assert [row["records"] for row in rows] == [3]
    assert calls == [(1, 2), (2, 2)]  # (batch files read, batch files to read)


# -- files that cannot be read: listed, counted apart, the listing goes on ----------------------------------------


def test_an_unreadable_batch_is_counted_apart_and_the_listing_goes_on(webhdfs_lake, capsys) -> None:
    """Was: one batch file the lake refused to hand out (AccessControlException) ended ``lake ls --records`` with
    "cannot read …", no listing at all; a damaged one was only left without a count."""
    double, partition = webhdfs_lake
    double.fail_next("OPEN", "AccessControlException", "Permission denied: user=etl, access=READ")
    code, out, err = run(capsys, "lake", "ls", partition, "--records")
    assert code == 0, err
    assert [" ".join(line.split()[2:]) for line in out.splitlines()] == [
        f"not counted (unreadable) {partition}/a.jsonl", f"1 record {partition}/b.jsonl.gz",
        f"3 records {partition}/c.jsonl"]
    assert err.startswith("fediscope: warning: 1 file(s) could not be read: cannot read ")
    assert f"({partition}/a.jsonl): AccessControlException" in err and len(err.splitlines()) == 1

    double.fail_next("OPEN", "AccessControlException", "Permission denied: user=etl, access=READ")
    code, out, err = run(capsys, "lake", "ls", "raw/mastodon/statuses", "--records", "--json")
    document = json.loads(out)
    assert code == 0 and document["uncounted_files"] == 1
    (row,) = document["entries"]
    assert (row["files"], row["records"], row["uncounted_files"]) == (3, 4, 1)

    double.fail_next("OPEN", "AccessControlException", "Permission denied: user=etl, access=READ")
    code, out, err = run(capsys, "lake", "ls", f"{partition}/c.jsonl", "--records", "--json")  # the file itself
    assert code == 0 and json.loads(out)["entries"] == [{"path": f"{partition}/c.jsonl", "type": "file",
                                                         "bytes": 27, "records": None, "uncounted_files": 1}]
    code, out, err = run(capsys, "lake", "ls", partition, "--records", "--json")  # all readable again
    document = json.loads(out)
    assert (code, err, document["uncounted_files"]) == (0, "", 0)
    assert [row["uncounted_files"] for row in document["entries"]] == [0, 0, 0]


_LAKE_LS = """
import sys
from fediscope.cli import main
sys.exit(main(["lake", "ls", *sys.argv[1:]]))
"""


def test_a_batch_this_user_may_not_read_is_counted_apart(tmp_path) -> None:
    """A local file with no read permission (chmod 000), listed by a child that permissions stop (as root too:
    without the capabilities that bypass them)."""
    lake = tmp_path / "lake"
    partition = lake / "raw/mastodon/statuses/instance=a.example/dt=2026-11-01"
    partition.mkdir(parents=True)
    (partition / "good.jsonl").write_bytes(b'{"a": 1}\n{"a": 2}\n')
    (partition / "locked.jsonl").write_bytes(b'{"a": 1}\n')
    (partition / "damaged.jsonl.gz").write_bytes(gzip.compress(b'{"a": 1}\n' * 200)[:40])
    (lake / "_state").mkdir()
    (lake / "_state" / ".hidden.json").write_text("{}")  # listed by name only: its size is read from the file
    locked = [partition / "locked.jsonl", lake / "_state" / ".hidden.json"]
    for path in locked:
        path.chmod(0)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDISCOPE_")}
    env["FEDISCOPE_LAKE"] = str(lake)

    def ls(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*without_dac_rights(), sys.executable, "-c", _LAKE_LS, *args], capture_output=True,
                              text=True, timeout=60, env=env, cwd=Path(__file__).parents[2])

    try:
        as_json, top, text, hidden = (ls("--records", "--json"), ls("raw", "--records"),
                                      ls(partition.relative_to(lake).as_posix(), "--records"),
                                      ls("_state/.hidden.json"))
    finally:
        for path in locked:
            path.chmod(0o644)
    reason = f"cannot read {partition / 'locked.jsonl'}: Permission denied"
    damaged = damaged_warning(f"{partition.relative_to(lake).as_posix()}/damaged.jsonl.gz")
    for done in (as_json, top, text):
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
        assert done.stderr == f"fediscope: warning: 1 file(s) could not be read: {reason}\n{damaged}"
    document = json.loads(as_json.stdout)
    rows = {row["path"]: row for row in document["entries"]}
    assert (rows["raw/"]["files"], rows["raw/"]["records"], rows["raw/"]["uncounted_files"]) == (3, 2, 2)
    assert document["uncounted_files"] == 2  # the unreadable one and the damaged one
    assert "3 files, 2 records, 2 not counted (unreadable)  raw/mastodon/" in top.stdout
    lines = {line.split()[-1].rsplit("/", 1)[-1]: line for line in text.stdout.splitlines()}
    assert "not counted (unreadable)" in lines["locked.jsonl"] and "not counted" in lines["damaged.jsonl.gz"]
    assert "2 records" in lines["good.jsonl"]
    assert hidden.returncode == 0 and hidden.stdout.split() == ["?", "B", "_state/.hidden.json"], hidden.stderr
    assert "cannot read" in hidden.stderr and "Traceback" not in hidden.stderr


def test_a_damaged_batch_is_named_on_stderr_as_the_readme_says(lake_dir, capsys) -> None:
    """Was: a batch cut short (the file ``fediscope process`` then stops on) was listed ``not counted
    (unreadable)`` without a word on stderr, unlike an unreadable one; the README promises one warning for both."""
    lake, partition = lake_dir
    relative = partition.relative_to(lake).as_posix()
    (partition / "cut.jsonl").write_bytes(b'{"a": 1}\n{"a": ')
    (partition / "cut2.jsonl").write_bytes(b'{"a"')
    code, out, err = run(capsys, "lake", "ls", f"{relative}/cut.jsonl", "--records")
    assert code == 0 and "not counted (unreadable)" in out
    assert err == damaged_warning(f"{relative}/cut.jsonl")
    code, out, err = run(capsys, "lake", "ls", "raw", "--records", "--json")
    assert code == 0 and json.loads(out)["uncounted_files"] == 2
    assert err == damaged_warning(f"{relative}/cut.jsonl", count=2)
    code, _out, err = run(capsys, "lake", "ls", "raw")  # without --records nothing is read, nothing said
    assert (code, err) == (0, "")
