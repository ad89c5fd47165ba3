"""The demo: isolated settings, the demo key, steps that are missing or failing, and a real run."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from demo_reruns import last_run_hours_ago

from fediscope.console import display_width
from fediscope.demo import (
    KEY_FILE,
    STEPS,
    DemoContext,
    Step,
    collected_ports,
    default_port,
    demo_key,
    demo_settings,
    excerpt,
    fresh_start,
    new_statuses_span,
    python_command,
    run_demo,
    statuses_posted_between,
    wrap_line,
)
from fediscope.lake.batches import raw_batch_files, read_batch
from fediscope.lake.local import LocalLake
from fediscope.timestamps import snowflake, to_ms


def test_demo_key_is_generated_once_and_private(tmp_path: Path) -> None:
    key = demo_key(tmp_path / "demo-lake")
    assert len(key) == 64 and demo_key(tmp_path / "demo-lake") == key
    mode = (tmp_path / "demo-lake" / KEY_FILE).stat().st_mode
    assert stat.S_IMODE(mode) == 0o600


def test_fresh_start_keeps_the_key(tmp_path: Path) -> None:
    ctx = DemoContext(base=tmp_path)
    key = demo_key(ctx.lake_dir)
    (ctx.lake_dir / "raw").mkdir()
    (ctx.out_dir).mkdir()
    fresh_start(ctx)
    assert not (ctx.lake_dir / "raw").exists() and not ctx.out_dir.exists()
    assert demo_key(ctx.lake_dir) == key


# Run in a child (an audit hook cannot be removed once added): under umask 022, the key file's mode at every audited
# operation after it appears (a chmod, a later open) and at the end.
_MODES_SEEN = """
import json, os, stat, sys
from pathlib import Path
from fediscope.demo import KEY_FILE, DemoContext, demo_key, fresh_start
ctx = DemoContext(base=Path(sys.argv[1]))
path = ctx.lake_dir / KEY_FILE
if sys.argv[2] == "fresh":
    demo_key(ctx.lake_dir)
os.umask(0o022)
seen = set()
def hook(event, args):
    try:
        seen.add(oct(stat.S_IMODE(os.lstat(path).st_mode)))
    except OSError:
        pass
