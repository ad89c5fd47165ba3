"""Which pseudonym key a lake was landed with: a key check kept in ``<lake>/_state/``, compared before use.

With the privacy policy on, every account identifier in the lake is a keyed pseudonym (HMAC-SHA256 with
``FEDISCOPE_PSEUDONYM_KEY``, :mod:`fediscope.privacy`), and ``fediscope gdpr erase/export`` find an account by
computing its pseudonym with the current key. With another key nothing matches: an erasure would report success,
remove nothing and put a pseudonym on the suppression list that never matches, and a collection would land records
that join nothing already there. So the first landing with privacy on records a **key check** in
:data:`KEY_CHECK_PATH`, and the landing entry points (``fediscope collect`` and ``stream``, the ingest DAG through
:func:`fediscope.orchestration.collect_target`, ``fediscope serve-api`` at start) and ``gdpr erase/export``
refuse (:class:`KeyMismatchError`) when the current key does not give the recorded check.

The check is ``HMAC-SHA256(key, "fediscope key check")``, its first 24 hex digits: a keyed value of a fixed label,
exactly as long as a pseudonym, so it lets nobody test guessed keys more cheaply than any pseudonym in the lake
already does; the key itself is never written. A lake without a check (landed by an older fediscope) is not
refused: the next landing records one. Erasure and export only compare, they never record.

The privacy mode is part of the check. A landing with ``FEDISCOPE_PRIVACY=off`` records ``{"privacy": "off"}``
instead (no key is used): account names in clear and pseudonyms never match each other either, so a lake landed
one way refuses landings, erasures and exports the other way. Else an erasure with privacy off would report
success on a pseudonymised lake and suppress a digest no later (pseudonymised) collection ever meets, and a
collection would land names in clear among pseudonyms.

The first check is created exclusively (:meth:`~fediscope.lake.backend.LakeBackend.create_exclusive`): of two
runs starting on a lake without one (parallel ingest tasks), one records and the other compares with it.

The landing entry points also log a WARNING, once per run, when the key is weak by the rules of
``fediscope config check`` (:func:`fediscope.config_check.weakness`): weak keys are not refused (tests and
demonstrations use short ones), but anyone who can guess the key can recompute every pseudonym.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import shlex
from datetime import UTC, datetime

from fediscope.config import Settings
from fediscope.errors import ConfigError, FediscopeError, LakeError
from fediscope.lake.backend import LAKE_SETTING, LakeBackend
from fediscope.lake.layout import STATE_ROOT

log = logging.getLogger(__name__)

KEY_CHECK_PATH = f"{STATE_ROOT}/pseudonym_key_check.json"
#: Where ``python -m fediscope.demo`` keeps its lake's key (the demo's own, not a setting)
DEMO_KEY_PATH = f"{STATE_ROOT}/demo-key"
#: What the key check is computed from (fixed: changing it would make every recorded check a mismatch).
KEY_CHECK_LABEL = "fediscope key check"
#: Hex digits kept: as many as a pseudonym has (fediscope.privacy.PrivacyPolicy.pseudonym).
KEY_CHECK_DIGITS = 24
_CHECK_RE = re.compile(rf"[0-9a-f]{{{KEY_CHECK_DIGITS}}}")


class KeyMismatchError(ConfigError):
    """``FEDISCOPE_PSEUDONYM_KEY`` is not the key the lake was landed with (its recorded key check differs)."""


class DamagedKeyCheck(LakeError):
    """The lake's key check file is not one (not JSON, or no check value in it)."""


def key_check_value(key: str) -> str:
    """The key check of ``key``: ``HMAC-SHA256(key, "fediscope key check")``, first 24 hex digits."""
    return hmac.new(key.encode(), KEY_CHECK_LABEL.encode(), hashlib.sha256).hexdigest()[:KEY_CHECK_DIGITS]


#: What a lake landed with ``FEDISCOPE_PRIVACY=off`` records instead of a key check.
PRIVACY_OFF = "privacy off"


def read_key_check(lake: LakeBackend) -> str | None:
    """The key check recorded in the lake (:data:`PRIVACY_OFF` for a lake landed with privacy off), or None when
    it holds none; LakeError naming the file (and the lake) when the file is not a key check."""
    from fediscope.redact import redact_url

    if not lake.exists(KEY_CHECK_PATH):
        return None
    try:
        document = json.loads(lake.read(KEY_CHECK_PATH))
        if isinstance(document, dict) and "check" not in document and document.get("privacy") == "off":
            return PRIVACY_OFF
        value = document["check"] if isinstance(document, dict) else None
        if not isinstance(value, str) or not _CHECK_RE.fullmatch(value):
            raise ValueError(f"'check' is not {KEY_CHECK_DIGITS} hex digits")
    except (ValueError, KeyError, RecursionError) as exc:
        raise DamagedKeyCheck(f"{KEY_CHECK_PATH} in the lake {redact_url(lake.url)} is damaged "
                              f"({type(exc).__name__}: {exc}), so the pseudonym key cannot be compared with the key "
                              "this lake was landed with; restore it from a backup, or delete it if you are sure "
                              "FEDISCOPE_PSEUDONYM_KEY (or FEDISCOPE_PRIVACY=off) is what the lake was landed with "
                              "(the next landing records its check again)") from None
    return value


