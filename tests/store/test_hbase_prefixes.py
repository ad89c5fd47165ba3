"""Two environments on one HBase server (``FEDISCOPE_HBASE_TABLE_PREFIX``, infra/hbase/README.md): a prefix that
starts with another's followed by ``_`` (``fediscope`` and ``fediscope_staging``) is refused at open, whichever
environment came first, and so are the listings of a store that meets such a clash later: neither takes the
other's tables for its own. Was: staging's ``fediscope_staging_languages`` read on ``fediscope`` as the leftover
table of a metric ``staging_languages``, which ``doctor`` and ``gdpr erase`` told the operator to drop, and
``fediscope store drop staging_languages`` deleted staging's tables. Run on the Thrift double and, when
``FEDISCOPE_TEST_HBASE`` is set, on a real HBase (its tables deleted afterwards), as the contract tests are."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import happybase
import pytest
from cli_run import clean_env, run
from doubles.stores import _drop_hbase_tables
from metric_header import metric

from fediscope.errors import PrefixClashError
from fediscope.store import hbase_schema as layout
from fediscope.store.hbase import HBaseStore

LANGUAGES = metric("languages", "language", rank="toots DESC")
ROWS = [{"language": "fr", "toots": 3}, {"language": "en", "toots": 7}]

SERVERS = [pytest.param("hbase", id="hbase")]
if os.environ.get("FEDISCOPE_TEST_HBASE"):
    SERVERS.append(pytest.param("hbase-real", id="hbase-real"))


@pytest.fixture(params=SERVERS)
def server(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """(the server's URL, a throwaway prefix ``base``); every table starting with ``base`` is deleted afterwards
    on a real HBase (the double lives for the session; other tests' prefixes never start with this one)."""
    base = f"t{uuid.uuid4().hex[:10]}"
    if request.param == "hbase":
        yield request.getfixturevalue("hbase_double").url, base
        return
    address = os.environ["FEDISCOPE_TEST_HBASE"]
    try:
        yield f"hbase://{address}", base
    finally:
        host, _, port = address.partition(":")
        _drop_hbase_tables(host, int(port or 9090), base)


def _tables(url: str, start: str) -> set[str]:
    host, _, port = url.removeprefix("hbase://").partition(":")
    connection = happybase.Connection(host, int(port))
    try:
        return {name.decode() for name in connection.tables() if name.decode().startswith(start)}
    finally:
        connection.close()


def _make_by_hand(url: str, prefix: str) -> None:
    """An environment's tables made as ``hbase shell -n create_tables.hbase`` (or an older fediscope) makes them:
    no store opened, nothing checked."""
    host, _, port = url.removeprefix("hbase://").partition(":")
    connection = happybase.Connection(host, int(port))
    try:
        for name, families in layout.all_tables(prefix, [LANGUAGES]).items():
            connection.create_table(name, families)
    finally:
        connection.close()


def _assert_clash(error: PrefixClashError, prefix: str, other: str) -> None:
    message = str(error)
    assert f"the table prefix {prefix!r} (FEDISCOPE_HBASE_TABLE_PREFIX) clashes with" in message, message
    assert f"{other!r} (catalog table {other}-catalog)" in message, message
    assert "\n" not in message and error.exit_code == 2


@pytest.mark.parametrize("read_only", [False, True], ids=["writer", "reader"])
def test_a_prefix_extending_an_existing_environments_is_refused(server: tuple[str, str], read_only: bool) -> None:
    url, base = server
    staging = f"{base}_staging"
    prod = HBaseStore(url, table_prefix=base)
    prod.write(LANGUAGES, ROWS)
    with pytest.raises(PrefixClashError) as caught:
        HBaseStore(url, table_prefix=staging, read_only=read_only)
    _assert_clash(caught.value, staging, base)
    assert f"such as '{base}-staging' for '{staging}'" in str(caught.value)
    assert _tables(url, staging) == set()  # refused before its catalog was made
    # the metric named as staging's tables would be (metric names hold '_') is prod's alone
    prod.write(metric("staging_languages", "language"), ROWS)
    assert prod.unlisted_metrics() == {} and prod.stored_metrics() == {"languages": 2, "staging_languages": 2}
    prod.close()


@pytest.mark.parametrize("read_only", [False, True], ids=["writer", "reader"])
def test_a_prefix_an_existing_environments_extends_is_refused(server: tuple[str, str], read_only: bool) -> None:
    """The new environment is the shorter one: production set up after staging (``fediscope_staging`` first)."""
    url, base = server
    staging = HBaseStore(url, table_prefix=f"{base}_staging")
    staging.write(LANGUAGES, ROWS)
    with pytest.raises(PrefixClashError) as caught:
        HBaseStore(url, table_prefix=base, read_only=read_only)
    _assert_clash(caught.value, base, f"{base}_staging")
    assert _tables(url, base) == _tables(url, f"{base}_staging")  # no catalog of base made
    assert [row["language"] for row in staging.top(LANGUAGES, 2)] == ["en", "fr"]
    staging.close()


def test_prefixes_that_do_not_extend_each_other_with_an_underscore_share_a_server(server: tuple[str, str]) -> None:
    url, base = server
    prod = HBaseStore(url, table_prefix=base)
    prod.write(LANGUAGES, ROWS)
    others = [f"{base}-staging", f"{base}.v2", f"{base}x"]
    for prefix in others:
        store = HBaseStore(url, table_prefix=prefix)
        store.write(LANGUAGES, ROWS)
        assert store.unlisted_metrics() == {}
        store.close()
    assert prod.unlisted_metrics() == {} and prod.stored_metrics() == {"languages": 2}
    assert _tables(url, base) == {name for prefix in [base, *others]
                                  for name in layout.all_tables(prefix, [LANGUAGES])}
    prod.close()


@pytest.mark.parametrize("other", ["{base}_", "{base}__v2"], ids=["trailing-underscore", "double-underscore"])
@pytest.mark.parametrize("first", ["stem", "other"])
def test_a_continuation_no_metric_name_starts_with_shares_a_server(server: tuple[str, str], other: str,
                                                                   first: str) -> None:
    """``fediscope_`` next to ``fediscope`` was refused as a clash, though no table of one can be named as the
    other's: ``fediscope__languages`` would be ``fediscope``'s metric ``_languages``, and a metric name starts with a
    letter. Both open, whichever came first, and each lists, reads and drops its own tables only."""
    url, base = server
    other = other.format(base=base)
    order = [base, other] if first == "stem" else [other, base]
    stores = {prefix: HBaseStore(url, table_prefix=prefix) for prefix in order}
    for prefix, store in stores.items():
        store.write(LANGUAGES, ROWS if prefix == base else ROWS[:1])
    for prefix, store in stores.items():
        assert store.unlisted_metrics() == {} and store.missing_tables() == {}
        assert store.stored_metrics() == {"languages": 2 if prefix == base else 1}
    stores[base].drop("languages")
    assert [row["language"] for row in stores[other].top(LANGUAGES, 2)] == ["fr"]
    assert _tables(url, other) == set(layout.all_tables(other, [LANGUAGES]))
    for store in stores.values():
        store.close()


def test_a_clashing_environment_made_since_the_store_opened_is_not_taken_for_leftovers(
        server: tuple[str, str]) -> None:
    """A reader opened before any catalog of its prefix, or tables made with the shell script: the listings
    refuse too, so no leftover is named and no drop deletes the other environment's tables."""
    url, base = server
    staging = f"{base}_staging"
    reader = HBaseStore(url, table_prefix=base, read_only=True)  # no catalog of base: staging may open
    staging_store = HBaseStore(url, table_prefix=staging)
    staging_store.write(LANGUAGES, ROWS)
    with pytest.raises(PrefixClashError) as caught:
        reader.unlisted_metrics()
    _assert_clash(caught.value, base, staging)
    reader.close()
    staging_store.close()

    other, prod = f"{base}b", HBaseStore(url, table_prefix=f"{base}b")
    prod.write(LANGUAGES, ROWS)
    _make_by_hand(url, f"{other}_staging")
    made = _tables(url, f"{other}_staging")
    for call in (prod.unlisted_metrics, lambda: prod.drop("staging_languages"), prod.missing_tables):
        with pytest.raises(PrefixClashError):
            call()
    assert _tables(url, f"{other}_staging") == made == set(layout.all_tables(f"{other}_staging", [LANGUAGES]))
    prod.close()


def test_store_drop_and_doctor_refuse_the_clash_and_name_no_leftover(server: tuple[str, str], tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """The commands an operator runs on production next to a staging environment an older fediscope made."""
    from fediscope.config import load_settings
    from fediscope.doctor import FAIL, check_store

    url, base = server
    staging = f"{base}_staging"
    staging_store = HBaseStore(url, table_prefix=staging)
    staging_store.write(LANGUAGES, ROWS)
    clean_env(tmp_path, monkeypatch, FEDISCOPE_STORE=url, FEDISCOPE_HBASE_TABLE_PREFIX=base,
              FEDISCOPE_LAKE=str(tmp_path / "lake"))

    code, out, err = run(capsys, "store", "drop", "staging_languages", "--yes")
    assert (code, out) == (2, ""), (out, err)
    assert "clashes with" in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert [row["language"] for row in staging_store.top(LANGUAGES, 2)] == ["en", "fr"]  # staging's tables stay
    assert _tables(url, base) == set(layout.all_tables(staging, [LANGUAGES]))

    check = check_store(load_settings())
    assert check.status == FAIL, check
    assert f"the table prefix {base!r} (FEDISCOPE_HBASE_TABLE_PREFIX) clashes with" in check.detail, check
    assert check.fix.startswith("set FEDISCOPE_HBASE_TABLE_PREFIX to a prefix that neither"), check
    assert "store drop" not in check.detail + check.fix
    staging_store.close()


def test_doctors_fix_for_a_clash_names_where_the_prefix_was_set(server: tuple[str, str], tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: the fix always said ``set FEDISCOPE_HBASE_TABLE_PREFIX to …``, also for a prefix set in fediscope.toml
    or in the Airflow Variable ``fediscope_settings`` (whose ``store_health`` task fails with the doctor's fix),
    where that variable does not win: the Variable overrides the workers' environment. It names where the prefix
    was set, as every other fix of the doctor names its setting."""
    from fediscope.config import load_settings
    from fediscope.doctor import FAIL, check_store

    url, base = server
    staging_store = HBaseStore(url, table_prefix=f"{base}_staging")
    staging_store.write(LANGUAGES, ROWS)
    clean_env(tmp_path, monkeypatch, FEDISCOPE_STORE=url, FEDISCOPE_LAKE=str(tmp_path / "lake"))
    (tmp_path / "fediscope.toml").write_text(f'[fediscope]\nhbase_table_prefix = "{base}"\n')
    check = check_store(load_settings())
    assert check.status == FAIL and "clashes with" in check.detail, check
    assert check.fix.startswith("set fediscope.toml: [fediscope] hbase_table_prefix to a prefix that neither"), check
    assert "FEDISCOPE_HBASE_TABLE_PREFIX to" not in check.fix, check

    variable = load_settings(origins={"hbase_table_prefix": "Airflow Variable fediscope_settings: hbase_table_prefix"},
                             hbase_table_prefix=base)
    check = check_store(variable)
    assert check.fix.startswith("set Airflow Variable fediscope_settings: hbase_table_prefix to a prefix"), check

    (tmp_path / "fediscope.toml").unlink()
    monkeypatch.setenv("FEDISCOPE_HBASE_TABLE_PREFIX", base)  # set by the variable: named so, as before
    assert check_store(load_settings()).fix.startswith("set FEDISCOPE_HBASE_TABLE_PREFIX to a prefix that neither")
    staging_store.close()
