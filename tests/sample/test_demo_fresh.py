"""``python -m fediscope.demo --fresh``: starting over deletes the old lake and outputs whole, or not at all.

Was: ``--fresh`` deleted ``demo-lake/`` in place with ``shutil.rmtree``. A Ctrl-C while it ran (or a file it could not
delete, which it ignored) left a lake with part of the old one: its curated Parquet without the raw files, the
manifest, the checkpoints and the demo key. The next run generated a new key, collected the corpus again and merged
it into the old curated tables: every account counted twice, under two pseudonyms.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fediscope import demo
from fediscope.demo import KEY_FILE, DemoContext, fresh_start


def old_demo(base: Path) -> DemoContext:
    """A directory holding what a demo run leaves: its lake (key, checkpoints, raw, curated) and its outputs."""
    ctx = DemoContext(base=base)
    for path, text in [(KEY_FILE, "k" * 64 + "\n"), ("_state/127.0.0.1:9/public.json", "{}"),
                       ("raw/mastodon/statuses/a.jsonl", "{}\n"), ("curated/statuses/dt=2026-12-01/p.parquet", "x")]:
        (ctx.lake_dir / path).parent.mkdir(parents=True, exist_ok=True)
        (ctx.lake_dir / path).write_text(text, encoding="utf-8")
    ctx.out_dir.mkdir()
    ctx.db_path.write_bytes(b"old store")
    return ctx


def files(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file())


def test_fresh_start_keeps_only_the_key(tmp_path: Path) -> None:
    ctx = old_demo(tmp_path)
    fresh_start(ctx)
    assert files(ctx.lake_dir) == [KEY_FILE]
    assert (ctx.lake_dir / KEY_FILE).read_text(encoding="utf-8") == "k" * 64 + "\n"
    assert not ctx.out_dir.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo-lake"]  # nothing of the old run left beside it


def test_ctrl_c_while_fresh_deletes_leaves_no_part_of_the_old_lake(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C arrives while the deletion runs (after it removed one entry): the lake is the new one (the key
    alone) and the old store is gone, and the next run removes what the deletion left."""
    ctx = old_demo(tmp_path)
    real_rmtree = shutil.rmtree

    def interrupted_rmtree(path: Path | str, *args: object, **kwargs: object) -> None:
        if not Path(path).exists():
            return real_rmtree(path, *args, **kwargs)  # type: ignore[arg-type]
        first = sorted(Path(path).iterdir())[0]  # `_state` in the lake: the key and the checkpoints
        real_rmtree(first) if first.is_dir() else first.unlink()
        raise KeyboardInterrupt

    monkeypatch.setattr(demo.shutil, "rmtree", interrupted_rmtree)
    with pytest.raises(KeyboardInterrupt):
        fresh_start(ctx)
    monkeypatch.undo()
    assert files(ctx.lake_dir) == [KEY_FILE]  # was: curated/ and raw/ of the old lake, without its key
    assert (ctx.lake_dir / KEY_FILE).read_text(encoding="utf-8") == "k" * 64 + "\n"
    assert not ctx.db_path.exists()
    demo.remove_leftovers(ctx)  # what main() does before every run
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo-lake"]


