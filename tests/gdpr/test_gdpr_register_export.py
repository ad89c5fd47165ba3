"""The processing register reflects the configuration; the access export holds what the erasure would remove."""

from __future__ import annotations

import io
import json
import os
import stat
import sys

import pytest
from dev_stdout import run_redirected
from gdpr_lake import LOCAL, SUBJECT

from fediscope.gdpr.erase import erase_account
from fediscope.gdpr.export import export_account
from fediscope.gdpr.register import build_register
from fediscope.lake.backend import open_lake
from fediscope.privacy import ACCOUNT_DROPPED, ACCOUNT_PSEUDONYMISED, REGISTER_PURPOSES


def test_register_is_generated_from_policy_and_settings(env) -> None:
    settings = env.settings.replace(retention_raw_days=45, retention_curated_days=0,
                                    store="mysql+pymysql://writer:s3cret-db-pass@db.example/fediscope",
                                    lake="webhdfs://namenode.example:9870/lake", engine="spark",
                                    instances=("mastodon.social",))
    text = build_register(settings)
    assert "Raw lake (and quarantined items): 45 days after collection" in text
    assert "Curated tables: kept until deleted by hand" in text
    assert "MySQL/MariaDB at db.example" in text and "HDFS (WebHDFS) at namenode.example" in text
    assert "Spark master" in text and "`mastodon.social`" in text
    assert "Legal basis (Art. 6 GDPR): _(to fill in)_" in text
    for field in ACCOUNT_DROPPED + ACCOUNT_PSEUDONYMISED:
        assert f"`{field}`" in text
    for purpose in REGISTER_PURPOSES.values():
        assert purpose in text
    assert "Privacy policy at landing: **on**" in text
    assert "Statuses — added at landing: origin_ref: pseudonym of the status's home instance" in text
    assert "Pseudonym key (`FEDISCOPE_PSEUDONYM_KEY`): configured" in text
    assert "s3cret-db-pass" not in text and settings.pseudonym_key not in text and "writer" not in text


def test_register_dates_curated_retention_by_the_status_and_names_what_it_keeps(env) -> None:
    """Was "Curated tables: 30 days after collection": retention deletes the statuses' and hashtags' dt= partitions,
    the days the statuses were posted (a backfill of older ones goes at the next run), and the account snapshots not
    fetched within the same days (were kept for ever, "not dated"); the instance-level tables are kept."""
    text = build_register(env.settings.replace(retention_curated_days=30))
    assert ("Curated statuses and hashtags: 30 days after the status was posted (not collected); the latest snapshot "
            "of each account: 30 days after the account was last fetched (an account not seen since is forgotten); "
            "the other curated tables (instance activity, trending tags and peers, which are per instance; deletions, "
            "the ids of deleted statuses) are not dated and are kept until deleted by hand. Curation applies the same "
            "cutoff: it writes no status or account snapshot older than it, also when it rebuilds the tables or "
            "curates old raw files late") in text
    assert "after collection" not in text.split("Curated", 1)[1].split("\n", 1)[0]


def test_register_flags_a_missing_key_and_privacy_off(env) -> None:
    assert "**NOT configured" in build_register(env.settings.replace(pseudonym_key=None))
    assert "**OFF — data is kept as collected**" in build_register(env.settings.replace(privacy=False))


def test_register_names_the_instances_collected_and_where_to_configure_them(landed, tmp_path) -> None:
    """Was "Instances configured: –" beside a lake collected with `collect --instance` alone: the register named no
    instance the data came from, nor where one is configured."""
    bare = build_register(landed.settings, landed.lake)
    assert "- Instances configured: none (name them under `[[sources]]` in fediscope.toml, or in " \
           "`FEDISCOPE_INSTANCES`)\n" in bare
    assert f"- Instances collected (the lake holds records from them): `{LOCAL}`\n" in bare
    configured = build_register(landed.settings.replace(instances=("http://127.0.0.1:8765", "mastodon.social")),
                                open_lake(str(tmp_path / "new-lake")))
    assert "- Instances configured: `127.0.0.1:8765`, `mastodon.social`\n" in configured  # by domain, as collected
    assert "- Instances collected (the lake holds records from them): none yet\n" in configured
    assert "Instances collected" not in build_register(landed.settings)  # no lake read, nothing said of it