sys.addaudithook(hook)
demo_key(ctx.lake_dir) if sys.argv[2] == "new" else fresh_start(ctx)
hook("end", ())
print(json.dumps(sorted(seen)))
"""


@pytest.mark.parametrize("how", ["new", "fresh"])
def test_the_demo_key_is_never_readable_by_others(tmp_path: Path, how: str) -> None:
    """Was written with the umask's mode (-rw-r--r--) and only then chmod 0600: for a moment anyone could read it.
    ``fresh`` rewrites the kept key after deleting the lake (``--fresh``)."""
    import fediscope

    env = {**os.environ, "PYTHONPATH": str(Path(fediscope.__file__).parent.parent)}  # this checkout's fediscope
    result = subprocess.run([sys.executable, "-c", _MODES_SEEN, str(tmp_path), how], capture_output=True, text=True,
                            env=env, check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ["0o600"]


def test_the_demo_key_replaces_a_symbolic_link_instead_of_writing_through_it(tmp_path: Path) -> None:
    """Was: a link at ``_state/demo-key`` naming a file not there yet received the key (created 0644, then chmod)."""
    target = tmp_path / "elsewhere"
    path = tmp_path / "demo-lake" / KEY_FILE
    path.parent.mkdir(parents=True)
    path.symlink_to(target)
    key = demo_key(tmp_path / "demo-lake")
    assert not target.exists() and not path.is_symlink()
    assert path.read_text() == key + "\n" and stat.S_IMODE(path.stat().st_mode) == 0o600


def test_settings_ignore_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEDISCOPE_LAKE", "/somewhere/else")
    monkeypatch.setenv("FEDISCOPE_PRIVACY", "off")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "fediscope.toml").write_text('[fediscope]\nstore = "sqlite:///other.db"\n')
    settings = demo_settings(DemoContext(base=tmp_path), "http://127.0.0.1:1234", "python")
    assert settings.lake == str(tmp_path / "demo-lake") and settings.privacy is True
    assert settings.store == f"sqlite:///{tmp_path / 'demo-out' / 'demo.db'}" and settings.engine == "duckdb"
    assert settings.allow_private_addresses and settings.pseudonym_key
    assert "tag:python" in settings.sources[0].timelines


def test_a_missing_module_stops_the_demo_before_any_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAKELEVEL", "1")  # run by `make demo`
    ran: list[str] = []

    def ok(ctx: DemoContext) -> str:
        ran.append("ok")
        return "fine"

    steps = [Step("first", ("json",), ok), Step("later", ("fediscope.not_written_yet",), ok)]
    out, err = io.StringIO(), io.StringIO()
    assert run_demo(DemoContext(base=tmp_path), steps, out, err) == 1
    assert ran == [] and out.getvalue() == ""
    lines = err.getvalue().splitlines()
    assert len(lines) == 1 and "step 'later' cannot run: fediscope.not_written_yet (ModuleNotFoundError" in lines[0]
    assert "make install" in lines[0]
    # a fediscope installed with pip: no Makefile to name
    monkeypatch.delenv("MAKELEVEL")
    err = io.StringIO()
    assert run_demo(DemoContext(base=tmp_path), steps, io.StringIO(), err) == 1
    assert "install fediscope again with its dependencies" in err.getvalue() and "make" not in err.getvalue()


def test_the_java_hint_names_make_only_under_make(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fediscope import demo

    monkeypatch.setattr(demo, "java_available", lambda: False)
    monkeypatch.delenv("JAVA_HOME", raising=False)  # a JAVA_HOME set is named in the line instead (test_demo_java)
    monkeypatch.delenv("MAKELEVEL", raising=False)
    out = io.StringIO()
    assert run_demo(DemoContext(base=tmp_path, port=0), [], out) == 0
    assert "engine needs Java 17+ (Debian: `apt-get install openjdk-17-jre-headless`)" in out.getvalue()
    monkeypatch.setenv("MAKELEVEL", "1")
    out = io.StringIO()
    assert run_demo(DemoContext(base=tmp_path, port=0), [], out) == 0
    assert "engine needs Java 17+ (`make system-deps` installs it as root)" in out.getvalue()


def test_a_failing_step_stops_the_demo_with_one_line(tmp_path: Path) -> None:
    ran: list[str] = []

    def ok(ctx: DemoContext) -> str:
        ran.append("ok")
        return "fine"

    def boom(ctx: DemoContext) -> str:
        raise RuntimeError("broken\non purpose")

    steps = [Step("first", ("json",), ok), Step("failing", (), boom), Step("after", (), ok)]
    out, err = io.StringIO(), io.StringIO()
    assert run_demo(DemoContext(base=tmp_path), steps, out, err) == 1
    assert err.getvalue() == "[2/3] failing: FAILED: RuntimeError: broken on purpose\n"
    assert ran == ["ok"] and "Stopped in" in out.getvalue() and str(tmp_path / "demo-lake") in out.getvalue()


def test_a_step_failing_with_a_fediscope_error_says_its_message_alone(tmp_path: Path) -> None:
    """As ``fediscope: error: …`` says it: the message of a fediscope error says what went wrong and what to do, and
    its type name (was: ``FAILED: StoreError: …``) tells the reader nothing more. Another error keeps it (above)."""
    from fediscope.errors import StoreError

    def boom(ctx: DemoContext) -> str:
        raise StoreError("cannot open the store: demo-out/demo.db is a directory")

    out, err = io.StringIO(), io.StringIO()
    assert run_demo(DemoContext(base=tmp_path), [Step("store", (), boom)], out, err) == 1
    assert err.getvalue() == "[1/1] store: FAILED: cannot open the store: demo-out/demo.db is a directory\n"


def test_a_failing_step_that_is_not_essential_lets_the_next_run(tmp_path: Path) -> None:
    ran: list[str] = []

    def ok(ctx: DemoContext) -> str:
        ran.append("ok")
        return "fine"

    def boom(ctx: DemoContext) -> str:
        raise ValueError("mismatch")

    steps = [Step("check", (), boom, essential=False), Step("after", (), ok)]
    out, err = io.StringIO(), io.StringIO()
    assert run_demo(DemoContext(base=tmp_path), steps, out, err) == 1
    assert ran == ["ok"] and "[1/2] check: FAILED: ValueError: mismatch" in err.getvalue()
    assert "Done with 1 failed step in" in out.getvalue()


@pytest.mark.parametrize("host_handler_installed", [False, True], ids=["python-default", "host-handler"])
def test_ctrl_c_during_a_duckdb_query_is_an_interruption_not_a_failed_step(tmp_path: Path,
                                                                           host_handler_installed: bool) -> None:
    """DuckDB ends a query on Ctrl-C with ``RuntimeError: Query interrupted``: the demo said the step FAILED and
    "Stopped" (exit 1) instead of "interrupted; run it again" (exit 130). Also when something already installed
    its own SIGINT handler (PySpark does, in the process that ran the Spark tests before): the watch calls it."""
    import os
    import signal
    import threading
    import time

    import duckdb

    ran: list[str] = []
    # seconds of work in many short pipelines: DuckDB looks for Ctrl-C between tasks
    query = "SELECT sum(x) FROM (" + " UNION ALL ".join(
        f"SELECT sum(hash(i + {n})) AS x FROM range(5000000) t(i)" for n in range(400)) + ")"

    def long_query(ctx: DemoContext) -> str:
        # Ctrl-C every second while the query runs (DuckDB looks for it between tasks)
        lock, running = threading.Lock(), [True]

        def press_ctrl_c() -> None:
            while True:
                with lock:
                    if not running[0]:
                        return
                    os.kill(os.getpid(), signal.SIGINT)
                time.sleep(1)

        threading.Timer(0.3, press_ctrl_c).start()
        try:
            duckdb.connect().execute(query).fetchall()
        finally:
            with lock:
                running[0] = False
        return "finished?"

    def after(ctx: DemoContext) -> str:
        ran.append("after")
        return "fine"

    host_calls: list[int] = []

    def host_handler(signum: int, frame: object) -> None:  # as PySpark's: cancel its work, then interrupt
        host_calls.append(signum)
        raise KeyboardInterrupt

    steps = [Step("curate, metrics, SQLite", ("duckdb",), long_query), Step("after", (), after)]
    out, err = io.StringIO(), io.StringIO()
    before = signal.signal(signal.SIGINT, host_handler if host_handler_installed else signal.default_int_handler)
    try:
        assert run_demo(DemoContext(base=tmp_path), steps, out, err) == 130
        assert signal.getsignal(signal.SIGINT) is (host_handler if host_handler_installed else
                                                   signal.default_int_handler)  # restored
    finally:
        signal.signal(signal.SIGINT, before)
    assert "FAILED" not in err.getvalue() and "fediscope demo: interrupted" in err.getvalue()
    assert ran == [] and "Interrupted in" in out.getvalue()
    assert bool(host_calls) == host_handler_installed  # a host's handler still runs


def test_sample_instance_and_collection_steps(tmp_path: Path) -> None:
    steps = [s for s in STEPS if s.name in ("sample instance", "collect")]
    ctx = DemoContext(base=tmp_path, n_statuses=200, port=0, new_statuses=5)
    out = io.StringIO()
    assert run_demo(ctx, steps, out) == 0, out.getvalue()
    assert "[2/2] collect: landed" in out.getvalue()
    lake = LocalLake(ctx.lake_dir)
    files = raw_batch_files(lake, "statuses")
    assert files
    raw = b"".join(lake.read(p) for p in raw_batch_files(lake))
    assert b"sample.social/@" not in raw  # privacy on: no profile URL of the corpus survives landing
    assert all(r["meta"]["instance"].startswith("127.0.0.1:") for p in files for r in read_batch(lake, p))


def test_the_first_lines_say_what_the_instance_serves_and_why_the_timelines_land_more(tmp_path: Path) -> None:
    """Was: "serves 205 statuses" under the head's "(200 statuses, seed 0)", with nothing to say what the other 5
    were, and "N statuses from 3 timelines (the whole corpus)" with N above what the instance serves (the local
    and hashtag timelines are parts of the public one): a newcomer read two numbers that contradict the head."""
    steps = [s for s in STEPS if s.name in ("sample instance", "collect")]
    ctx = DemoContext(base=tmp_path, n_statuses=200, port=0, new_statuses=5)
    out = io.StringIO()
    assert run_demo(ctx, steps, out) == 0, out.getvalue()
    lines = out.getvalue().splitlines()
    assert lines[0].endswith("(200 statuses, seed 0)"), lines[0]
    (served,) = [line for line in lines if line.startswith("[1/2] sample instance: ")]
    assert " serves 205 statuses (the corpus's 200 and 5 new for this run) of " in served, served
    (collect,) = [line for line in lines if line.startswith("[2/2] collect: ")]
    statuses = sum(s.landed for s in ctx.collected.sources if s.source in ("public", "local") or
                   s.source.startswith("tag:"))
    assert statuses > 205  # what the wording explains: else this test shows nothing
    assert f"{statuses} statuses from 3 timelines (each in full; a status on several of them lands from each), " \
        in collect, collect
    assert "whole corpus" not in out.getvalue()
    # without new statuses the instance serves the corpus alone, and says nothing more
    steps = [s for s in STEPS if s.name == "sample instance"]
    bare = DemoContext(base=tmp_path / "bare", n_statuses=200, port=0, new_statuses=0)
    out = io.StringIO()
    assert run_demo(bare, steps, out) == 0, out.getvalue()
    assert " serves 200 statuses of " in out.getvalue(), out.getvalue()


def test_the_collect_and_stream_lines_count_the_opted_out_apart(tmp_path: Path) -> None:
    """Was: "N left out by the privacy policy" alone in both lines, where `fediscope collect` and `stream` tell the
    statuses of accounts that opted out apart: "N left out by the privacy policy (M opted out)"."""
    steps = [s for s in STEPS if s.name in ("sample instance", "collect", "stream")]
    ctx = DemoContext(base=tmp_path, n_statuses=2000, port=0, new_statuses=5)  # seed 7: both meet opted-out authors
    out = io.StringIO()
    assert run_demo(ctx, steps, out) == 0, out.getvalue()
    collected, streamed = ctx.collected, ctx.streamed
    assert collected.opted_out and streamed.opted_out, (collected, streamed)  # else this test shows nothing
    lines = out.getvalue().splitlines()
    (collect,) = [line for line in lines if line.startswith("[2/3] collect: ")]
    assert (f"; {collected.skipped} left out by the privacy policy ({collected.opted_out} opted out), "
            f"{collected.quarantined} quarantined (") in collect, collect
    (stream,) = [line for line in lines if line.startswith("[3/3] stream: ")]
    assert (f"; landed {streamed.landed} in 1 batch file; {streamed.skipped} left out by the privacy policy "
            f"({streamed.opted_out} opted out), {streamed.quarantined} quarantined (") in stream, stream


def test_a_busy_port_never_lands_the_corpus_again_as_a_second_instance(tmp_path: Path) -> None:
    """Was: with the port busy the demo served the instance on any free port, so each such run collected the
    whole corpus again under another instance name (127.0.0.1:<port>) and the analyses counted it twice."""
    import socket

    from fediscope.demo import default_port

    steps = [s for s in STEPS if s.name in ("sample instance", "collect")]
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        # first run, empty lake: any free port will do, and the next run without --port keeps that one
        first = DemoContext(base=tmp_path, n_statuses=100, port=port, new_statuses=2)
        out = io.StringIO()
        assert run_demo(first, steps, out) == 0, out.getvalue()
        used = default_port(first.lake_dir)
        assert used != port and f"127.0.0.1:{used} serves" in out.getvalue()
        assert f"port {port} was busy" in out.getvalue()
    # the lake was collected from `used`: with that port busy, the demo stops before collecting anything
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the first run's connections may linger
        taken.bind(("127.0.0.1", used))
        taken.listen()
        before = sorted(p.name for p in (first.lake_dir / "_state").iterdir())
        out, err = io.StringIO(), io.StringIO()
        again = DemoContext(base=tmp_path, n_statuses=100, port=default_port(first.lake_dir), new_statuses=2)
        assert run_demo(again, steps, out, err) == 1
    # one line without an exception's type name (was: "FAILED: RuntimeError: port … is in use")
    assert err.getvalue().startswith(f"[1/2] sample instance: FAILED: port {used} is in use ("), err.getvalue()
    assert err.getvalue().count("\n") == 1 and "second instance" in err.getvalue()
    assert "[2/2] collect" not in out.getvalue()
    assert sorted(p.name for p in (first.lake_dir / "_state").iterdir()) == before


def test_the_suggested_command_is_found_from_any_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fediscope.demo import _cli_command

    for where in (tmp_path, Path(sys.executable).parent.parent.parent):
        monkeypatch.chdir(where)
        command = _cli_command()
        assert command == "fediscope" or Path(command).is_file(), (where, command)
    assert _cli_command() != "fediscope"  # the tests run from a venv, which has the script


def test_a_rerun_serves_the_corpus_the_lake_was_collected_from(tmp_path: Path) -> None:
    """Was: the demo remembered the port but not the corpus: `--statuses 2000`, then a plain re-run, collected the
    default 5,000-status corpus into the same partitions, and every analysis counted the two mixed."""
    from fediscope.demo import corpus_for, remembered_corpus

    steps = [s for s in STEPS if s.name == "sample instance"]
    first = DemoContext(base=tmp_path, n_statuses=120, seed=7, port=0, new_statuses=0)
    out = io.StringIO()
    assert run_demo(first, steps, out) == 0, out.getvalue()
    assert "serves 120 statuses" in out.getvalue()
    assert remembered_corpus(first.lake_dir) == (120, 7)
    assert corpus_for(first.lake_dir, None, None) == (120, 7)  # a plain re-run
    assert corpus_for(first.lake_dir, 120, None) == (120, 7)
    with pytest.raises(ValueError, match=r"collected from the sample corpus of 120 statuses \(seed 7\).*--fresh "
                                         r"--statuses 2000 --seed 7"):
        corpus_for(first.lake_dir, 2000, None)
    with pytest.raises(ValueError, match="--statuses 120 --seed 8"):
        corpus_for(first.lake_dir, None, 8)
    fresh_start(first)
    assert remembered_corpus(first.lake_dir) is None and corpus_for(first.lake_dir, None, None) == (5000, 0)


def test_another_port_on_a_collected_lake_is_refused_before_anything_is_collected(tmp_path: Path) -> None:
    """Was: ``--port 0`` (or any other port) on a lake collected before landed the whole corpus again as instance
    127.0.0.1:<new port>, and every account was counted twice, with only a note after the summary."""
    from fediscope.demo import default_port

    steps = [s for s in STEPS if s.name in ("sample instance", "collect")]
    first = DemoContext(base=tmp_path, n_statuses=100, port=0, new_statuses=2)
    out = io.StringIO()
    assert run_demo(first, steps, out) == 0, out.getvalue()
    used = default_port(first.lake_dir)
    before = sorted(p.name for p in (first.lake_dir / "_state").iterdir())
    out, err = io.StringIO(), io.StringIO()
    assert run_demo(DemoContext(base=tmp_path, n_statuses=100, port=0, new_statuses=2), steps, out, err) == 1
    assert f"collected from the sample instance on 127.0.0.1:{used}: --port 0 would" in err.getvalue()
    assert err.getvalue().startswith("[1/2] sample instance: FAILED: this lake was collected"), err.getvalue()
    assert f"Run without --port (it uses {used})" in err.getvalue() and "[2/2] collect" not in out.getvalue()
    assert sorted(p.name for p in (first.lake_dir / "_state").iterdir()) == before


def test_another_port_is_a_usage_error_like_another_corpus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Was: ``--port 0`` on a lake collected from 127.0.0.1:8765 generated the corpus, then stopped as a failed
    step (``[1/8] sample instance: FAILED: RuntimeError: …``, exit 1), while another ``--statuses`` or ``--seed``
    was refused up front (``fediscope demo: …``, exit 2): the README says they are refused the same way."""
    from fediscope.demo import main

    (tmp_path / "demo-lake" / "_state" / "127.0.0.1:8765").mkdir(parents=True)
    assert main(["--dir", str(tmp_path), "--port", "0"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("fediscope demo: this lake was collected from the sample instance on "
                                        "127.0.0.1:8765: --port 0 would collect the whole corpus again"), err
    assert "--fresh --port 0" in err and "RuntimeError" not in err
    assert sorted(p.name for p in (tmp_path / "demo-lake" / "_state").iterdir()) == ["127.0.0.1:8765"]


def test_the_start_over_hint_keeps_the_dir_of_the_refused_run(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: a run with ``--dir`` refused another ``--port`` or corpus with "start over: python -m fediscope.demo
    --fresh …", which has no ``--dir``: it would start over in the current directory, leaving the lake as it was."""
    from fediscope.demo import main

    base = tmp_path / "elsewhere dir"
    (base / "demo-lake" / "_state" / "127.0.0.1:8765").mkdir(parents=True)
    (base / "demo-lake" / "_state" / "demo-corpus.json").write_text('{"statuses": 120, "seed": 7}')
    monkeypatch.chdir(tmp_path)
    python = python_command()  # the interpreter running the demo: a bare `python` is the system's
    assert main(["--dir", str(base), "--port", "0"]) == 2
    assert f"or start over: {python} -m fediscope.demo --dir './elsewhere dir' --fresh --port 0\n" in (
        capsys.readouterr().err)
    assert main(["--dir", str(base), "--seed", "8"]) == 2
    assert (f"start over with that corpus: {python} -m fediscope.demo --dir './elsewhere dir' --fresh --statuses "
            "120 --seed 8\n") in capsys.readouterr().err
    monkeypatch.chdir(base)  # the lake is here: the hint needs no --dir
    assert main(["--port", "0"]) == 2
    assert f"or start over: {python_command()} -m fediscope.demo --fresh --port 0\n" in capsys.readouterr().err


def test_the_next_hint_repeats_the_run_where_it_went(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: a run with ``--dir`` elsewhere ended "or run `make demo` again: it collects only what is new", which
    runs the demo in the current directory: a new lake, collecting everything again."""
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    assert run_demo(DemoContext(base=tmp_path / "elsewhere dir", port=0), [], out) == 0, out.getvalue()
    assert (f"or run `{python_command()} -m fediscope.demo --dir './elsewhere dir'` again: it collects only what is "
            "new") in out.getvalue()
    monkeypatch.setenv("MAKELEVEL", "1")  # run by `make demo`, in the current directory
    out = io.StringIO()
    assert run_demo(DemoContext(base=tmp_path, port=0), [], out) == 0, out.getvalue()
    assert "or run `make demo` again" in out.getvalue()
    # was: `make demo` too for a fediscope installed with pip, which has no Makefile
    monkeypatch.delenv("MAKELEVEL")
    out = io.StringIO()
    assert run_demo(DemoContext(base=tmp_path, port=0), [], out) == 0, out.getvalue()
    assert f"or run `{python_command()} -m fediscope.demo` again: it collects only what is new" in out.getvalue()


def test_fresh_deletes_nothing_when_a_step_cannot_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """Was: ``--fresh`` deleted the lake and outputs first, then found a module that does not import (the system
    Python, as the start-over hint spelt it: ``python -m fediscope.demo --fresh``) and stopped: the lake was gone
    and no step ran. Now the installation is checked first and the hint names the interpreter to use."""
    from fediscope import demo

    lake = tmp_path / "demo-lake"
    (lake / "raw" / "kept").mkdir(parents=True)
    (tmp_path / "demo-out").mkdir()
    (tmp_path / "demo-out" / "report.txt").write_text("kept")
    broken = Step(STEPS[0].name, ("fediscope_no_such_module",), STEPS[0].run)
    monkeypatch.setattr(demo, "STEPS", (broken, *STEPS[1:]))
    monkeypatch.setenv("MAKELEVEL", "1")  # run by `make demo`
    assert demo.main(["--dir", str(tmp_path), "--fresh"]) == 1
    err = capsys.readouterr().err
    assert "cannot run: fediscope_no_such_module" in err and "make demo" in err, err
    assert (lake / "raw" / "kept").is_dir() and (tmp_path / "demo-out" / "report.txt").read_text() == "kept"


def _grown_in_a_run(ctx: DemoContext, steps: list[Step]) -> list[dict]:
    """Run ``steps`` (the sample instance's first); the statuses its instance posted after its corpus (the last
    ``new_statuses`` by id), kept before the demo stops the instance."""
    from dataclasses import replace

    kept: list[dict] = []

    def start(context: DemoContext) -> str:
        said = steps[0].run(context)
        statuses = context.server.instance.statuses
        kept.extend(statuses[i] for i in sorted(statuses)[-context.new_statuses - 1:])
        return said

    assert run_demo(ctx, [replace(steps[0], run=start), *steps[1:]], io.StringIO()) == 0
    return kept


def test_the_new_statuses_of_a_run_are_spread_over_the_hours_before_it_in_id_order(tmp_path: Path) -> None:
    """Was: the "new since the last run" statuses were all created at the moment of the run, so the report's
    activity heatmap (hour × weekday) had a spike at the run's hour. Now they are posted over the hours from the
    corpus's end to now (as long as the corpus takes to post as many), with its day/night rhythm, their ids
    (Mastodon snowflakes) in the order of their ``created_at`` and above the corpus's; a re-run's come after what
    the last run collected, so the incremental collection sees them."""
    from fediscope.lake.state import load_checkpoint
    from fediscope.timestamps import snowflake_ms

    instance = [s for s in STEPS if s.name == "sample instance"]
    corpus_newest, *grown = _grown_in_a_run(DemoContext(base=tmp_path, n_statuses=500, port=0, new_statuses=25),
                                            instance)
    created = [datetime.fromisoformat(s["created_at"]) for s in grown]
    assert len(grown) == 25 and len({moment.replace(minute=0, second=0, microsecond=0) for moment in created}) > 1
    assert created == sorted(created) and created[-1] <= datetime.now(UTC)
    assert [snowflake_ms(s["id"]) for s in grown] == [to_ms(moment) for moment in created]
    assert int(corpus_newest["id"]) < int(grown[0]["id"])

    base = tmp_path / "rerun"
    first = DemoContext(base=base, n_statuses=500, port=0, new_statuses=25)
    _grown_in_a_run(first, [*instance, *(s for s in STEPS if s.name == "collect")])
    last_run = last_run_hours_ago(first.lake_dir, 6)
    again = DemoContext(base=base, n_statuses=500, port=default_port(first.lake_dir), new_statuses=25)
    _, *grown = _grown_in_a_run(again, instance)
    public = load_checkpoint(LocalLake(first.lake_dir), f"127.0.0.1:{again.port}", "public").newest_id
    grown = [s for s in grown if int(s["id"]) > int(public)]
    assert grown and int(public) == snowflake(to_ms(last_run.replace(microsecond=0)), 0)
    assert datetime.fromisoformat(grown[0]["created_at"]) >= last_run


def test_a_rerun_minutes_later_adds_no_burst_to_the_run_s_hour(tmp_path: Path) -> None:
    """Was: every run's instance gained --new statuses (25) after the last run's newest, and its stream step 12 more
    at the run's moment, however little time had passed: re-runs minutes apart piled them into the run's hour, a
    dark cell of the activity heatmap (two re-runs made the run's weekday the report's "peak weekday"). Now a
    re-run gains what the corpus posts at its rhythm since the last run's newest status (at most --new), and its
    stream step posts one public status: seconds after a run, 500 statuses over 14 days have none due."""
    steps = [s for s in STEPS if s.name in ("sample instance", "collect")]
    first = DemoContext(base=tmp_path, n_statuses=500, port=0, new_statuses=25)
    assert run_demo(first, steps, io.StringIO()) == 0
    port = default_port(first.lake_dir)
    again = DemoContext(base=tmp_path, n_statuses=500, port=port, new_statuses=25)
    out = io.StringIO()
    assert run_demo(again, [*steps, *(s for s in STEPS if s.name == "stream")], out) == 0, out.getvalue()
    assert " serves 500 statuses (none new yet: at the corpus's rhythm, no status is due since the last run) of " \
        in out.getvalue(), out.getvalue()
    assert sum(s.landed for s in again.collected.sources if s.source in ("public", "local")) == 0
    assert again.streamed.events["update"] == again.streamed.landed == 1
    assert "the public stream pushed the public status the instance posted while it was open" in out.getvalue()

    # hours later, the statuses the corpus posts meanwhile (fewer than --new over 6 hours of a 500-status corpus),
    # one of them left for the stream step
    last_run = last_run_hours_ago(first.lake_dir, 6)
    due = {round(statuses_posted_between(500, last_run, datetime.now(UTC)))}
    out = io.StringIO()
    assert run_demo(DemoContext(base=tmp_path, n_statuses=500, port=port, new_statuses=25), steps[:1], out) == 0
    due.add(round(statuses_posted_between(500, last_run, datetime.now(UTC))))
    assert all(2 <= n < 25 for n in due), due
    assert any(f" serves {500 + n - 1} statuses (the corpus's 500 and {n - 1} new for this run) of "
               in out.getvalue() for n in due), out.getvalue()


def test_a_rerun_whose_one_due_status_is_left_to_the_stream_step_says_so(tmp_path: Path) -> None:
    """Was: a re-run that gained none said "no status is due since the last run" also when one was, left to the
    stream step to post live. The last run is moved back to when the corpus's rhythm has one status due (1.0, far
    from where it rounds otherwise)."""
    steps = [s for s in STEPS if s.name == "sample instance"]
    first = DemoContext(base=tmp_path, n_statuses=500, port=0, new_statuses=25)
    assert run_demo(first, [*steps, *(s for s in STEPS if s.name == "collect")], io.StringIO()) == 0
    now = datetime.now(UTC)
    low, high = 0.0, 24.0  # hours back: what is due grows with them
    for _ in range(40):
        middle = (low + high) / 2
        low, high = (middle, high) if statuses_posted_between(500, now - timedelta(hours=middle), now) < 1 else \
            (low, middle)
    last_run_hours_ago(first.lake_dir, high)
    out = io.StringIO()
    again = DemoContext(base=tmp_path, n_statuses=500, port=default_port(first.lake_dir), new_statuses=25)
    assert run_demo(again, steps, out) == 0, out.getvalue()
    assert (" serves 500 statuses (none new yet: the one status due at the corpus's rhythm since the last run is "
            "posted live by the stream step) of ") in out.getvalue(), out.getvalue()
    assert again.stream_posts == 1


def test_the_corpus_posts_its_statuses_over_its_window_at_its_rhythm() -> None:
    """What a re-run gains is the corpus's own rate: over its 14 days it posts the whole corpus, over the hours
    the first run's new statuses are spread over at least as many, and more in an afternoon hour than at night."""
    hour = datetime(2026, 12, 2, 0, tzinfo=UTC)  # a Wednesday
    assert statuses_posted_between(5000, hour - timedelta(days=14), hour) == pytest.approx(5000)
    span = new_statuses_span(5000, 25, hour)
    assert statuses_posted_between(5000, hour - span, hour) >= 25 > statuses_posted_between(
        5000, hour - span + timedelta(hours=1), hour)
    afternoon, night = hour - timedelta(hours=9), hour - timedelta(hours=21)
    assert statuses_posted_between(5000, afternoon, afternoon + timedelta(hours=1)) > 2 * statuses_posted_between(
        5000, night, night + timedelta(hours=1))
    assert statuses_posted_between(5000, hour, hour) == 0


@pytest.mark.parametrize("name", ["p%41q", "what?"])
def test_a_dir_whose_name_a_url_reads_otherwise_holds_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 name: str) -> None:
    """Was: the demo's store URL was ``sqlite:///<dir>/demo-out/demo.db`` written as is, and fediscope
    percent-decodes a SQLite URL's path and reads a ``?`` as its options: ``--dir p%41q`` put the store in a new
    directory ``pAq`` (the outputs named a file that was not there), and ``--dir 'what?'`` failed the curation step."""
    monkeypatch.chdir(tmp_path)
    steps = [s for s in STEPS if s.name in ("sample instance", "collect", "curate, metrics, SQLite")]
    ctx = DemoContext(base=tmp_path / name, n_statuses=100, port=0, new_statuses=2)
    out = io.StringIO()
    assert run_demo(ctx, steps, out) == 0, out.getvalue()
    assert ctx.db_path.is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no other directory made


def test_the_suggested_report_command_names_the_store_of_a_dir_with_spaces_and_percent_signs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: ``Next: `fediscope report --store sqlite:///./demo dir/demo-out/demo.db …``` : pasted into a shell,
    the space cut the URL in two (and a ``%41`` in the name named another file)."""
    import shlex

    from fediscope.store.sqlite import sqlite_file

    monkeypatch.chdir(tmp_path)
    ctx = DemoContext(base=tmp_path / "demo dir %41", port=0)
    out = io.StringIO()
    assert run_demo(ctx, [], out) == 0, out.getvalue()
    suggested = next(line for line in out.getvalue().splitlines() if line.startswith("Next: `"))
    command = shlex.split(suggested.removeprefix("Next: `").split("`")[0])
    assert command[1:3] == ["report", "--store"] and command[4:6] == ["--top", "20"], command
    assert sqlite_file(command[3]).resolve() == ctx.db_path.resolve()
    # its charts go beside the demo's (was: into ./fediscope-out, which `make clean` leaves behind)
    assert len(command) == 8 and command[6] == "--out", command
    assert (tmp_path / command[7]).resolve() == (ctx.out_dir / "charts").resolve()


def test_the_report_head_names_the_store_as_the_next_line_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: the report's head said ``store sqlite:////<tmp>/demo/demo-out/demo.db`` (an absolute path) and the Next:
    line ``--store sqlite:///./demo/demo-out/demo.db`` (relative to the current directory), which read as two
    stores, or one of them a typo; and nothing said that the Next: line's ./ paths hold only from here."""
    import shlex

    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    steps = [s for s in STEPS if s.name in ("sample instance", "collect", "curate, metrics, SQLite",
                                            "report and charts")]
    ctx = DemoContext(base=tmp_path / "here" / "demo", n_statuses=100, port=0)
    out = io.StringIO()
    assert run_demo(ctx, steps, out) == 0, out.getvalue()
    suggested = next(line for line in out.getvalue().splitlines() if line.startswith("Next: `"))
    store = shlex.split(suggested.removeprefix("Next: `").split("`")[0])[3]
    assert store == "sqlite:///./demo/demo-out/demo.db"
    # the excerpt of the report (its head may be wrapped to the terminal, after the " ·" ending the store URL)
    assert f"\n    fediscope report · store {store} ·" in out.getvalue()
    assert (ctx.out_dir / "report.txt").read_text().startswith(f"fediscope report · store {store} · ")
    assert suggested.endswith(" again: it collects only what is new. Run both from this directory: their ./ paths "
                              "are relative to it."), suggested
    # a demo elsewhere: every path of the line is absolute (four slashes: sqlite:////), which holds from anywhere
    elsewhere = DemoContext(base=tmp_path / "elsewhere", port=0)
    out = io.StringIO()
    assert run_demo(elsewhere, [], out) == 0, out.getvalue()
    suggested = next(line for line in out.getvalue().splitlines() if line.startswith("Next: `"))
    assert f" --store sqlite:///{tmp_path}/elsewhere/demo-out/demo.db " in suggested, suggested
    assert suggested.endswith(" again: it collects only what is new."), suggested


def test_the_instance_line_names_the_instance_as_the_lake_and_the_report_do(tmp_path: Path) -> None:
    """Was: "… as sample.social" alone, while every report table, the lake, its checkpoints and the store name the
    instance 127.0.0.1:<port> (the address it is collected from): a newcomer wondered which was which."""
    steps = [s for s in STEPS if s.name in ("sample instance", "collect")]
    ctx = DemoContext(base=tmp_path, n_statuses=200, port=0, new_statuses=5)
    out = io.StringIO()
    assert run_demo(ctx, steps, out) == 0, out.getvalue()
    (port,) = collected_ports(ctx.lake_dir)  # the name of its checkpoints
    name = f"127.0.0.1:{port}"
    (served,) = [line for line in out.getvalue().splitlines() if line.startswith("[1/2] sample instance: ")]
    assert (f" as sample.social (the domain in its statuses' URLs); the lake and the report name it {name}, the "
            "address it is collected from (") in served, served
    files = raw_batch_files(LocalLake(ctx.lake_dir), "statuses")
    assert files and all(f"/instance={name}/" in f"/{path}" for path in files), files[:3]


def test_wrapped_lines_break_between_parts_and_never_inside_a_date() -> None:
    line = "accounts: 78 · toots: 607 · median interactions per toot: 1.75 · first day: 2026-11-21 · bots: 3"
    assert wrap_line(line, 200) == [line]
    wrapped = wrap_line(line, 40)
    assert wrapped == ["accounts: 78 · toots: 607 ·", "  median interactions per toot: 1.75 ·",
                       "  first day: 2026-11-21 · bots: 3"]
    # a word longer than the width (a path) stays whole; the other lines fit
    path = "./" + "d" * 50 + "/report.txt"
    assert wrap_line(f"… 18 more analyses in the full report: {path}", 40) == [
        "… 18 more analyses in the full report:", f"  {path}"]


def test_wrapped_lines_fit_the_width_in_columns_not_characters() -> None:
    """Was: the lines were cut at ``width`` characters (textwrap counts characters), so a line of hashtags in
    Japanese, two columns a character, took up to twice the terminal's width."""
    line = "Top hashtags: " + " ".join(["#日本語のタグ"] * 8) + " · peak hour: 21"
    wrapped = wrap_line(line, 40)
    assert max(display_width(row) for row in wrapped) <= 40, wrapped
    assert " ".join(row.strip() for row in wrapped) == line
    assert wrapped[1] == "  #日本語のタグ #日本語のタグ"  # 29 columns: a third (14 more) would not fit


def test_the_excerpt_names_the_report_file_and_wraps_to_the_width() -> None:
    text = ("fediscope report · store sqlite:///./demo-out/demo.db · 19 metrics, 1,981 rows\nPeriod: p\n\n"
            "== One ==\nWhich accounts have the most followers, and how many of them are bots on each instance?\n"
            "n\n-\n1\n\n== Two ==\nq\n\n== Three ==\nq\n")
    shown = excerpt(text, 1, 40, "./demo-out/report.txt").splitlines()
    assert shown == ["fediscope report ·", "  store sqlite:///./demo-out/demo.db ·", "  19 metrics, 1,981 rows",
                     "Period: p", "", "== One ==", "Which accounts have the most followers,",
                     "  and how many of them are bots on each", "  instance?", "n", "-", "1",
                     "… 2 more analyses in the full report:", "  ./demo-out/report.txt"]
    assert excerpt(text, 3).splitlines()[-1] == "q"  # every section: no line saying more


def test_the_report_excerpt_fits_the_terminal_and_the_report_file_keeps_every_column(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: the excerpt's tables, 100 to 200 columns wide and indented by 4, wrapped into a tangle in an 80-column
    terminal. Now each table keeps the leading columns that fit, naming the others, and longer lines are wrapped;
    the report file keeps every column."""
    from fediscope.console import display_width

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "80")  # what the demo reads first, as on a terminal of 80 columns
    steps = [s for s in STEPS if s.name in ("sample instance", "collect", "curate, metrics, SQLite",
                                            "report and charts")]
    ctx = DemoContext(base=tmp_path, n_statuses=200, port=0)
    out = io.StringIO()
    assert run_demo(ctx, steps, out) == 0, out.getvalue()
    printed = out.getvalue().split("[4/4] report and charts …\n")[1].split("\n[4/4] report and charts: ")[0]
    lines = printed.splitlines()
    assert lines[-1] == "    … 18 more analyses in the full report: ./demo-out/report.txt", lines[-1]
    too_wide = [line for line in lines if display_width(line) > 80]
    assert not too_wide, too_wide
    assert "    == Top accounts by followers ==" in lines
    left_out = next(line for line in lines if line.startswith("    (") and " more column" in line)
    hidden = left_out.split(": ", 1)[1].rstrip(")").split(", ")
    report = (ctx.out_dir / "report.txt").read_text(encoding="utf-8")
    header = next(line for line in report.splitlines() if line.startswith("ranking  account_key "))
    assert hidden and all(f"  {column}" in header for column in hidden), (hidden, header)
    assert display_width(header) > 80 and "more column" not in report  # the file: every column, however wide
