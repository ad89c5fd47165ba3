"""A raw batch damaged since landing (a line cut short) that an erasure or a pending opt-out has to read: one
error naming the file and the line, saying what to do, and a non-zero exit; it was a ``json`` traceback.
"""

from __future__ import annotations

import gzip

import pytest
from gdpr_lake import SUBJECT, files_holding

from fediscope.lake.batches import raw_batch_files


def _cut_a_batch_holding(env, needle: str) -> str:
    path = next(p for p in raw_batch_files(env.lake) if not p.endswith(".gz")
                and files_holding([env.lake_dir / p], [needle]))
    data = (env.lake_dir / path).read_bytes()
    first_line = data.index(b"\n") + 1
    (env.lake_dir / path).write_bytes(data[:first_line // 2] + b"\n" + data[first_line:])  # line 1 cut, rest kept
    return path


def test_an_erasure_meeting_a_damaged_batch_names_it_in_one_line(landed, run_cli) -> None:
    env = landed
    path = _cut_a_batch_holding(env, env.key(SUBJECT))

    result = run_cli("gdpr", "erase", "--account", SUBJECT, "--yes")

    assert result.code == 1, result
    assert "Traceback" not in result.err and result.err.count("\n") == 1, result.err
    assert f"the raw file {path} is damaged: line 1 is not a JSON record" in result.err
    assert "restore it from a copy, or move it out of the lake, and run again" in result.err


def test_a_pending_opt_out_meeting_a_damaged_batch_stops_process_in_one_line(landed, run_cli) -> None:
    from fediscope.gdpr.opt_outs import note_opt_outs

    env = landed
    path = _cut_a_batch_holding(env, env.key(SUBJECT))
    note_opt_outs(env.lake, {env.key(SUBJECT)}, source="test")

    result = run_cli("process")

    assert result.code == 1, result
    assert "Traceback" not in result.err, result.err
    assert f"the raw file {path} is damaged: line 1 is not a JSON record" in result.err, result.err


def _truncated_gzip_of_a_batch_holding(env, needle: str) -> str:
    """A raw batch holding ``needle`` as a ``.jsonl.gz`` cut short (a copy that stopped part-way): its records are
    there in part, the gzip stream has no end."""
    path = next(p for p in raw_batch_files(env.lake) if not p.endswith(".gz")
                and files_holding([env.lake_dir / p], [needle]))
    compressed = gzip.compress((env.lake_dir / path).read_bytes())
    (env.lake_dir / path).unlink()
    (env.lake_dir / f"{path}.gz").write_bytes(compressed[:len(compressed) // 2])
    return f"{path}.gz"


@pytest.mark.parametrize("command", [["gdpr", "erase", "--account", SUBJECT, "--yes"],
                                     ["gdpr", "export", "--account", SUBJECT]])
def test_a_truncated_gzip_batch_is_named_as_damaged_not_taken_for_a_ctrl_c(landed, run_cli, command) -> None:
    """Was: ``gzip`` raised EOFError, which click takes for a Ctrl-D at a prompt: "fediscope: aborted", exit 130,
    as if the user had stopped it, and nothing said which file or what to do (a damaged gzip header or stream
    gave a traceback)."""
    env = landed
    path = _truncated_gzip_of_a_batch_holding(env, env.key(SUBJECT))

    result = run_cli(*command)

    assert result.code == 1, result
    assert "Traceback" not in result.err and "aborted" not in result.err, result.err
    assert f"the raw file {path} is damaged: it is not a whole gzip file" in result.err, result.err
    assert "restore it from a copy, or move it out of the lake, and run again" in result.err
