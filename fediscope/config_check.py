"""``fediscope config check``: find weak, default or missing secrets and mistyped settings before they matter.

A pseudonym key is what keeps the lake pseudonymous: anyone who knows it can recompute the pseudonym of any
account and re-identify it, so a short or guessable key is as bad as none. API keys guard a service that
fetches the network on request; access tokens are issued by the instances and only need to be real ones.
Findings name the setting and say how to fix it; they never repeat a secret's value.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from fediscope.config import (
    API_KEY_COMMAND,
    PSEUDONYM_KEY_COMMAND,
    SECRET_NAMES,
    SETTINGS,
    TOKEN_PREFIX,
    URL_NAMES,
    Settings,
    token_label,
    token_problem,
)
from fediscope.redact import redact_url

#: Values people put in configuration files "for now".
COMMON_SECRETS = frozenset({
    "changeme", "change-me", "change_me", "changeit", "secret", "secretkey", "secret-key", "mysecret", "supersecret",
    "s3cret", "password", "passw0rd", "pass", "test", "testing", "default", "example", "fediscope", "admin",
    "root", "key", "apikey", "api-key", "api_key", "token", "letmein", "qwerty", "dev", "development", "demo",
    "sample", "none", "null", "todo", "insecure", "xxx", "abc", "abcdef", "foobar", "hunter2", "local",
})
MIN_PSEUDONYM_KEY = 32  # characters: e.g. secrets.token_hex(32) gives 64
MIN_API_KEY = 24
MIN_TOKEN = 16  # Mastodon issues 43-character tokens
MIN_DATABASE_PASSWORD = 12
HOW_TO_GENERATE = f"generate one with: {PSEUDONYM_KEY_COMMAND}"  # a pseudonym key
HOW_TO_GENERATE_API_KEY = f"generate one with: {API_KEY_COMMAND}"
#: FEDISCOPE_* variables that are not settings but are read by name: the config file's path, and the passwords of the
#: users infra/mariadb/bootstrap.py creates (its docs export them, and infra/cluster/.env holds them)
KNOWN_EXTRA_VARIABLES = ("FEDISCOPE_CONFIG", "FEDISCOPE_DB_PASSWORD", "FEDISCOPE_DB_RO_PASSWORD")
EXTRA_PREFIXES = (TOKEN_PREFIX, "FEDISCOPE_TEST_")
#: What ``config show`` prints for a setting that is unset (None) or empty (no API keys, no instances, no tokens).
UNSET = "-"


@dataclass(frozen=True)
class Finding:
    level: str  # "problem" (non-zero exit) or "warning"
    setting: str  # where to change it: the TOML key and file, the variable (:meth:`Settings.origin`), or a token's
    message: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def text(self) -> str:
        """``setting: message``, as ``config check`` prints it after the level (and every command warns of an
        unknown variable: :func:`fediscope.cli.common.warn_of_unknown_variables`); a message that starts with the
        setting already (``FEDISCOPE_BACKFILL_PAGES=7 overrides …``) alone."""
        if self.message.startswith(self.setting):
            return self.message
        return f"{self.setting}: {self.message}"


def weakness(value: str, min_length: int) -> str | None:
    """Why ``value`` is a weak secret (None when it looks strong enough). Never includes the value."""
    lowered = value.strip().lower()
    core = re.sub(r"[^a-z]", "", lowered)
    if lowered in COMMON_SECRETS or (core in COMMON_SECRETS and len(core) >= 3):
        return "is a common default value"
    if len(value) < min_length:
        return f"is shorter than {min_length} characters"
    if len(set(value)) < 8:
        return "has fewer than 8 distinct characters"
    return None


def _secret_findings(settings: Settings, env: Mapping[str, str]) -> list[Finding]:
    found: list[Finding] = []
    if settings.privacy and not settings.pseudonym_key:
        found.append(Finding("problem", settings.origin("pseudonym_key"),
                             f"not set: collection refuses to start without it; {HOW_TO_GENERATE}"))
    elif settings.pseudonym_key and (why := weakness(settings.pseudonym_key, MIN_PSEUDONYM_KEY)):
        found.append(Finding("problem", settings.origin("pseudonym_key"), f"{why}: anyone guessing it can re-identify "
                             f"every account; {HOW_TO_GENERATE} (changing it changes every pseudonym)"))
    if not settings.privacy:
        found.append(Finding("warning", settings.origin("privacy"), "the privacy policy is off: account identifiers "
                             "are landed in clear (opt-outs and erasures are still honoured)"))
    api_keys = [k[:-3] if k.endswith(":ro") else k for k in settings.api_key]
    if not api_keys:
        found.append(Finding("warning", settings.origin("api_key"), "no API key: the scraping API cannot be used"))
    for i, key in enumerate(api_keys, 1):
        if why := weakness(key, MIN_API_KEY):
            found.append(Finding("problem", settings.origin("api_key"), f"API key #{i} {why}; "
                                 f"{HOW_TO_GENERATE_API_KEY}"))
        if settings.pseudonym_key and key == settings.pseudonym_key:
            found.append(Finding("problem", settings.origin("api_key"), f"API key #{i} is the pseudonym key: API "
                                 "clients could re-identify accounts; use separate secrets"))
    if len(set(api_keys)) < len(api_keys):
        found.append(Finding("warning", settings.origin("api_key"), "the same API key is listed twice"))
    for key, token in sorted(settings.tokens.items()):
        if why := token_problem(token) or weakness(token, MIN_TOKEN):
            found.append(Finding("problem", token_label(key, settings, env), f"access token {why}: use the "
                                 "token the instance issued (Preferences → Development → your application)"))
    if (given := database_password(settings.store)) and (why := weakness(given[1], MIN_DATABASE_PASSWORD)):
        found.append(Finding("warning", settings.origin("store"), f"the database password{given[0]} {why}"))
    return found


def database_password(url: str) -> tuple[str, str] | None:
    """The password a store URL connects with, as the driver gets it (decoded), and where the URL gives it: ``""``
    before the ``@``, else `` (?password=)``. Read as SQLAlchemy reads the URL, which passes its query's options to
    PyMySQL after the parts before it: a ``?password=`` wins over the one before the ``@``, and PyMySQL takes the
    deprecated ``?passwd=`` only where neither gives one. Was: the part before the ``@`` alone, read by ``urlsplit``
    (which ends it at an unencoded ``/ ? #``, which SQLAlchemy takes): a weak ``?password=`` went unchecked."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return None  # refused by the settings check, which says why
    for where, given in ((" (?password=)", parsed.query.get("password")), ("", parsed.password),
                         (" (?passwd=)", parsed.query.get("passwd"))):
        if isinstance(given, str) and given:
            return where, given
    return None


def _store_findings(settings: Settings) -> list[Finding]:
    """A store every command refuses although the settings accept it (the Python API still opens it): SQLite in
    memory, which `process` and `report` refuse and `doctor` FAILs."""
    from fediscope.store.sqlite import sqlite_in_memory

    if sqlite_in_memory(settings.store):
        return [Finding("problem", settings.origin("store"), "an in-memory SQLite database: whatever is stored in "
                        "it is lost when a command ends, so `fediscope process` and `fediscope report` refuse it; use "
                        "a file, e.g. sqlite:///fediscope.db")]
    return []


def _lake_findings(settings: Settings) -> list[Finding]:
    """A WebHDFS lake at the root of the HDFS file system: accepted (a cluster of its own may hold it there), but
    likely a URL whose path was left out (:func:`~fediscope.lake.backend.hdfs_root_warning`)."""
    from fediscope.lake.backend import hdfs_root_warning

    if at_root := hdfs_root_warning(settings.lake):
        return [Finding("warning", settings.origin("lake"), "; ".join(at_root))]
    return []


def _timeout_findings(settings: Settings) -> list[Finding]:
    """A run timeout of the Airflow DAGs set shorter than what its run must hold, which stops the DAG files from
    parsing (:func:`fediscope.orchestration.dag_timeouts`)."""
    from fediscope.orchestration import TimeoutTooShort, dag_timeouts

    try:
        dag_timeouts(settings)
    except TimeoutTooShort as exc:
        return [Finding("problem", exc.variable, f"{exc} (the Airflow DAG files do not parse with it)")]
    return []


def unknown_variables(env: Mapping[str, str]) -> list[Finding]:
    """A warning for each ``FEDISCOPE_*`` variable in ``env`` that nothing reads (a mistyped setting's, which would
    leave its default in place), with the setting it probably meant. Not settings but read by name, hence known:
    :data:`KNOWN_EXTRA_VARIABLES`, and those starting with :data:`EXTRA_PREFIXES` (access tokens, the tests')."""
    known = {s.env for s in SETTINGS} | set(KNOWN_EXTRA_VARIABLES)
    found = []
    for name in sorted(env):
        if not name.startswith("FEDISCOPE_") or name in known or name.startswith(EXTRA_PREFIXES):
            continue
        close = difflib.get_close_matches(name, sorted(known), n=1)
        hint = f"did you mean {close[0]}?" if close else "it is not a fediscope setting"
        found.append(Finding("warning", name, f"unknown variable, ignored: {hint}"))
    return found


def masked(name: str, value: object) -> object:
    """A setting's value as ``config show`` and ``config check`` may print it: a secret as ``***`` (None when
    unset), a password in a URL masked."""
    if name in SECRET_NAMES:
        return "***" if value else None
    if name in URL_NAMES and isinstance(value, str):
        return redact_url(value)  # a database password may sit in the store URL
    return value


def overridden_text(settings: Settings, name: str) -> str | None:
    """``backfill_pages = 3 in fediscope.toml``: what the config file sets for ``name`` when another source's
    value won (masked as ``config show`` masks the setting), or None when the file sets no value that lost."""
    if name not in settings.overridden:
        return None
    _origin, raw = settings.overridden[name]
    shown = "***" if name in SECRET_NAMES else _toml_value(raw)
    return f"{name} = {shown} in {settings.config_file}"


def _toml_value(raw: object) -> str:
    """A value of the config file as TOML writes it (``3``, ``true``, ``"./lake"``, ``["a", "b"]``), every string
    with its password or secret query parameter masked (:func:`~fediscope.redact.redact_url`)."""
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, str):
        return json.dumps(redact_url(raw), ensure_ascii=False)
    if isinstance(raw, list):
        return "[" + ", ".join(map(_toml_value, raw)) + "]"
    return raw.isoformat() if hasattr(raw, "isoformat") else str(raw)


