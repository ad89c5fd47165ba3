"""``fediscope process`` and ``fediscope report`` with a bad ``--store``: one line naming the problem, the right
exit code, no password shown, nothing created or kept for a store that cannot hold the results."""

from __future__ import annotations

import pytest
from cli_run import clean_env, run

SECRET = "QSsecret99"
KEY = "cli-store-test-pseudonym-key"


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    """No FEDISCOPE_* from the caller, cwd in tmp_path, a lake holding a small generated corpus."""
    clean_env(tmp_path, monkeypatch, FEDISCOPE_LAKE=str(tmp_path / "lake"), FEDISCOPE_PSEUDONYM_KEY=KEY)
    from fediscope.config import load_settings
    from fediscope.lake.backend import open_lake
    from fediscope.privacy import policy_from_settings
    from fediscope.sample.landing import write_raw_lake

    settings = load_settings()
    write_raw_lake(open_lake(settings.lake), 40, seed=7, policy=policy_from_settings(settings))
    return tmp_path


PASSWORD_WARNING = "fediscope: warning: --store holds a password"


def one_line_error(err: str) -> str:
    """The one error line of ``err``, after the warning a ``--store`` holding a password gets."""
    assert "Traceback" not in err, err
    lines = [line for line in err.strip().splitlines() if not line.startswith(PASSWORD_WARNING)]
    assert len(lines) == 1 and lines[0].startswith("fediscope: error: "), err
    return lines[0]


@pytest.mark.parametrize("command", ["process", "report"])
@pytest.mark.parametrize("param", ["password", "passwd"])
def test_a_query_string_password_never_shows(cli_env, capsys, command, param):
    code, out, err = run(capsys, command, "--store", f"mysql+pymysql://fed@127.0.0.1:1/db?{param}={SECRET}")
    assert code == 1
    line = one_line_error(err)
    assert SECRET not in out + err and f"{param}=***" in line and "could not connect to the store: (2003" in line


@pytest.mark.parametrize("command", ["process", "report"])
def test_a_sqlite_path_below_a_file(cli_env, capsys, command):
    (cli_env / "afile").write_text("in the way")
    path = cli_env / "afile" / "x.db"
    code, out, err = run(capsys, command, "--store", f"sqlite:///{path}")
    assert code == 1 and out == ""
    assert str(path) in one_line_error(err)


@pytest.mark.parametrize("command", ["process", "report"])
@pytest.mark.parametrize(("store", "words"), [
    ("sqlite://relative", "a SQLite URL names a file, not a host"),
    ("sqlite:/x.db", "is not a valid URL"),
    ("mysql+pymysql://u:s3cret@127.0.0.1:1/db?ssl_key=/x", "ssl_key=/x is not a readable file"),
    ("mysql+mysqldb://u:s3cret@127.0.0.1:1/db", "use mysql+pymysql://"),
])
def test_malformed_store_urls_are_config_errors(cli_env, capsys, command, store, words):
    code, out, err = run(capsys, command, "--store", store)
    assert code == 2 and out == ""
    line = one_line_error(err)
    assert words in line and "s3cret" not in line


@pytest.mark.parametrize("command", ["process", "report"])
@pytest.mark.parametrize("store", ["sqlite://", "sqlite:///", "sqlite:///:memory:"])
def test_an_in_memory_store_is_refused(cli_env, capsys, command, store):
    code, out, err = run(capsys, command, "--store", store)
    assert code == 2 and out == ""
    assert "in-memory SQLite database" in one_line_error(err)
    assert "FEDISCOPE_STORE=" not in err  # it came from --store, not from the environment
    assert not (cli_env / "lake" / "_state").exists()  # no kept results for a store that keeps nothing


def test_an_in_memory_store_from_the_environment_is_refused(cli_env, capsys, monkeypatch):
    monkeypatch.setenv("FEDISCOPE_STORE", "sqlite://")
    code, _, err = run(capsys, "process")
    assert code == 2 and "in-memory" in one_line_error(err)


@pytest.mark.parametrize("command", ["process", "report", "config check"])
def test_an_in_memory_store_from_the_config_file_names_the_file_and_key(cli_env, capsys, command):
    """Was: "(--store, FEDISCOPE_STORE or [fediscope] store)" for `process` and `report`, and `config check` named
    FEDISCOPE_STORE, for a store set in ./fediscope.toml alone: neither said which file, nor which of the three."""
    (cli_env / "fediscope.toml").write_text('[fediscope]\nstore = "sqlite://"\n')
    code, out, err = run(capsys, *command.split())
    if command == "config check":
        assert code == 1 and "problem: fediscope.toml: [fediscope] store: an in-memory SQLite database" in out, out
        return
    line = one_line_error(err)
    assert code == 2 and out == ""
    assert "'sqlite://' (fediscope.toml: [fediscope] store) is an in-memory SQLite database" in line, line


