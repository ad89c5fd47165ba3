"""The DuckDB engine's memory limit, threads and spill directory (FEDISCOPE_DUCKDB_MEMORY_LIMIT, _THREADS): the
settings reach every DuckDB engine, DuckDB spills to a directory of the engine's own under the temporary directory
(never ``.tmp`` in the current directory, DuckDB's own choice) that is gone once the engine closes, and running out
of memory is one line naming the limit and the setting to raise."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from cli_run import clean_env, run
from doubles.webhdfs_server import WebHDFSDouble
from engine_data import at, land, policy, read_table, settings_for, statuses, stored_rows

import fediscope.engine.duckdb_engine as duckdb_engine
from fediscope.config import load_settings
from fediscope.engine import metric_state
from fediscope.engine.base import open_engine
from fediscope.engine.duckdb_engine import DuckDBEngine
from fediscope.engine.process import run_process
from fediscope.errors import FediscopeError
from fediscope.lake.local import LocalLake

#: a query whose hash table outgrows a 64 MB limit on one thread (about 300 MB of it is spilled)
BIG = "SELECT i, md5(i::VARCHAR) AS s FROM range(3000000) r(i)"


@pytest.fixture
def temp_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The system's temporary directory, as :mod:`tempfile` finds it, is an empty one of the test's."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


@pytest.fixture
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty current directory."""
    directory = tmp_path / "cwd"
    directory.mkdir()
    monkeypatch.chdir(directory)
    return directory


def _setting(engine: DuckDBEngine, name: str) -> object:
    return engine.query(f"SELECT current_setting('{name}') AS v")[0]["v"]


def test_the_settings_reach_the_engine_that_process_opens(tmp_path: Path, temp_root: Path) -> None:
    settings = settings_for(tmp_path / "lake", duckdb_memory_limit="300MiB", duckdb_threads=1)
    with open_engine(settings, "duckdb") as engine:
        assert isinstance(engine, DuckDBEngine)
        assert (_setting(engine, "memory_limit"), _setting(engine, "threads")) == ("300.0 MiB", 1)
        assert Path(str(_setting(engine, "temp_directory"))) == engine.spill_dir
        assert engine.spill_dir.parent == temp_root and engine.spill_dir.stat().st_mode & 0o077 == 0
    assert not engine.spill_dir.exists()


def test_unset_they_are_duckdbs_defaults(tmp_path: Path) -> None:
    with DuckDBEngine(settings_for(tmp_path / "lake")) as engine, duckdb.connect() as plain:
        for name in ("memory_limit", "threads"):
            assert _setting(engine, name) == plain.execute(f"SELECT current_setting('{name}')").fetchone()[0]


def test_duckdb_spills_to_the_engines_own_directory_not_the_current_one(tmp_path: Path, temp_root: Path,
                                                                         cwd: Path) -> None:
    with DuckDBEngine(settings_for(tmp_path / "lake", duckdb_memory_limit="64MB", duckdb_threads=1)) as engine:
        engine.materialize("big", BIG)
        spilled = [Path(row["path"]) for row in engine.query("SELECT path FROM duckdb_temporary_files()")]
        assert spilled and all(path.parent == engine.spill_dir for path in spilled)
        assert list(temp_root.iterdir()) == [engine.spill_dir]
    assert list(temp_root.iterdir()) == [] and list(cwd.iterdir()) == []


def test_a_webhdfs_lake_spills_to_the_temporary_directory_too(webhdfs_server: WebHDFSDouble, tmp_path: Path,
                                                              temp_root: Path) -> None:
    url = webhdfs_server.lake_url("/lake")
    with open_engine(settings_for(tmp_path / "unused", lake=url, duckdb_memory_limit="1GB"), "duckdb") as engine:
        assert isinstance(engine, DuckDBEngine) and engine.spill_dir.parent == temp_root
    assert list(temp_root.iterdir()) == []