def _expected(settings: Settings) -> str | None:
    """What the lake should have recorded for these settings: the key's check, :data:`PRIVACY_OFF`, or None
    (privacy on without a key: nothing to compare; landing refuses that itself)."""
    if not settings.privacy:
        return PRIVACY_OFF
    return key_check_value(settings.pseudonym_key) if settings.pseudonym_key else None


def _document(expected: str) -> bytes:
    now = datetime.now(UTC).isoformat(timespec="seconds")
    if expected == PRIVACY_OFF:
        return json.dumps({"privacy": "off", "meaning": "landed with FEDISCOPE_PRIVACY=off: account names in clear",
                           "recorded_at": now}, indent=1).encode()
    return json.dumps({
        "check": expected,
        "computed_as": f"HMAC-SHA256(FEDISCOPE_PSEUDONYM_KEY, {KEY_CHECK_LABEL!r}), first {KEY_CHECK_DIGITS} hex "
                       "digits (not the key)",
        "recorded_at": now,
    }, indent=1).encode()


def _key(settings: Settings) -> str | None:
    """The key in use: None with privacy off (no key is used) or without a key."""
    return settings.pseudonym_key if settings.privacy and settings.pseudonym_key else None


def mismatch_message(lake: LakeBackend, outcome: str, *, chosen_by: str | None = None,
                     recorded: str | None = None, expected: str | None = None,
                     settings: Settings | None = None) -> str:
    """The one line that says the key (or the privacy mode) is not the lake's, what was therefore not done
    (``outcome``), and the fix, naming where the key and the privacy mode were set (``settings``'
    :meth:`~fediscope.config.Settings.origin`: a user who configures fediscope in ``fediscope.toml`` alone has no
    variable to unset). ``chosen_by``: where the lake was set, the settings' origin of the lake unless given."""
    from fediscope.redact import redact_url

    if chosen_by is None:
        chosen_by = settings.origin("lake", advice=True) if settings is not None else LAKE_SETTING

    where = redact_url(lake.url)
    key_from = settings.origin("pseudonym_key") if settings is not None else "FEDISCOPE_PSEUDONYM_KEY"
    privacy_from = settings.origin("privacy") if settings is not None else "FEDISCOPE_PRIVACY"
    by_variable = privacy_from == "FEDISCOPE_PRIVACY"
    if recorded == PRIVACY_OFF:
        return (f"this lake was landed with FEDISCOPE_PRIVACY=off ({where}: its {KEY_CHECK_PATH} says so), so it "
                f"holds account names in clear, which pseudonyms never match; {outcome}. Set FEDISCOPE_PRIVACY=off "
                f"as its collectors do, or point {chosen_by} at a lake landed with the privacy policy on")
    if expected == PRIVACY_OFF:
        said = "FEDISCOPE_PRIVACY=off" if by_variable else f"the privacy policy is off ({privacy_from})"
        undo = "unset FEDISCOPE_PRIVACY" if by_variable else f"remove {privacy_from}"
        return (f"{said}, but this lake was landed with the privacy policy on ({where}: its "
                f"{KEY_CHECK_PATH} holds its pseudonym key's check), so its records hold pseudonyms, which names "
                f"in clear never match; {outcome}. Turn the privacy policy on ({undo}) with the "
                f"lake's FEDISCOPE_PSEUDONYM_KEY, or point {chosen_by} at a lake landed with privacy off")
    return (f"{key_from} is not the key this lake was landed with ({where}: its "
            f"{KEY_CHECK_PATH} was recorded with another key), so its pseudonyms match none of the lake's records; "
            f"{outcome}. Set {key_from} to the key the lake was landed with (the one the collectors, "
            f"e.g. the Airflow workers, use), or point {chosen_by} at the lake of this key")


def key_mismatch(settings: Settings, lake: LakeBackend, outcome: str) -> str | None:
    """:func:`mismatch_message` when the settings are not what the lake was landed with, else None."""
    expected = _expected(settings)
    recorded = read_key_check(lake) if expected else None
    if expected is None or recorded is None or hmac.compare_digest(recorded, expected):
        return None
    return mismatch_message(lake, outcome, recorded=recorded, expected=expected, settings=settings)


def require_lake_key(settings: Settings, lake: LakeBackend, outcome: str) -> None:
    """For commands that look accounts up by pseudonym (``gdpr erase/export``): KeyMismatchError when the key, or
    the privacy mode, is not the lake's. Records nothing: a lake without a check passes."""
    message = key_mismatch(settings, lake, outcome)
    if message:
        raise KeyMismatchError(message)