def test_a_fresh_start_that_cannot_delete_stops_the_demo_with_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Was: rmtree(ignore_errors=True) went on with whatever it could not delete, and the demo ran on a lake
    holding part of the old one."""
    ctx = old_demo(tmp_path)
    before = files(ctx.lake_dir)

    def refused(src: object, dst: object) -> None:
        raise PermissionError(13, "Permission denied", str(src))

    monkeypatch.setattr(demo.os, "rename", refused)
    monkeypatch.setattr(demo.Path, "rename", lambda self, target: refused(self, target))
    monkeypatch.setattr(demo, "installation_problem", lambda steps=(): None)
    code = demo.main(["--dir", str(tmp_path), "--fresh", "--port", "0"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert "cannot prepare" in err and "Permission denied" in err, err
    assert files(ctx.lake_dir) == before and len(before) == 4  # the old lake, untouched
    assert ctx.db_path.read_bytes() == b"old store"


def test_fresh_start_replaces_a_linked_lake_and_leaves_what_it_links_to(tmp_path: Path) -> None:
    """A demo-lake that is a symbolic link (to a bigger disk): the link goes and a new lake takes its place; the
    directory it pointed to is not deleted through it (as rmtree never did), and nothing is left beside the lake."""
    elsewhere = old_demo(tmp_path / "disk").lake_dir
    ctx = DemoContext(base=tmp_path / "run")
    ctx.base.mkdir()
    ctx.lake_dir.symlink_to(elsewhere, target_is_directory=True)
    fresh_start(ctx)
    assert not ctx.lake_dir.is_symlink() and files(ctx.lake_dir) == [KEY_FILE]
    assert len(files(elsewhere)) == 4
    assert sorted(p.name for p in ctx.base.iterdir()) == ["demo-lake"]


def test_a_key_that_cannot_be_written_leaves_the_old_lake_and_its_key_in_place(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The lake is moved aside, then the key cannot be written into the new one (a full disk): the old lake and
    outputs are moved back. Was: left in ``.demo-lake.deleting``, the only copy of the key with them, which the next
    run's first step (:func:`~fediscope.demo.remove_leftovers`) deleted."""
    ctx = old_demo(tmp_path)
    before = files(ctx.lake_dir)

    def disk_full(path: Path, text: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        (path.parent / ".key.tmp").write_text(text[:3], encoding="utf-8")  # part of it, as a full disk leaves
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(demo, "write_key", disk_full)
    monkeypatch.setattr(demo, "installation_problem", lambda steps=(): None)
    code = demo.main(["--dir", str(tmp_path), "--fresh", "--port", "0"])
    err = capsys.readouterr().err
    assert code == 1 and "No space left on device" in err, err
    demo.remove_leftovers(ctx)  # what the next run does first
    assert files(ctx.lake_dir) == before  # the old lake, its key among them
    assert (ctx.lake_dir / KEY_FILE).read_text(encoding="utf-8") == "k" * 64 + "\n"
    assert ctx.db_path.read_bytes() == b"old store"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo-lake", "demo-out"]


def test_a_lake_that_cannot_be_moved_aside_keeps_its_outputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The outputs are moved aside, then the lake's rename fails: the outputs are moved back, whole or not at all.
    Was: left aside, and deleted by the next run, though the message said nothing had been deleted."""
    ctx = old_demo(tmp_path)
    real_rename = Path.rename

    def lake_refused(self: Path, target: Path) -> Path:
        if self == ctx.lake_dir:
            raise PermissionError(13, "Permission denied", str(self))
        return real_rename(self, target)

    monkeypatch.setattr(demo.Path, "rename", lake_refused)
    with pytest.raises(PermissionError):
        fresh_start(ctx)
    monkeypatch.undo()
    demo.remove_leftovers(ctx)
    assert ctx.db_path.read_bytes() == b"old store"
    assert len(files(ctx.lake_dir)) == 4


def test_a_ctrl_c_raised_before_the_key_is_written_leaves_the_old_lake_in_place(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Ctrl-C that arrived just before the signals were held back, which Python raises only at its next check (here:
    as the key is written): the old lake goes back in place, its key with it. Was: left aside without its key, which
    the next run deleted."""
    ctx = old_demo(tmp_path)
    before = files(ctx.lake_dir)

    def interrupted(path: Path, text: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(demo, "write_key", interrupted)
    with pytest.raises(KeyboardInterrupt):
        fresh_start(ctx)
    monkeypatch.undo()
    demo.remove_leftovers(ctx)
    assert files(ctx.lake_dir) == before
    assert ctx.db_path.read_bytes() == b"old store"


def test_a_leftover_that_cannot_be_deleted_is_named_with_what_to_do(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """What an earlier ``--fresh`` left aside holds a file this user may not delete (rmtree ignores it). Was: the
    rename onto it failed, "Directory not empty: …demo-lake -> …/.demo-lake.deleting; pass --dir with a writable
    directory", though the directory was writable and the leftover was what to delete."""
    ctx = old_demo(tmp_path)
    before = files(ctx.lake_dir)
    leftover = tmp_path / ".demo-lake.deleting"
    (leftover / "curated").mkdir(parents=True)
    (leftover / "curated" / "p.parquet").write_text("x", encoding="utf-8")
    real_rmtree = shutil.rmtree

    def undeletable(path: Path | str, *args: object, **kwargs: object) -> None:
        if Path(path) != leftover:
            real_rmtree(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(demo.shutil, "rmtree", undeletable)
    monkeypatch.setattr(demo, "installation_problem", lambda steps=(): None)
    code = demo.main(["--dir", str(tmp_path), "--fresh", "--port", "0"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1, err
    assert str(leftover) in err and "delete it, then run again" in err and "--dir" not in err, err
    assert files(ctx.lake_dir) == before and ctx.db_path.read_bytes() == b"old store"