def test_register_counts_erasures_from_the_audit_log(landed) -> None:
    assert "Erasures performed (audit log `_audit/erasures.jsonl`): 0" in build_register(landed.settings, landed.lake)
    erase_account(landed.settings, SUBJECT)
    assert "Erasures performed (audit log `_audit/erasures.jsonl`): 1" in build_register(landed.settings, landed.lake)


def test_export_holds_what_erasure_removes(landed) -> None:
    key = landed.key(SUBJECT)
    exported = export_account(landed.settings, SUBJECT)
    json.dumps(exported, default=str)  # the CLI writes it as JSON
    assert exported["subject"] == SUBJECT and exported["account_key"] == key and not exported["suppressed"]
    records = exported["raw"]["records"]
    assert records and {r["entity"] for r in records} == {"statuses", "accounts"}
    for r in records:
        data = r["record"]["data"]
        owner = data.get("acct") or data["account"]["acct"]
        assert owner == key or data["reblog"]["account"]["acct"] == key
    relations = {rel for ref in exported["raw"]["references"] for rel in ref["relation"]}
    assert {"mentions", "replies_to"} <= relations
    assert all("record" not in ref for ref in exported["raw"]["references"])  # others' content is not exported
    assert exported["pseudonyms"]["account_ids"] and exported["pseudonyms"]["status_links"]

    report = erase_account(landed.settings, SUBJECT)
    assert report.raw["records_removed"] == len(records)
    assert report.raw["records_scrubbed"] == len(exported["raw"]["references"])
    after = export_account(landed.settings, SUBJECT)
    assert after["suppressed"] and not after["raw"]["records"] and not after["raw"]["references"]


def test_cli_erase_export_register_retention(landed, run_cli, tmp_path) -> None:
    key = landed.key(SUBJECT)
    out = tmp_path / "export.json"
    result = run_cli("gdpr", "export", "--account", SUBJECT, "--out", str(out))
    assert result.code == 0 and json.loads(out.read_text())["account_key"] == key

    result = run_cli("gdpr", "erase", "--account", SUBJECT, "--yes", "--json")
    assert result.code == 0
    report = json.loads(result.out)
    assert report["account_key"] == key and report["raw"]["records_removed"] > 0
    result = run_cli("gdpr", "erase", "--account", SUBJECT, "--yes")
    assert result.code == 0 and result.out.startswith(f"erased account {key}; raw: nothing")
    assert "mastodonpy_test_2" not in result.out + result.err

    result = run_cli("gdpr", "register", "--out", str(tmp_path / "register.md"))
    written = (tmp_path / "register.md").read_text()
    assert result.code == 0 and "Erasures performed" in written and f"from them): `{LOCAL}`" in written

    result = run_cli("gdpr", "retention", "--dry-run")
    assert result.code == 0 and "would delete nothing" in result.out
    assert "(raw 90 days, curated kept forever)" in result.out  # the defaults; 0 days means kept forever

    result = run_cli("gdpr", "erase", "--account", "not-an-account")
    assert result.code == 2 and "ACCT@INSTANCE" in result.err and "Traceback" not in result.err


@pytest.mark.parametrize("command", [("export", "--account", SUBJECT), ("register",)])
def test_an_out_file_that_cannot_be_written_is_one_clear_line(landed, run_cli, tmp_path, command) -> None:
    (tmp_path / "a-file").write_text("in the way")
    result = run_cli("gdpr", *command, "--out", str(tmp_path / "a-file" / "out.txt"))
    assert result.code == 2
    assert result.err.startswith("fediscope: error: cannot write ") and "--out" in result.err
    assert "Traceback" not in result.err and len(result.err.strip().splitlines()) == 1