@pytest.mark.parametrize(("threads", "fix"), [
    (2, "raise FEDISCOPE_DUCKDB_MEMORY_LIMIT, or lower FEDISCOPE_DUCKDB_THREADS (each thread needs memory of its own)"),
    (1, "raise FEDISCOPE_DUCKDB_MEMORY_LIMIT (DuckDB: "),
])
def test_running_out_of_memory_names_the_limit_and_the_setting(tmp_path: Path, threads: int, fix: str) -> None:
    with DuckDBEngine(settings_for(tmp_path / "lake", duckdb_memory_limit="16MB", duckdb_threads=threads)) as engine:
        engine.execute("SET temp_directory = ''")  # no spilling: the limit is all there is
        with pytest.raises(FediscopeError) as info:
            engine.materialize("big", BIG)
    assert str(info.value).startswith("DuckDB ran out of memory under its memory limit of 16MB "
                                      f"(FEDISCOPE_DUCKDB_MEMORY_LIMIT): {fix}")
    assert "\n" not in str(info.value)


def test_the_limit_is_named_where_it_was_set(tmp_path: Path) -> None:
    config = tmp_path / "fediscope.toml"
    config.write_text('[fediscope]\nduckdb_memory_limit = "16MB"\n')
    settings = load_settings(env={}, toml_path=config, lake=str(tmp_path / "lake"))
    with DuckDBEngine(settings, threads=1) as engine:
        engine.execute("SET temp_directory = ''")
        with pytest.raises(FediscopeError, match=rf"16MB \({config}: \[fediscope\] duckdb_memory_limit\): raise "
                                                 rf"{config}: \[fediscope\] duckdb_memory_limit "):
            engine.materialize("big", BIG)


def test_no_room_left_to_spill_names_the_temporary_directory(tmp_path: Path, temp_root: Path) -> None:
    with DuckDBEngine(settings_for(tmp_path / "lake", duckdb_memory_limit="64MB", duckdb_threads=1)) as engine:
        engine.execute("SET max_temp_directory_size = '1MB'")  # as if the disk under TMPDIR were full
        with pytest.raises(FediscopeError) as info:
            engine.materialize("big", BIG)
    assert str(info.value).startswith(f"DuckDB ran out of disk space to spill to in {temp_root} (the temporary "
                                      "directory): free space there, or point TMPDIR at a disk with more room")
    assert "\n" not in str(info.value)


def test_no_directory_to_spill_to_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(**_: object) -> str:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkdtemp", refused)
    with pytest.raises(FediscopeError, match="^cannot make a directory for DuckDB to spill to under the temporary "
                                             "directory \\(Permission denied\\): point TMPDIR at a writable"):
        DuckDBEngine(settings_for(tmp_path / "lake"))