def test_report_creates_no_store(cli_env, capsys):
    code, out, err = run(capsys, "report", "--store", f"sqlite:///{cli_env / 'newdir' / 'x.db'}")
    assert code == 1 and out == ""
    line = one_line_error(err)
    assert "does not exist yet" in line and "run `fediscope process` first" in line
    assert not (cli_env / "newdir").exists()
    code, _, err = run(capsys, "report")  # the default store, ./fediscope.db
    assert code == 1 and "fediscope.db does not exist yet" in one_line_error(err)
    assert "four slashes" not in err  # a relative store not created yet: no hint
    assert not list(cli_env.glob("fediscope.db*"))


@pytest.mark.parametrize("made", ["file", "directory"])
def test_report_of_an_absolute_path_written_with_three_slashes_says_four(cli_env, capsys, made):
    """Was: "the SQLite store tmp/…/x.db does not exist yet" alone: sqlite:///tmp/x.db names tmp/x.db, relative to
    the current directory, where the user meant /tmp/x.db (which exists, or whose directory does)."""
    from fediscope.store.port import open_store

    absolute = cli_env / "elsewhere" / "x.db"
    absolute.parent.mkdir()
    if made == "file":
        open_store(f"sqlite:///{absolute}").close()
    code, out, err = run(capsys, "report", "--store", f"sqlite:///{str(absolute).lstrip('/')}")
    line = one_line_error(err)
    assert code == 1 and out == "" and "does not exist yet" in line
    found = f"{absolute} exists" if made == "file" else f"the directory {absolute.parent} exists"
    assert line.endswith(f"is relative to the current directory, but {found}: an absolute path takes four slashes, "
                         f"sqlite:///{absolute}"), line
    assert not (cli_env / str(absolute.parent).lstrip("/")).exists()  # nothing created where the URL pointed


def test_report_of_a_missing_store_names_the_stores_near_it(cli_env, capsys):
    """After `make demo`, `fediscope report` in its directory reads the default ./fediscope.db, and a typo misses
    demo-out/demo.db: was only "does not exist yet: run `fediscope process` first", as if nothing had been processed
    (which would compute every metric into a second store). The stores beside it, and in the directories beside
    it, are named as URLs to give; a SQLite file that is no fediscope store (a notebook's) is not."""
    import sqlite3

    code, _out, err = run(capsys, "process", "--store", "sqlite:///demo-out/demo.db")
    assert code == 0, err
    other = sqlite3.connect(cli_env / "notes.db")  # another program's database
    other.execute("CREATE TABLE t (x)")
    other.close()
    before = sorted(path.name for path in cli_env.rglob("*"))
    code, out, err = run(capsys, "report")
    assert (code, out) == (1, "")
    assert one_line_error(err).endswith("fediscope.db does not exist yet: run `fediscope process` first (it curates "
                                        "the lake, computes the metrics and creates the store), or point --store / "
                                        "FEDISCOPE_STORE (or [fediscope] store in fediscope.toml) at an existing one "
                                        "(near it: sqlite:///demo-out/demo.db)"), err
    code, out, err = run(capsys, "report", "--store", "sqlite:///demo-out/demoo.db")
    assert code == 1 and one_line_error(err).endswith("(near it: sqlite:///demo-out/demo.db)"), err
    assert sorted(path.name for path in cli_env.rglob("*")) == before  # nothing created, no journal left


def test_process_creates_the_store_report_then_reads_it(cli_env, capsys):
    store = f"sqlite:///{cli_env / 'newdir' / 'x.db'}"
    code, _, err = run(capsys, "process", "--store", store)
    assert code == 0, err
    code, out, err = run(capsys, "report", "--store", store, "--no-charts")
    assert code == 0, err
    assert "fediscope report" in out


# -- a store URL whose form is wrong is refused when the settings load, naming where it came from ----------------

NO_DATABASE = "mysql+pymysql://u@h"
MYSQL_HINT = "use mysql+pymysql://user:<password>@host:3306/<database>"


def _set_store(cli_env, monkeypatch, source: str, url: str) -> tuple[str, list[str]]:
    """Configure ``url`` through ``source`` (flag, env, toml): the origin an error must name, the extra arguments."""
    if source == "flag":
        return "--store", ["--store", url]
    if source == "env":
        monkeypatch.setenv("FEDISCOPE_STORE", url)
        return "FEDISCOPE_STORE", []
    (cli_env / "fediscope.toml").write_text(f'[fediscope]\nstore = "{url}"\n')
    return "fediscope.toml: [fediscope] store", []