def test_export_and_erasure_do_not_create_a_missing_sqlite_store(landed) -> None:
    assert not landed.db.exists()
    exported = export_account(landed.settings, SUBJECT)  # every metric: the store would be read
    assert exported["store"] == {} and exported["raw"]["records"]
    report = erase_account(landed.settings, SUBJECT)
    assert report.store == {} and report.raw["records_removed"]
    assert not landed.db.exists() and not landed.db.parent.joinpath("store.db-wal").exists()



def test_erase_and_export_refuse_a_lake_that_does_not_exist(landed, run_cli, tmp_path, monkeypatch) -> None:
    """Was: a mistyped lake path "erased" from a new, empty lake it created (exit 0, "added to the suppression
    list", the store's rows deleted, the real lake untouched and the account not suppressed there), and the export
    answered "nothing held"."""
    from sqlalchemy import create_engine, text

    engine = create_engine(landed.settings.store)
    with engine.begin() as conn:  # a store row of the account, as the metrics leave one
        conn.execute(text("CREATE TABLE kept (account_key TEXT)"))
        conn.execute(text("INSERT INTO kept VALUES (:k)"), {"k": landed.key(SUBJECT)})
    engine.dispose()
    store_before = landed.db.read_bytes()
    missing = tmp_path / "lak"
    monkeypatch.setenv("FEDISCOPE_LAKE", str(missing))
    for command in (("erase", "--yes"), ("export",)):
        result = run_cli("gdpr", *command, "--account", SUBJECT)
        assert result.code == 1, result
        assert result.err.startswith(f"fediscope: error: no lake at {missing}: it does not exist; set FEDISCOPE_LAKE")
        assert "Traceback" not in result.err and not result.out
    assert "nothing was erased" in run_cli("gdpr", "erase", "--yes", "--account", SUBJECT).err
    assert not missing.exists() and landed.db.read_bytes() == store_before


class TerminalInput(io.StringIO):
    """Standard input that is a terminal, with what the user types."""

    def isatty(self) -> bool:
        return True


def test_cli_erase_asks_on_stderr_and_declined_erases_nothing(landed, run_cli, monkeypatch) -> None:
    """On a terminal the question goes to stderr (stdout is the report, JSON with --json) and "no" is a plain
    refusal (exit 1), not an interruption (130): with --json, stdout is then the error document alone."""
    monkeypatch.setattr(sys, "stdin", TerminalInput("n\n"))
    result = run_cli("gdpr", "erase", "--account", SUBJECT, "--json")
    assert result.code == 1
    assert json.loads(result.out)["error"]["message"] == "not erased: declined"
    assert "This cannot be undone [y/N]" in result.err and "not erased: declined" in result.err
    assert f"Erase {SUBJECT} from the lake and the store?" in result.err  # was "Erase this account …"
    assert not export_account(landed.settings, SUBJECT)["suppressed"]

    monkeypatch.setattr(sys, "stdin", TerminalInput("y\n"))
    result = run_cli("gdpr", "erase", "--account", SUBJECT, "--json")
    assert result.code == 0 and "This cannot be undone" in result.err
    assert json.loads(result.out)["raw"]["records_removed"] > 0
    assert export_account(landed.settings, SUBJECT)["suppressed"]


def test_cli_erase_without_a_terminal_needs_yes(landed, run_cli, monkeypatch) -> None:
    """Was: without a terminal (a script, a scheduled task) the erasure ran unasked, while `store drop` and `lake
    unlock` ask for --yes there. Refused with one line naming --yes (exit 2), touching nothing; --yes erases."""
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))  # not a terminal, whatever it holds
    for extra in ((), ("--json",)):
        result = run_cli("gdpr", "erase", "--account", SUBJECT, *extra)
        assert result.code == 2, result
        assert result.err == ("fediscope: error: not erased: there is no terminal to confirm on; add --yes to erase "
                              "the account\n")
        assert "This cannot be undone" not in result.err
        assert (json.loads(result.out)["error"]["message"].endswith("add --yes to erase the account") if extra
                else not result.out)
    assert not landed.lake.exists("_state/suppressed.json") and not landed.lake.exists("_audit/erasures.jsonl")
    assert not export_account(landed.settings, SUBJECT)["suppressed"]

    result = run_cli("gdpr", "erase", "--account", SUBJECT, "--yes", "--json")
    assert result.code == 0 and "This cannot be undone" not in result.err
    assert json.loads(result.out)["raw"]["records_removed"] > 0
    assert export_account(landed.settings, SUBJECT)["suppressed"]


