"""A lake or store error's fix names where that setting was set: the option, the variable, fediscope.toml's key, or
for a default the option and both places that set it. Was: ``point --lake / FEDISCOPE_LAKE at …`` and ``point
--store / FEDISCOPE_STORE at …`` whatever set the lake or store, so a user who set it in fediscope.toml alone was sent
to a variable they never set (``fediscope doctor`` already named the file's key)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_run import clean_env, run

from fediscope.config import load_settings
from fediscope.lake.key_check import check_landing_key
from fediscope.lake.local import LocalLake

KEY = "fix-origin-test-pseudonym-key-5e8a2c4f7b1d9e3a6c0f"
OTHER = "fix-origin-test-other-key-0d7b3e9a1f5c8e2b4a6d"
DEAD = "http://127.0.0.1:1"  # never reached: the lake is refused before anything is fetched

#: what the fix names, by where the setting was set (``{name}`` is ``lake`` or ``store``)
NAMED = {"option": "--{name}", "variable": "FEDISCOPE_{NAME}", "file": "fediscope.toml: [fediscope] {name}",
         "default": "--{name} / FEDISCOPE_{NAME} (or [fediscope] {name} in fediscope.toml)"}
#: the same for a command without the option (gdpr)
NAMED_WITHOUT_OPTION = {**NAMED, "default": "FEDISCOPE_{NAME} (or [fediscope] {name} in fediscope.toml)"}
#: where the default lake and store are, relative to the current directory
DEFAULT_PATH = {"lake": "lake", "store": "fediscope.db"}


def _configure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, where: str, path: Path | None,
               ) -> tuple[str, ...]:
    """A shell in ``tmp_path`` whose ``name`` setting (lake or store) points at ``path`` as set ``where``; the
    arguments to add for an option. The other of lake and store is set by its variable, as a deployment does."""
    others = {"lake": "FEDISCOPE_LAKE", "store": "FEDISCOPE_STORE"}
    other = "store" if name == "lake" else "lake"
    other_value = f"sqlite:///{tmp_path / 'other.db'}" if other == "store" else str(tmp_path / "other-lake")
    clean_env(tmp_path, monkeypatch, FEDISCOPE_PSEUDONYM_KEY=KEY, FEDISCOPE_MAX_RETRIES="0",
              **{others[other]: other_value})
    if path is None:
        assert where == "default"
        return ()
    value = f"sqlite:///{path}" if name == "store" else str(path)
    if where == "option":
        return (f"--{name}", value)
    if where == "variable":
        monkeypatch.setenv(others[name], value)
    else:
        (tmp_path / "fediscope.toml").write_text(f'[fediscope]\n{name} = "{value}"\n')
    return ()


def _error(err: str) -> str:
    assert "Traceback" not in err and err.startswith("fediscope: error: ") and err.count("\n") == 1, err
    return err


def _named(table: dict[str, str], name: str, where: str) -> str:
    return table[where].format(name=name, NAME=name.upper())


def _assert_names_only(message: str, name: str, where: str, table: dict[str, str] = NAMED) -> None:
    """The message names where the setting was set, and no other place."""
    named = _named(table, name, where)
    assert named in message, message
    for other in {"option", "variable", "file"} - {where}:
        if where != "default":
            assert _named(table, name, other) not in message.replace(named, ""), message


LAKE_CASES = [  # (command, what the lake path is, what the fix says to do with the lake)
    (("lake", "ls"), "missing", "point {} at the lake you collected into"),
    (("lake", "unlock", "--yes"), "file", "point {} at the lake's directory"),
    (("process",), "empty", "point {} at the lake you collected into"),
    (("collect", "--instance", DEAD), "file", "point {} at the lake's directory"),
    (("stream", "--instance", DEAD, "--duration", "5"), "file", "point {} at the lake's directory"),
]


def _lake_at(tmp_path: Path, where: str, state: str) -> Path:
    path = tmp_path / (DEFAULT_PATH["lake"] if where == "default" else "my-lake")
    if state == "file":
        path.write_text("not a lake")
    elif state == "empty":
        path.mkdir()
    return path


@pytest.mark.parametrize("where", ["file", "variable", "option", "default"])
@pytest.mark.parametrize(("command", "state", "fix"), LAKE_CASES)
def test_a_lake_error_names_where_the_lake_was_set(tmp_path, monkeypatch, capsys, command, state, fix, where):
    path = _lake_at(tmp_path, where, state)
    extra = _configure(tmp_path, monkeypatch, "lake", where, None if where == "default" else path)
    code, _out, err = run(capsys, *command, *extra)
    message = _error(err)
    assert code == 1 and fix.format(_named(NAMED, "lake", where)) in message, message
    _assert_names_only(message, "lake", where)


@pytest.mark.parametrize("where", ["file", "variable", "option", "default"])
def test_a_landing_refused_for_another_key_names_where_the_lake_was_set(tmp_path, monkeypatch, capsys, where):
    path = _lake_at(tmp_path, where, "empty")
    check_landing_key(load_settings(env={"FEDISCOPE_PSEUDONYM_KEY": OTHER}, toml_path=False), LocalLake(str(path)),
                      warn=False)
    extra = _configure(tmp_path, monkeypatch, "lake", where, None if where == "default" else path)
    code, _out, err = run(capsys, "collect", "--instance", DEAD, *extra)
    message = _error(err)
    assert code == 2 and "is not the key this lake was landed with" in message, message
    assert f"or point {_named(NAMED, 'lake', where)} at the lake of this key" in message, message


@pytest.mark.parametrize("where", ["file", "variable", "default"])
@pytest.mark.parametrize(("command", "state", "fix"), [
    (("gdpr", "retention", "--dry-run"), "missing", "point {} at the lake you collected into"),
    (("gdpr", "retention"), "file", "point {} at the lake's directory"),
    (("gdpr", "export", "--account", "someone@example.org"), "missing",
     "set {} to the lake the account was collected into"),
    (("gdpr", "erase", "--account", "someone@example.org", "--yes"), "missing",
     "set {} to the lake the account was collected into; nothing was erased"),
])
def test_a_gdpr_lake_error_names_where_the_lake_was_set(tmp_path, monkeypatch, capsys, command, state, fix, where):
    """The gdpr commands have no --lake: for a default, the variable and the file's key."""
    path = _lake_at(tmp_path, where, state)
    _configure(tmp_path, monkeypatch, "lake", where, None if where == "default" else path)
    code, _out, err = run(capsys, *command)
    message = _error(err)
    assert code == 1 and fix.format(_named(NAMED_WITHOUT_OPTION, "lake", where)) in message, message
    assert "--lake" not in message
    _assert_names_only(message, "lake", where, NAMED_WITHOUT_OPTION)


@pytest.mark.parametrize("where", ["file", "variable", "option", "default"])
@pytest.mark.parametrize("command", [("report", "--no-charts"), ("store", "export", "languages")])
@pytest.mark.parametrize("state", ["missing", "directory"])
def test_a_store_error_names_where_the_store_was_set(tmp_path, monkeypatch, capsys, command, state, where):
    path = tmp_path / (DEFAULT_PATH["store"] if where == "default" else "my.db")
    if state == "directory":
        path.mkdir()
    extra = _configure(tmp_path, monkeypatch, "store", where, None if where == "default" else path)
    code, out, err = run(capsys, *command, *extra)
    message = _error(err)
    said = {"missing": "does not exist yet", "directory": "is a directory, not a database file"}[state]
    fix = {"missing": "or point {} at an existing one", "directory": "point {} at a file"}[state]
    assert code == 1 and out == "" and said in message, message
    assert fix.format(_named(NAMED, "store", where)) in message, message
    _assert_names_only(message, "store", where)
    assert path.is_dir() == (state == "directory") and not path.is_file()  # nothing created