@pytest.mark.parametrize("source", ["flag", "env", "toml"])
@pytest.mark.parametrize(("store", "words"), [
    (NO_DATABASE, f"names no database; {MYSQL_HINT}."),
    ("hbase://", "names no host; use hbase://host:9090."),
    ("hbase://127.0.0.1:1?pool_size=0", "pool_size=0, which is not a whole number above 0"),
])
@pytest.mark.parametrize("command", ["process", "report"])
def test_a_malformed_store_url_names_its_source(cli_env, capsys, monkeypatch, source, store, words, command):
    origin, args = _set_store(cli_env, monkeypatch, source, store)
    code, out, err = run(capsys, command, *args)
    assert code == 2 and out == ""
    line = one_line_error(err)
    assert line.startswith(f"fediscope: error: {origin} is invalid: '") and words in line, line
    assert "s3cret" not in line and (source == "env" or "FEDISCOPE_STORE" not in line)


@pytest.mark.parametrize("source", ["env", "toml"])
@pytest.mark.parametrize("store", [NO_DATABASE, "hbase://"])
@pytest.mark.parametrize("command", ["doctor", "config check"])
def test_doctor_and_config_check_refuse_a_malformed_store_url(cli_env, capsys, monkeypatch, source, store, command):
    """Were: `config check` found 0 problems (exit 0) and `doctor` failed its store check with the adapter's words
    (naming FEDISCOPE_STORE, or no source) and, through its redaction, `user:***@` in the MySQL hint."""
    origin, _ = _set_store(cli_env, monkeypatch, source, store)
    code, out, err = run(capsys, *command.split())
    assert code == 2 and out == "" and "problem(s)" not in err
    line = one_line_error(err)
    assert line.startswith(f"fediscope: error: {origin} is invalid: '{store}' names no ")
    if store == NO_DATABASE:
        assert MYSQL_HINT in line  # the same hint as every other command's


@pytest.mark.parametrize("store", ["sqlite://", "sqlite:///:memory:"])
def test_config_check_flags_an_in_memory_store(cli_env, capsys, monkeypatch, store):
    """Was: `config check` found no problem (exit 0) in a store that `process` and `report` refuse and `doctor`
    FAILs."""
    monkeypatch.setenv("FEDISCOPE_STORE", store)
    monkeypatch.setenv("FEDISCOPE_API_KEY", "0123456789abcdefghijklmnopqrstuv")
    monkeypatch.setenv("FEDISCOPE_PSEUDONYM_KEY", "a-strong-key-0123456789abcdefghijklmnopqrstuvwxyz")
    # `config check` ends with ctx.exit(1): main() returns 1, which the script passes to sys.exit (cli_run.run
    # counts it; it used to read only a SystemExit, and saw 0)
    code, out, _ = run(capsys, "config", "check")
    assert code == 1
    assert "problem: FEDISCOPE_STORE: an in-memory SQLite database" in out and "1 problem(s)" in out, out
    monkeypatch.setenv("FEDISCOPE_STORE", "sqlite:///fediscope.db")
    code, out, _ = run(capsys, "config", "check")
    assert code == 0, out


@pytest.mark.parametrize(("store", "written"), [("fediscope.db", "sqlite:///fediscope.db"),
                                                ("/data/metrics.db", "sqlite:////data/metrics.db")])
@pytest.mark.parametrize("command", ["process", "report"])
def test_a_bare_path_as_store_is_answered_with_its_sqlite_url(cli_env, capsys, command, store, written):
    """Was: "'fediscope.db' is not a supported store URL (unsupported scheme '')", leaving the user to find out
    that a SQLite file is written sqlite:///path."""
    code, out, err = run(capsys, command, "--store", store)
    assert code == 2 and out == ""
    line = one_line_error(err)
    assert f"--store is invalid: '{store}' is a path, not a store URL; a SQLite file is written {written} " in line
    assert "unsupported scheme" not in line
    assert not (cli_env / store.lstrip("/")).exists()


@pytest.mark.parametrize(("store", "scheme"), [("sqlite//x.db", "sqlite"), ("sqlite////data/x.db", "sqlite"),
                                               ("hbase//host:9090", "hbase"),
                                               ("mysql+pymysql//u@db/fediscope", "mysql+pymysql")])
def test_a_store_url_without_its_colon_is_answered_as_such(cli_env, capsys, store, scheme):
    """Was read as a bare path: "sqlite//x.db is a path, …; a SQLite file is written sqlite:///sqlite//x.db"."""
    code, out, err = run(capsys, "report", "--store", store)
    assert code == 2 and out == ""
    line = one_line_error(err)
    assert f"--store is invalid: '{store}' is missing the ':' after '{scheme}' (write {scheme}://…)" in line, line
    assert "is a path" not in line


def test_process_creates_a_new_sqlite_store_with_its_directories_as_its_help_says(cli_env, capsys):
    """Deliberate (a first run on a new machine or Airflow worker needs no mkdir; doctor checks such a store only to
    be creatable), and now said in --help: a typo in the path makes a new store there."""
    code, out, _err = run(capsys, "process", "--help")
    assert code == 0 and "with any missing directories above it" in " ".join(out.split())
    path = cli_env / "new" / "dir" / "x.db"
    code, _out, err = run(capsys, "process", "--store", f"sqlite:///{path}")
    assert code == 0, err
    assert path.is_file()