def _batch_of(landed, wanted) -> str:
    """A raw batch of the recorded statuses ``wanted`` picks, landed through the privacy policy; its lake path."""
    from gdpr_lake import LOCAL, STATUS_FILES, recorded

    from fediscope.lake.batches import write_batch
    from fediscope.lake.layout import envelope

    statuses = [landed.policy.apply("statuses", json.loads(json.dumps(item)), instance)
                for instance, item in recorded(STATUS_FILES, "statuses") if wanted(item)]
    assert statuses
    return write_batch(landed.lake, "statuses", LOCAL,
                       [envelope(LOCAL, "/api/v1/timelines/public", status) for status in statuses])


def _theirs(item) -> bool:
    return item["account"]["acct"] == SUBJECT.split("@")[0] and not item.get("reblog")


def _boost_of_theirs(item) -> bool:
    return item["account"]["acct"] != SUBJECT.split("@")[0] and (item.get("reblog") or {}).get("account", {}).get(
        "acct") == SUBJECT.split("@")[0]


def test_a_rebuild_after_an_erasure_that_emptied_raw_files_needs_no_force(landed) -> None:
    """Was: ``fediscope process --recurate`` after an erasure that deleted a raw file (every record in it the
    account's) was refused until --force, "dropping the curated rows" made from a file whose rows the erasure had
    already removed. The deleted file leaves the manifest; a file of someone else's boosts of the account stays
    listed (the booster's account snapshot is still curated, and a rebuild would drop it), as one retention
    deleted does."""
    from fediscope.engine.manifest import load_manifest
    from fediscope.engine.process import run_process
    from fediscope.errors import ConfigError

    only_theirs, boosts = _batch_of(landed, _theirs), _batch_of(landed, _boost_of_theirs)
    run_process(landed.settings, progress=False)
    assert {only_theirs, boosts} <= set(load_manifest(landed.lake).files)
    report = erase_account(landed.settings, SUBJECT)
    assert report.raw["files_deleted"] >= 2
    assert not landed.lake.exists(only_theirs) and not landed.lake.exists(boosts)
    listed = load_manifest(landed.lake).files
    assert only_theirs not in listed and boosts in listed
    with pytest.raises(ConfigError, match=r"1 raw file\(s\) curated before are no longer in the lake.*--force"):
        run_process(landed.settings, progress=False, recurate=True)
    forced = run_process(landed.settings, progress=False, recurate=True, allow_missing=True)
    assert forced.curate["rebuilt"] and boosts not in load_manifest(landed.lake).files


def test_an_erased_accounts_boosts_of_another_persons_status_stay_listed(landed) -> None:
    """Review of 666f637: a file of the erased account's own boosts of someone else's status left the manifest, yet
    curation keeps the boosted status and its author's snapshot from it, and a rebuild without --force dropped
    them. Here admin boosted the subject's status, and admin is erased."""
    from gdpr_lake import OTHERS

    from fediscope.engine.manifest import load_manifest
    from fediscope.engine.process import run_process
    from fediscope.errors import ConfigError

    booster = OTHERS[0].split("@")[0]
    boosts = _batch_of(landed, lambda item: item["account"]["acct"] == booster and _boost_of_theirs(item))
    run_process(landed.settings, progress=False)
    erase_account(landed.settings, OTHERS[0])
    assert not landed.lake.exists(boosts) and boosts in load_manifest(landed.lake).files
    with pytest.raises(ConfigError, match=r"emptied by an erasure that left other people's rows curated.*--force"):
        run_process(landed.settings, progress=False, recurate=True)


