"""infra/hdfs/create_layout.py: creates the lake's fixed directories, over WebHDFS or locally."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from doubles.webhdfs_server import WebHDFSDouble
from permissions import without_dac_rights

from fediscope.lake.layout import ENTITIES, batch_path, quarantine_path, state_path

SCRIPT = Path(__file__).resolve().parents[2] / "infra" / "hdfs" / "create_layout.py"


def _run(*args: str, prefix: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*(prefix or []), sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=60)


def _one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr and result.stderr.startswith("create_layout: error:"), result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    return result.stderr.strip()


def test_dry_run_lists_the_directories_the_writers_use() -> None:
    result = _run("--dry-run", "--instance", "https://Mastodon.Social/")
    assert result.returncode == 0, result.stderr
    dirs = result.stdout.split()
    for entity in ENTITIES:
        batch_dir = batch_path(entity, "mastodon.social", "2026-01-01", "b1").rsplit("/", 2)[0]
        assert batch_dir in dirs  # raw/mastodon/<entity>/instance=mastodon.social
        assert batch_dir.rsplit("/", 1)[0] in dirs
    assert state_path("mastodon.social", "public").split("/")[0] in dirs
    assert quarantine_path("mastodon.social", "/x", "2026-01-01", "b").split("/")[0] in dirs
    assert "curated" in dirs
    assert dirs.index("raw/mastodon") < dirs.index("raw/mastodon/statuses")


def test_creates_the_layout_over_webhdfs_and_is_idempotent(webhdfs_server: WebHDFSDouble) -> None:
    url = webhdfs_server.lake_url("/data/fediscope", user="fediscope")
    first = _run("--lake", url)
    assert first.returncode == 0, first.stderr
    for entity in ENTITIES:
        assert webhdfs_server.local(f"/data/fediscope/raw/mastodon/{entity}").is_dir()
    for top in ("curated", "_state", "quarantine", "_audit"):
        assert webhdfs_server.local(f"/data/fediscope/{top}").is_dir()
    assert all(line.startswith("created ") for line in first.stdout.splitlines())
    assert {r[4] for r in webhdfs_server.requests if r[2] == "MKDIRS"} == {"fediscope"}
    second = _run("--lake", url)
    assert second.returncode == 0 and all(line.startswith("exists ") for line in second.stdout.splitlines())


def test_creates_the_layout_in_a_local_directory(tmp_path: Path) -> None:
    result = _run("--lake", str(tmp_path / "lake"), "--instance", "fosstodon.org")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "lake/raw/mastodon/statuses/instance=fosstodon.org").is_dir()


def test_without_lake_it_uses_the_configured_lake(tmp_path: Path) -> None:
    """The default is fediscope's own setting: FEDISCOPE_LAKE, else the lake of ./fediscope.toml."""
    (tmp_path / "fediscope.toml").write_text(f'[fediscope]\nlake = "{tmp_path / "toml-lake"}"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDISCOPE_")}
    result = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=60, env=env,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "toml-lake" / "raw" / "mastodon" / "statuses").is_dir()
    env["FEDISCOPE_LAKE"] = str(tmp_path / "env-lake")  # the environment wins over the file, as everywhere
    assert subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, timeout=60, env=env,
                          cwd=tmp_path).returncode == 0
    assert (tmp_path / "env-lake" / "curated").is_dir()


def test_errors_are_one_line_and_non_zero() -> None:
    unreachable = _run("--lake", "webhdfs://127.0.0.1:9/lake")
    assert unreachable.returncode != 0
    assert unreachable.stderr.startswith("create_layout: error:") and "Traceback" not in unreachable.stderr
    bad = _run("--dry-run", "--instance", "not a domain")
    assert bad.returncode != 0 and "Traceback" not in bad.stderr


# -- a local lake that cannot be laid out: one line naming the path and why, never an OSError's traceback -----


def test_a_lake_path_that_is_a_file_is_an_error(tmp_path: Path) -> None:
    """Was: os.makedirs' NotADirectoryError escaped as a traceback."""
    (tmp_path / "lake").write_text("not a directory\n")
    assert _one_line_error(_run("--lake", str(tmp_path / "lake"))) == (
        f"create_layout: error: the lake path {tmp_path / 'lake'} is not a directory; point --lake / "
        "FEDISCOPE_LAKE at the lake's directory")
    assert "Not a directory" in _one_line_error(_run("--lake", str(tmp_path / "lake" / "below")))