def test_a_temporary_directory_without_file_locks_still_runs(tmp_path: Path, temp_root: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A TMPDIR whose file system refuses flock (an NFS mount without its lock daemon: ENOLCK): the engine runs,
    its directory is removed at close, and no other process takes it for abandoned (its lock file stays empty)."""
    import errno

    from fediscope.engine import duckdb_connection

    def no_locks(fd: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(duckdb_connection.fcntl, "flock", no_locks)
    engine = DuckDBEngine(settings_for(tmp_path / "lake"))
    try:
        assert engine.spill_dir.parent == temp_root
        assert (engine.spill_dir / duckdb_connection.LOCK_NAME).read_bytes() == b""
        assert duckdb_connection.remove_abandoned() == [] and engine.spill_dir.is_dir()
    finally:
        engine.close()
    assert list(temp_root.iterdir()) == []


def test_no_room_for_the_lock_file_is_one_line(tmp_path: Path, temp_root: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A full TMPDIR can take the directory (mkdir) and not the pid written into its lock file: one line, and the
    directory made is removed again."""
    import errno

    real_write = os.write

    def full(fd: int, data: bytes) -> int:
        if data.strip().isdigit():
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(FediscopeError, match="^cannot make a directory for DuckDB to spill to under the temporary "
                                             "directory \\(No space left on device\\)"):
        DuckDBEngine(settings_for(tmp_path / "lake"))
    assert list(temp_root.iterdir()) == []


def test_process_under_an_absurd_limit_is_one_line_and_exit_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    lake_dir = tmp_path / "lake"
    land(LocalLake(lake_dir), "statuses", statuses("test_public_tl.json"), at(0), policy())
    settings = settings_for(lake_dir)
    (tmp_path / "cwd").mkdir()
    clean_env(tmp_path / "cwd", monkeypatch, FEDISCOPE_LAKE=str(lake_dir), FEDISCOPE_STORE=settings.store,
              FEDISCOPE_PSEUDONYM_KEY=str(settings.pseudonym_key), FEDISCOPE_DUCKDB_MEMORY_LIMIT="1MB")
    code, _out, err = run(capsys, "process")
    assert code == 1, err
    assert err.startswith("fediscope: error: DuckDB ran out of memory under its memory limit of 1MB "
                          "(FEDISCOPE_DUCKDB_MEMORY_LIMIT): raise FEDISCOPE_DUCKDB_MEMORY_LIMIT")
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert list((tmp_path / "cwd").iterdir()) == []


def _no_spilling(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every DuckDB engine made from now on cannot spill (no temporary directory)."""
    real = duckdb.connect

    def connect(database: str = ":memory:", *, config: dict[str, object]) -> duckdb.DuckDBPyConnection:
        return real(database, config={**config, "temp_directory": ""})

    monkeypatch.setattr(duckdb_engine.duckdb, "connect", connect)


@pytest.fixture(scope="module")
def corpus_20k(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A raw lake of 20,000 generated statuses: within 96 MB on one thread, curating it must spill."""
    from fediscope.sample.landing import write_raw_lake

    root = tmp_path_factory.mktemp("corpus-20k") / "lake"
    write_raw_lake(LocalLake(root), 20_000, seed=11, policy=policy(), edit_history=True, batch_size=2000)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.mark.slow
def test_process_within_a_small_limit_spills_and_gives_the_unlimited_results(
        corpus_20k: Path, tmp_path: Path, temp_root: Path, cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lakes = {}
    for name in ("small", "unlimited", "no_spilling"):
        lakes[name] = tmp_path / name / "lake"
        shutil.copytree(corpus_20k, lakes[name])
    small = settings_for(lakes["small"], duckdb_memory_limit="96MB", duckdb_threads=1)
    unlimited = settings_for(lakes["unlimited"])

    run_process(small, progress=False)
    assert list(temp_root.iterdir()) == [] and list(cwd.iterdir()) == []
    run_process(unlimited, progress=False)
    for table in ("statuses", "hashtags", "accounts"):
        got, expected = read_table(lakes["small"], table), read_table(lakes["unlimited"], table)
        assert sorted(map(repr, got)) == sorted(map(repr, expected)) and got, table
    assert stored_rows(small.store) == stored_rows(unlimited.store)

    _no_spilling(monkeypatch)  # the same limit without spilling is not enough: the run above spilled
    with pytest.raises(FediscopeError, match="^DuckDB ran out of memory under its memory limit of 96MB"):
        run_process(settings_for(lakes["no_spilling"], duckdb_memory_limit="96MB", duckdb_threads=1),
                    progress=False)


def test_an_engine_never_closed_leaves_no_spill_directory_at_exit(tmp_path: Path) -> None:
    import subprocess
    import sys

    script = ("import sys; from fediscope.config import Settings; from fediscope.engine.duckdb_engine import "
              "DuckDBEngine; engine = DuckDBEngine(Settings()); print(engine.spill_dir)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                          env={**os.environ, "TMPDIR": str(tmp_path)}, cwd=tmp_path)
    assert Path(done.stdout.strip()).parent == tmp_path and list(tmp_path.iterdir()) == []


def test_process_reruns_compare_metrics_within_the_settings_spilling_to_a_directory_of_ours(
        tmp_path: Path, temp_root: Path, cwd: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The comparison of a recomputed metric with its kept rows (metric_state.diff) runs on a connection with the
    memory limit and threads of the settings and a spill directory of its own under TMPDIR, not DuckDB's ``.tmp`` in
    the current directory."""
    lake_dir = tmp_path / "lake"
    settings = settings_for(lake_dir)
    clean_env(cwd, monkeypatch, FEDISCOPE_LAKE=str(lake_dir), FEDISCOPE_STORE=settings.store,
              FEDISCOPE_PSEUDONYM_KEY=str(settings.pseudonym_key), FEDISCOPE_DUCKDB_MEMORY_LIMIT="300MiB",
              FEDISCOPE_DUCKDB_THREADS="1")
    compared: list[tuple[object, ...]] = []
    real_diff = metric_state.diff

    def diff(new: object, old: object, key: object, con: duckdb.DuckDBPyConnection) -> object:
        compared.append(con.execute("SELECT current_setting('memory_limit'), current_setting('threads'), "
                                    "current_setting('temp_directory')").fetchone())
        return real_diff(new, old, key, con)

    monkeypatch.setattr(metric_state, "diff", diff)
    for minutes, name in enumerate(("test_public_tl.json", "test_hashtag_tl.json")):
        land(LocalLake(lake_dir), "statuses", statuses(name), at(minutes), policy())
        code, _out, err = run(capsys, "process")
        assert code == 0, err
    assert compared and {(limit, threads) for limit, threads, _ in compared} == {("300.0 MiB", 1)}
    assert {Path(str(spill)).parent for _, _, spill in compared} == {temp_root}
    assert list(temp_root.iterdir()) == [] and list(cwd.iterdir()) == []


def test_the_engines_connection_draws_no_progress_bar_on_stdout(tmp_path: Path) -> None:
    """DuckDB draws a progress bar on stdout for any query running over 2 s, also when stdout is a pipe or a file:
    under load, or on a large lake, it ran into `fediscope process --json`'s document and the report on stdout."""
    import subprocess
    import sys

    from fediscope.engine.duckdb_connection import open_connection

    own = open_connection(None, threads=1)
    try:
        assert own.con.execute("SELECT current_setting('enable_progress_bar')").fetchone() == (False,)
    finally:
        own.close()
    # the same through a real pipe, every new connection told to draw its bar at once (not after 2 s)
    script = ("import duckdb\n"
              "connect = duckdb.connect\n"
              "def eager(*args, **kwargs):\n"
              "    con = connect(*args, **kwargs)\n"
              "    con.execute('SET progress_bar_time = 0')\n"
              "    return con\n"
              "duckdb.connect = eager\n"
              "from fediscope.engine.duckdb_connection import open_connection\n"
              "own = open_connection(None, threads=1)\n"
              "print('opened', flush=True)\n"  # (a bar drawn while it opened is DuckDB's SET, drawn at once here)
              "print(own.con.execute('SELECT count(*) FROM range(40000000) t(x) WHERE x % 7 = 3').fetchone()[0])\n"
              "own.close()\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                          cwd=tmp_path, timeout=300)
    assert done.stdout.endswith("opened\n5714286\n") and done.stdout.count("opened") == 1, done.stdout[-300:]


def test_parquet_metadata_is_kept_while_computing_the_metrics_never_while_curating(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """DuckDB's Parquet metadata cache tells a rewritten file from the one before by its modification time, which a
    rewrite within the same second may leave the same: it is on for the metrics of ``fediscope process`` (curation
    over, lake locked), off while curation reads and rewrites partitions, and off again after. REAL recorded
    statuses, curated and computed by the real run."""
    seen: dict[str, list[object]] = {"curate": [], "metrics": []}
    materialize, metric_table = DuckDBEngine.materialize, DuckDBEngine.metric_table

    def curating(self: DuckDBEngine, name: str, sql: str) -> int:
        seen["curate"].append(_setting(self, "parquet_metadata_cache"))
        return materialize(self, name, sql)

    def computing(self: DuckDBEngine, metric: object) -> object:
        seen["metrics"].append(_setting(self, "parquet_metadata_cache"))
        return metric_table(self, metric)  # type: ignore[arg-type]

    monkeypatch.setattr(DuckDBEngine, "materialize", curating)
    monkeypatch.setattr(DuckDBEngine, "metric_table", computing)
    lake = LocalLake(tmp_path / "lake")
    land(lake, "statuses", statuses("test_public_tl.json"), at(1), policy())
    summary = run_process(settings_for(tmp_path / "lake"), engine="duckdb", progress=False)
    assert summary.curate["raw_files"] == 1 and summary.metrics
    assert seen["curate"] and set(seen["curate"]) == {False}
    assert len(seen["metrics"]) == len(summary.metrics) and set(seen["metrics"]) == {True}
    with DuckDBEngine(settings_for(tmp_path / "lake")) as engine:
        with engine.curated_files_unchanged():
            assert _setting(engine, "parquet_metadata_cache") is True
        assert _setting(engine, "parquet_metadata_cache") is False