def test_an_opt_out_erasure_during_process_takes_the_files_it_emptied_off_the_manifest(landed) -> None:
    """Was (review of ce457e5): curation loaded the manifest before applying opt-outs and saved that copy, which
    put the deleted file back, so a rebuild still asked for --force."""
    from fediscope.engine.manifest import load_manifest
    from fediscope.engine.process import run_process
    from fediscope.gdpr.opt_outs import note_opt_outs

    only_theirs = _batch_of(landed, _theirs)
    run_process(landed.settings, progress=False)
    note_opt_outs(landed.lake, [landed.key(SUBJECT)], "collect")
    _batch_of(landed, lambda item: not _theirs(item) and not _boost_of_theirs(item))  # something new to curate
    assert run_process(landed.settings, progress=False).curate["opted_out_erased"] == 1
    assert not landed.lake.exists(only_theirs) and only_theirs not in load_manifest(landed.lake).files
    assert run_process(landed.settings, progress=False, recurate=True).curate["rebuilt"]


@pytest.mark.parametrize(("written", "expected"), [
    ("@Alice@Mastodon.Social", ("alice", "mastodon.social")),
    ("https://mastodon.social/@Alice", ("alice", "mastodon.social")),  # was: "not an instance address: 'Alice'"
    ("http://127.0.0.1:8765/@farid_cedar/", ("farid_cedar", "127.0.0.1:8765")),
    ("https://mastodon.social/@bob@other.example", ("bob", "other.example")),  # a remote account seen there
    ("mastodon.social/@Alice", ("alice", "mastodon.social")),  # was: user "mastodon.social/", erasing nothing
])
def test_an_account_is_given_as_a_handle_or_as_its_profile_link(written: str, expected: tuple[str, str]) -> None:
    from fediscope.gdpr.subject import parse_account

    assert parse_account(written) == expected


@pytest.mark.parametrize(("written", "expected"), [
    ("https://host/@alice", ("alice", "host")),
    ("https://host:443/@alice", ("alice", "host")),
    ("host:443/@alice", ("alice", "host")),  # no scheme: https
    ("http://host/@alice", ("alice", "host")),
    ("http://host:80/@alice", ("alice", "host")),  # was: host:80, another account
    ("HTTP://Host:80/@Alice/", ("alice", "host")),  # was: host:80
    ("http://host:443/@alice", ("alice", "host:443")),  # https's port over http: another server (was: host)
    ("https://host:80/@alice", ("alice", "host:80")),
    ("host:80/@alice", ("alice", "host:80")),
])
def test_a_profile_link_names_the_server_as_an_instance_address_does(written: str, expected: tuple[str, str]) -> None:
    """The link's host is read with the link's own scheme, as ``instance_domain`` reads an instance address: the
    scheme's port names the same server (the same account key), any other port another one."""
    from fediscope.config import instance_domain
    from fediscope.gdpr.subject import parse_account

    assert parse_account(written) == expected
    assert expected[1] == instance_domain(written.rsplit("/@", 1)[0])  # the lake's and the token's domain too


@pytest.mark.parametrize("written", ["https://mastodon.social/users/alice", "https://mastodon.social/@alice/1170",
                                     "https://bob@mastodon.social/@alice", "mastodon.social/alice@x.social"])
def test_another_link_as_an_account_says_what_is_expected(written: str) -> None:
    from fediscope.errors import ConfigError
    from fediscope.gdpr.subject import parse_account

    with pytest.raises(ConfigError, match=r"a link, but not a profile link \(https://host/@user\); expected ACCT"):
        parse_account(written)


def test_a_domain_written_with_the_root_dot_is_the_same_account(landed, run_cli) -> None:
    """Was: ``alice@mastodon.social.`` (the DNS root's dot, as a copied FQDN has it) was another key: the export
    answered that nothing was held, and the erasure reported success, removed nothing and suppressed a key no
    landing ever makes."""
    user, _, domain = SUBJECT.partition("@")
    host, _, port = domain.partition(":")
    written = f"{user}@{host.upper()}.:{port}"
    exported = json.loads(run_cli("gdpr", "export", "--account", written).out)
    assert exported["account_key"] == landed.key(SUBJECT) and exported["raw"]["records"]
    result = run_cli("gdpr", "erase", "--account", written, "--yes", "--json")
    assert result.code == 0 and json.loads(result.out)["raw"]["records_removed"] > 0
    assert export_account(landed.settings, SUBJECT)["suppressed"]