def shown_value(value: object) -> str:
    """A setting's value as ``config show`` prints it, as its variable takes it: ``-`` when unset or empty (not
    Python's ``None`` or ``()``), a list comma-separated, ``true``/``false`` (not ``True``), a whole number without
    ``.0`` (``FEDISCOPE_REFRESH_HOURS 0``, not ``0.0``), anything else as ``str`` gives it."""
    if value is None or value in ((), ""):
        return UNSET
    if isinstance(value, tuple):
        return ",".join(map(shown_value, value))
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _override_findings(settings: Settings) -> list[Finding]:
    """A warning for each setting the config file sets whose value another source gave (an environment variable,
    in ``config check``): a value edited in the file and silently not used is a surprise (``backfill_pages = 3``
    in the file, 7 collected). A warning, not a problem: overriding the file per run or per host is what the
    variables are for. Values masked as ``config show`` masks them."""
    found = []
    for setting in SETTINGS:
        lost = overridden_text(settings, setting.name)
        where = settings.origins.get(setting.name)
        if lost is None or where is None:
            continue
        value = shown_value(masked(setting.name, getattr(settings, setting.name)))
        given = f"{where}={value}" if where == setting.env else f"{where} ({value})"
        found.append(Finding("warning", where, f"{given} overrides {lost}"))
    return found


def check_settings(settings: Settings, env: Mapping[str, str] | None = None) -> list[Finding]:
    """Every finding about ``settings`` (and mistyped ``FEDISCOPE_*`` variables in ``env``), problems first."""
    env = os.environ if env is None else env
    findings = (_secret_findings(settings, env) + _store_findings(settings) + _lake_findings(settings)
                + _timeout_findings(settings)
                + _override_findings(settings) + unknown_variables(env))
    return sorted(findings, key=lambda f: f.level != "problem")