def test_a_file_where_a_layout_directory_goes_is_an_error(tmp_path: Path) -> None:
    """Was: ``raw/mastodon`` being a file was reported as an existing directory, then creating the entity
    directories below it ended in a traceback."""
    (tmp_path / "lake" / "raw").mkdir(parents=True)
    (tmp_path / "lake" / "raw" / "mastodon").write_text("")
    assert _one_line_error(_run("--lake", str(tmp_path / "lake"))) == (
        f"create_layout: error: cannot create the directory {tmp_path / 'lake'}/raw/mastodon: a file is in the way")


@pytest.mark.parametrize("mode", [0o555, 0o000], ids=["parent not writable", "parent not searchable"])
def test_a_parent_this_user_may_not_write_is_an_error(tmp_path: Path, mode: int) -> None:
    """Run by a child that the permissions stop (as root too: without the capabilities that bypass them). Was:
    PermissionError tracebacks, from os.makedirs or from the check whether a directory exists."""
    parent = tmp_path / "parent"
    parent.mkdir()
    parent.chmod(mode)
    try:
        result = _run("--lake", str(parent / "lake"), prefix=without_dac_rights())
    finally:
        parent.chmod(0o755)
    line = _one_line_error(result)
    assert str(parent / "lake") in line and line.endswith(": Permission denied"), line
    assert not (parent / "lake").exists()


@pytest.mark.parametrize(("lake", "problem"), [
    ("hdfs://namenode:8020/data/fediscope", "not hdfs://"),
    ("", "empty"),
])
def test_a_lake_option_it_cannot_use_is_named_as_the_option(tmp_path: Path, lake: str, problem: str) -> None:
    """Was: ``--lake hdfs://…`` was reported as ``FEDISCOPE_LAKE='hdfs://…'`` (a variable the user had not set),
    and an empty ``--lake ''`` silently laid out the configured lake instead."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDISCOPE_")}
    env["FEDISCOPE_LAKE"] = str(tmp_path / "configured")
    result = subprocess.run([sys.executable, str(SCRIPT), "--lake", lake], capture_output=True, text=True,
                            timeout=60, env=env, cwd=tmp_path)
    error = _one_line_error(result)
    assert result.returncode == 2
    assert error.startswith(f"create_layout: error: --lake is invalid: {lake!r}: ") and problem in error, error
    assert "FEDISCOPE_LAKE=" not in error
    assert not (tmp_path / "configured").exists()


def test_the_directories_are_shown_below_the_lake_path_not_after_its_query(webhdfs_server: WebHDFSDouble) -> None:
    """Was: ``created webhdfs://…/data/fediscope?user=fediscope/raw/mastodon``, the path glued after ``?user=``,
    a URL naming another place."""
    url = webhdfs_server.lake_url("/data/shown", user="fediscope")
    result = _run("--lake", url)
    assert result.returncode == 0, result.stderr
    base = f"webhdfs://{webhdfs_server.namenode_address}/data/shown"
    assert f"created {base}/raw/mastodon?user=fediscope" in result.stdout.splitlines()
    assert f"created {base}/_audit?user=fediscope" in result.stdout.splitlines()


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry run", "creating"])
def test_output_closed_early_stops_quietly(tmp_path: Path, dry_run: bool) -> None:
    """Was: ``create_layout.py … | head -1`` ended in a BrokenPipeError traceback. It stops as a Unix tool ended by
    SIGPIPE does: nothing on stderr, status 141. The reader is gone before the first line (a closed pipe)."""
    args = ["--dry-run"] if dry_run else ["--lake", str(tmp_path / "lake")]
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run([sys.executable, str(SCRIPT), *args], stdout=write_end, stderr=subprocess.PIPE,
                                text=True, timeout=60)
    finally:
        os.close(write_end)
    assert (result.returncode, result.stderr) == (141, "")
    if not dry_run:
        assert (tmp_path / "lake" / "_audit").is_dir()  # the directories were made before the output was lost