@pytest.mark.parametrize("written", ["mailto:alice@mastodon.social", "acct:alice@mastodon.social",
                                     "<alice@mastodon.social>", "alice!@mastodon.social"])
def test_an_account_that_is_no_user_name_is_refused_touching_nothing(landed, run_cli, written) -> None:
    """Was: ``mailto:alice@mastodon.social`` "erased" the user ``mailto:alice`` (exit 0, nothing found, a key
    nobody has put on the suppression list)."""
    for command in (("erase", "--yes"), ("export",)):
        result = run_cli("gdpr", *command, "--account", written)
        assert result.code == 2 and not result.out, result
        assert result.err.startswith(f"fediscope: error: --account {written!r}: ")
        assert "is not a user name" in result.err
        assert "Traceback" not in result.err and len(result.err.strip().splitlines()) == 1
    assert not landed.lake.exists("_state/suppressed.json") and not landed.lake.exists("_audit/erasures.jsonl")

@pytest.fixture
def open_umask():
    """The umask most systems start with (022): what it gives a new file, everybody may read."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_an_export_file_is_readable_by_its_owner_alone(landed, run_cli, tmp_path, open_umask) -> None:
    """Was ``-rw-r--r--`` under the usual umask: one person's records in full, readable by every user of the machine.
    A file already there (with another mode) is replaced by one of the same mode."""
    out = tmp_path / "export.json"
    for _ in range(2):
        assert run_cli("gdpr", "export", "--account", SUBJECT, "--out", str(out)).code == 0
        assert stat.S_IMODE(out.stat().st_mode) == 0o600 and json.loads(out.read_text())["account_key"]
        out.chmod(0o644)


def test_an_export_replaces_a_symbolic_link_at_out_instead_of_writing_through_it(landed, run_cli, tmp_path) -> None:
    """Was: written through the link, into whatever file it names (a link another user left in a shared directory
    such as /tmp received the export, with the mode that file had). The register is written the same way."""
    for command, name in ((("export", "--account", SUBJECT), "export.json"), (("register",), "register.md")):
        target = tmp_path / f"{name}.target"
        target.write_text("not yours\n")
        link = tmp_path / name
        link.symlink_to(target)
        assert run_cli("gdpr", *command, "--out", str(link)).code == 0
        assert target.read_text() == "not yours\n"
        assert not link.is_symlink() and link.read_text().strip()


@pytest.mark.usefixtures("run_cli")  # its environment (lake, store, key) and folder, for the child
def test_out_dev_stdout_redirected_to_a_file_lands_in_the_file(landed, tmp_path) -> None:
    """``fediscope gdpr export … --out /dev/stdout > file`` (and ``register``): the JSON in ``file``, whose mode is
    the shell's (0600 is for a file fediscope makes). Was: a permission error on ``/dev`` (exit 2; as root,
    ``/dev/stdout`` itself replaced by the person's data)."""
    redirected = tmp_path / "redirected.json"
    result = run_redirected(redirected, "gdpr", "export", "--account", SUBJECT, "--out", "/dev/stdout")
    assert result.returncode == 0, result.stderr
    assert json.loads(redirected.read_text())["account_key"] == landed.key(SUBJECT)
    result = run_redirected(tmp_path / "register.md", "gdpr", "register", "--out", "/dev/stdout")
    assert result.returncode == 0, result.stderr
    assert "Erasures performed" in (tmp_path / "register.md").read_text()


def test_out_naming_a_descriptor_writes_through_it(landed, run_cli, tmp_path) -> None:
    """``--out /proc/self/fd/N`` of a file opened here: written through that descriptor, the file not replaced."""
    target = tmp_path / "opened.json"
    with target.open("wb") as file:
        inode = os.fstat(file.fileno()).st_ino
        result = run_cli("gdpr", "export", "--account", SUBJECT, "--out", f"/proc/self/fd/{file.fileno()}")
    assert result.code == 0, result.err
    assert json.loads(target.read_text())["account_key"] == landed.key(SUBJECT)
    assert target.stat().st_ino == inode