#: What the landing refusal says was not done, and how to change a lake's key on purpose.
_LANDING_OUTCOME = ("nothing was landed (what would land could not be joined with the lake's records, and the "
                    "accounts on its suppression list would be collected again)")
_ROTATION_HINT = (". To change this on purpose, delete {path} first: records landed before are then no longer found "
                  "by `fediscope gdpr erase/export`, and the accounts erased before are collected again unless "
                  "erased again")


def check_landing_key(settings: Settings, lake: LakeBackend, *, chosen_by: str | None = None,
                      outcome: str = _LANDING_OUTCOME, warn: bool = True) -> bool:
    """For the landing entry points, once per run, before anything is fetched: warn about a weak key
    (:func:`warn_if_weak_key`, unless ``warn`` is false), refuse a key that is not the lake's (KeyMismatchError),
    and record the key check in a lake that holds none. True when this call recorded it. The lake's root must
    exist or be creatable (:func:`fediscope.lake.backend.prepare_lake`)."""
    if warn:
        warn_if_weak_key(settings)
    expected = _expected(settings)
    if expected is None:
        return False
    recorded = read_key_check(lake)
    if recorded is None:
        if lake.create_exclusive(KEY_CHECK_PATH, _document(expected)):
            log.info("recorded the pseudonym key's check in %s: later runs with another key (or the other privacy "
                     "mode) are refused", KEY_CHECK_PATH)
            return True
        recorded = read_key_check(lake)  # another run recorded one meanwhile: compare with it
    if recorded is not None and not hmac.compare_digest(recorded, expected):
        raise KeyMismatchError(mismatch_message(lake, outcome, chosen_by=chosen_by, recorded=recorded,
                                                expected=expected, settings=settings)
                               + _ROTATION_HINT.format(path=KEY_CHECK_PATH))
    return False


def missing_key_problem(settings: Settings, lake: LakeBackend) -> tuple[str, str] | None:
    """With the privacy policy on and no pseudonym key set: (what is wrong, the fix) for a lake that already records
    what it was landed with, whose fix is to set that key again (or privacy off), not a new one. None when a key is
    set, privacy is off, or the lake records nothing (a new lake: the generic advice to generate a key holds).

    Was: a shell that had lost the variable was told to generate a new key, which the lake then refused as not its
    key: a second error, for following the first one's advice."""
    from fediscope.redact import redact_url

    if not settings.privacy or settings.pseudonym_key:
        return None
    try:
        recorded = read_key_check(lake)
    except FediscopeError:  # a damaged check or an unreadable lake: the landing's own checks say it
        return None
    if recorded is None:
        return None
    where = redact_url(lake.url)
    if recorded == PRIVACY_OFF:
        return (f"FEDISCOPE_PSEUDONYM_KEY is not set, and this lake was landed with FEDISCOPE_PRIVACY=off ({where}: "
                f"its {KEY_CHECK_PATH} says so)", "set FEDISCOPE_PRIVACY=off as its collectors do")
    try:
        demo = lake.exists(DEMO_KEY_PATH)
    except FediscopeError:
        demo = False
    demo_key = f"{where.rstrip('/')}/{DEMO_KEY_PATH}"
    used = (f"the demo's, kept in {demo_key}: export FEDISCOPE_PSEUDONYM_KEY=$(cat {shlex.quote(demo_key)})" if demo
            else "the one its collectors use")
    return (f"FEDISCOPE_PSEUDONYM_KEY is not set, and this lake was landed with one ({where}: its {KEY_CHECK_PATH} "
            "holds that key's check, not the key)",
            f"set {settings.origin('pseudonym_key', advice=True)} to the key the lake was landed with ({used}); a "
            "new key would not match its records and is refused")


def require_pseudonym_key(settings: Settings, lake: LakeBackend) -> None:
    """ConfigError saying :func:`missing_key_problem` when the key is missing for a lake that records its own; the
    callers then build the policy (:func:`fediscope.privacy.policy_from_settings`), which refuses a missing key in
    a new lake with the advice to generate one."""
    if problem := missing_key_problem(settings, lake):
        raise ConfigError("; ".join(problem))


def key_weakness(settings: Settings) -> str | None:
    """Why the pseudonym key in use is weak (``fediscope config check``'s rules), None when it is not (or none is
    used). Never includes the key."""
    from fediscope.config_check import MIN_PSEUDONYM_KEY, weakness

    key = _key(settings)
    return weakness(key, MIN_PSEUDONYM_KEY) if key else None


def warn_if_weak_key(settings: Settings) -> str | None:
    """Log one WARNING when the pseudonym key is weak (not refused: tests and demonstrations use short keys);
    returns the weakness."""
    from fediscope.config_check import HOW_TO_GENERATE

    why = key_weakness(settings)
    if why:
        log.warning("FEDISCOPE_PSEUDONYM_KEY %s: anyone who guesses it can recompute every pseudonym and re-identify "
                    "the accounts in the lake; %s (a lake keeps the key it was landed with: use the new key for a "
                    "new lake)", why, HOW_TO_GENERATE)
    return why
