"""The one interface every lake backend implements, and the factory that picks one from the lake URL.

Paths are always relative to the lake root and use ``/``. Writes are atomic: ``write_atomic`` writes to a
temporary name beside the target and renames it into place, so a reader sees a batch whole or not at all;
``create_exclusive`` does the same but never replaces an existing file (create-if-absent, for lock files).
"""

from __future__ import annotations

import errno
import posixpath
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from fediscope.errors import ConfigError, LakeError, NoLakeError


def url_below(url: str, path: str) -> str:
    """``path`` (relative to the lake root) as a URL below the lake's ``url``, for messages: the path goes before
    any query, ``webhdfs://nn:9870/data/fediscope/curated?user=fediscope``, not after ``?user=…``."""
    base, sep, query = url.partition("?")
    joined = f"{base.rstrip('/')}/{path.lstrip('/')}" if path.strip("/") else base
    return f"{joined}{sep}{query}"


def hidden(name: str) -> bool:
    """Names ``list``/``walk`` never show: files being written. Ours end in ``.tmp``; NiFi's PutFile/PutHDFS
    write ``.<name>`` and rename it, and Hadoop tools skip dot-files for the same reason."""
    return name.startswith(".") or name.endswith(".tmp")


@dataclass(frozen=True)
class Entry:
    path: str  # relative to the lake root
    is_dir: bool
    size: int = 0
    #: Last modification, seconds since the epoch, as the storage reports it (None when it does not); not compared,
    #: so an entry equals another naming the same path, kind and size.
    mtime: float | None = field(default=None, compare=False)


class LakeBackend(Protocol):
    url: str

    def write_atomic(self, path: str, data: bytes) -> None:
        """Write ``data`` to ``path`` so that it appears whole or not at all (replacing any old file)."""

    def create_exclusive(self, path: str, data: bytes) -> bool:
        """Create ``path`` holding ``data`` only if nothing is there yet: True when this call created it, False
        when it already existed. Atomic like ``write_atomic`` (whole or not at all), and of two concurrent calls
        exactly one wins; lake locks (:mod:`fediscope.lake.lock`) are built on it."""

    def read(self, path: str) -> bytes: ...

    def exists(self, path: str) -> bool: ...

    def is_dir(self, path: str) -> bool:
        """Whether ``path`` is a directory (``""``: whether the lake root is one)."""

    def list(self, path: str) -> list[Entry]:
        """Direct children of a directory (empty list when it does not exist)."""

    def walk(self, path: str) -> list[Entry]:
        """Every file below a directory, recursively (empty list when it does not exist)."""

    def walk_hidden(self, path: str) -> list[Entry]:
        """Every *hidden* file below a directory, recursively: the names ``list`` and ``walk`` leave out (temporary
        files of writes under way or interrupted, dot-files); for the clean-up of :mod:`fediscope.lake.debris`."""

    def delete(self, path: str, recursive: bool = False) -> bool: ...

    def rename(self, path: str, destination: str) -> None:
        """Move a file or a whole directory to ``destination``, which must not exist yet (its parents are
        created). One metadata operation on HDFS: how Spark's directly written output is published."""

    def local_path(self, path: str) -> str | None:
        """A local filesystem path for engines that read files directly (None for remote backends)."""

    def storage_path(self, path: str) -> str:
        """``path`` as it is named in storage, below the lake root: what an engine reading the lake's directory
        itself must use (HDFS has no ``:`` in names, so WebHDFS escapes ``instance=host:8080`` as ``%3A``)."""


LAKE_FORMS = "use a path, file:///path or webhdfs://namenode:9870/path"
WEBHDFS_DEFAULT_PORT = 9870


#: How a WebHDFS lake names its HDFS user, as a refusal of another way says it.
WEBHDFS_USER_FORM = "webhdfs://namenode:9870/path?user=NAME"


def split_webhdfs_url(url: str) -> tuple[str, str, str | None]:
    """``webhdfs://namenode:9870/lake?user=etl`` → (``http://namenode:9870``, ``/lake``, ``etl``); ValueError
    saying what is wrong (without the URL) otherwise.

    The HDFS user is ``?user=NAME``, or a user name before the host (``webhdfs://etl@namenode:9870/lake``, as URLs
    name a user). A password there is refused, never quoted (was: dropped silently, its user name taken as the HDFS
    user): WebHDFS's simple authentication sends a user name only, and fediscope speaks nothing else (no Kerberos,
    no delegation tokens). So are an empty user name (``@namenode``, ``?user=``: was the local login name), two
    different ones (``etl@…?user=ops``:
    the query's won silently), ``?user=`` given twice (the last won silently), port 0 or a ``:`` without a port (the
    default port, silently) and a ``#`` (what follows it was cut off the path, silently)."""
    from fediscope.redact import redact_url

    parts = urlsplit(url)
    if parts.scheme == "hdfs":
        raise ValueError("fediscope reaches HDFS over WebHDFS, the namenode's HTTP port, not hdfs:// (its RPC "
                         "port); use webhdfs://namenode:9870/path (hdfs://namenode:8020/path belongs in "
                         "FEDISCOPE_SPARK_LAKE_URI, for Spark)")
    if parts.scheme != "webhdfs":
        raise ValueError("expected webhdfs://namenode:9870/path")
    # the userinfo is read from the masked URL: urlsplit ends the host at a password's unencoded / ? #
    masked = urlsplit(redact_url(url))
    userinfo, at, host = masked.netloc.rpartition("@")
    if at and ":" in userinfo:
        fixed = f"{masked.scheme}://{host}{masked.path}?user={userinfo.split(':', 1)[0] or 'NAME'}"
        raise ValueError("holds a password (after the user name, before the @), which fediscope never sends: WebHDFS "
                         "takes a user name only (Hadoop's simple authentication; a cluster secured with Kerberos "
                         f"is not supported), so give the user alone, as {fixed}")
    if at and not userinfo:
        raise ValueError(f"names an empty user before the @; give the HDFS user as {WEBHDFS_USER_FORM}, or leave "
                         "it out to use the local login name")
    if not parts.hostname:
        raise ValueError("no namenode host; expected webhdfs://namenode:9870/path")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("the port is not a number from 1 to 65535") from None
    if port == 0:  # was: taken for the default port, 9870, silently
        raise ValueError("the port is not a number from 1 to 65535")
    if port is None and parts.netloc.endswith(":"):  # was: the default port, silently
        raise ValueError("has a ':' after the namenode host but no port: give the port (webhdfs://namenode:9870/path)")
    port = port or WEBHDFS_DEFAULT_PORT
    if parts.fragment or url.endswith("#"):  # was: cut off the path silently (the lake in another directory)
        raise ValueError("takes no fragment: a '#' ends the URL, and what follows it would be dropped (the lake "
                         "would be the directory before it); give the path without '#'")
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = set(query) - {"user"}
    if unknown:
        raise ValueError(f"unknown parameter(s) {', '.join(sorted(unknown))}; only ?user=NAME is understood")
    if len(query.get("user", ())) > 1:  # was: the last one taken, silently
        raise ValueError(f"gives ?user= more than once; give the HDFS user once ({WEBHDFS_USER_FORM})")
    if query.get("user") and not query["user"][0].strip():  # was: the local login name, silently
        raise ValueError(f"names an empty user in ?user=; give the HDFS user as {WEBHDFS_USER_FORM}, or leave "
                         "?user= out to use the local login name")
    from_query = (query.get("user") or [None])[-1] or None
    from_userinfo = unquote(parts.username) if parts.username else None
    if from_query and from_userinfo and from_query != from_userinfo:
        raise ValueError(f"names two HDFS users, {from_userinfo!r} before the host and {from_query!r} in ?user=; "
                         f"keep one ({WEBHDFS_USER_FORM})")
    user = from_query or from_userinfo
    root = posixpath.normpath("/" + parts.path.strip("/")) if parts.path.strip("/") else "/"
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"http://{host}:{port}", root, user


def hdfs_root_warning(url: str) -> tuple[str, str] | None:
    """A warning, and its fix, for a WebHDFS lake at the root of the HDFS file system (``webhdfs://namenode:9870``,
    with no path, ``/`` or one that normalizes to it); None otherwise. A warning, not a refusal: a cluster of
    fediscope's own (or a gateway that maps ``/`` to a directory of its own) may hold the lake there, and such a URL
    was accepted; but on a shared file system the lake's ``raw/``, ``curated/``, ``_state/`` and ``_audit/`` (and
    doctor's ``_doctor/`` probe) go beside everyone's top-level directories, likely a URL whose path was left out."""
    from fediscope.redact import redact_url

    parts = urlsplit(url)
    if parts.scheme != "webhdfs":
        return None
    try:
        _namenode, root, _user = split_webhdfs_url(url)
    except ValueError:
        return None  # refused by the settings check, which says why
    if root != "/":
        return None
    example = redact_url(parts._replace(path="/fediscope/lake").geturl())  # the same namenode, user and query
    return ("the lake is the root directory of the HDFS file system (the URL names no directory): its raw/, "
            "curated/, _state/ and _audit/ go beside every other top-level directory of a shared file system",
            f"give the lake a directory of its own, e.g. {example}")


def lake_url_problem(url: str) -> str | None:
    """What is wrong with a lake URL as written (None when :func:`open_lake` can open it); nothing is contacted.

    Refused: an empty path (``''``, ``file://``: it would silently be the current directory), a ``file://`` URL
    naming another host (the host would be dropped), ``hdfs://`` (the namenode's RPC port; fediscope speaks
    WebHDFS), and what WebHDFS URL parsing refuses."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # e.g. an unclosed IPv6 bracket
        return f"is not a valid URL ({exc}); {LAKE_FORMS}"
    if parts.scheme == "" and not url.strip():
        return f"empty; {LAKE_FORMS}"
    if parts.scheme == "file":
        if parts.netloc not in {"", "localhost"}:
            got = "a user name" if "@" in parts.netloc else repr(parts.hostname)  # never the user or password
            return (f"a file:// URL names no other host than localhost (got {got}); "
                    "use file:///path for a local directory, webhdfs://namenode:9870/path for HDFS")
        if not parts.path:
            return f"no path; {LAKE_FORMS}"
        if parts.query or parts.fragment or url.endswith(("?", "#")):
            cut = url[len(url.split("?", 1)[0].split("#", 1)[0]):]
            return (f"a file:// URL takes no query or fragment (got {cut[:40]!r}, which would be cut off the path): "
                    "write a # or ? of a directory name as %23 or %3F, or give the path without file://")
        return None
    if parts.scheme in {"webhdfs", "hdfs"}:
        try:
            split_webhdfs_url(url)
        except ValueError as exc:
            return str(exc)
        return None
    if parts.scheme == "swebhdfs":  # was: "unsupported scheme 'swebhdfs'", leaving whether HTTPS can be had unsaid
        return ("swebhdfs:// (WebHDFS over HTTPS) is not supported: fediscope's WebHDFS client speaks plain HTTP; "
                "use the namenode's HTTP address, webhdfs://namenode:9870/path (the cluster's dfs.http.policy "
                "HTTP_ONLY or HTTP_AND_HTTPS)")
    if parts.scheme:
        return f"unsupported scheme {parts.scheme!r}; {LAKE_FORMS}"
    return None


def open_lake(url: str) -> LakeBackend:
    """``/data/lake`` or ``file:///data/lake`` → local directory; ``webhdfs://namenode:9870/lake`` → HDFS."""
    from fediscope.redact import redact_url

    if problem := lake_url_problem(url):
        raise ConfigError(f"FEDISCOPE_LAKE={redact_url(url)!r}: {problem}")
    parts = urlsplit(url)
    if parts.scheme in {"", "file"}:
        from fediscope.lake.local import LocalLake

        return LocalLake(unquote(parts.path) if parts.scheme == "file" else url)  # file:///my%20lake: "my lake"
    from fediscope.lake.webhdfs import WebHDFSLake

    return WebHDFSLake(url)


#: How the lake was chosen, as the hint of a lake error names it: ``chosen_by`` of the checks below. The default
#: names only the setting (``FEDISCOPE_LAKE``, or ``lake`` in fediscope.toml), which every command reads; a caller
#: with settings passes where the lake was set: :meth:`Settings.origin <fediscope.config.Settings.origin>`, or a
#: command with a ``--lake`` option :func:`~fediscope.config.option_origin`, so no hint names an option its command
#: does not have, nor a variable a user who set the lake in fediscope.toml never set.
LAKE_SETTING = "FEDISCOPE_LAKE"
#: how a refused batch ends its message by default: what it left alone (the batches that write metrics)
STORE_UNTOUCHED = "the store was not touched"


def not_a_directory(url: str, chosen_by: str) -> tuple[str, str]:
    """(what is wrong, the fix) of a lake root that is a file: the one wording of every command's error
    (:func:`require_lake`, :func:`prepare_lake`), ``fediscope doctor``'s FAIL line and the Airflow health task's.
    ``chosen_by``: where the lake was set, as the caller's user changes it (see :data:`LAKE_SETTING`)."""
    return f"the lake path {url} is not a directory", f"point {chosen_by} at the lake's directory"


def _not_a_directory(lake: LakeBackend, chosen_by: str) -> LakeError:
    return NoLakeError("; ".join(not_a_directory(lake.url, chosen_by)))


def _collect_hint(chosen_by: str) -> str:
    return f"run `fediscope collect` first, or point {chosen_by} at the lake you collected into"


def require_lake(lake: LakeBackend, hint: str | None = None, *, chosen_by: str = LAKE_SETTING) -> None:
    """For commands that only read or prune a lake: refuse a root that does not exist (rather than create one,
    or show an empty lake) or that is not a directory. ``chosen_by``: how the caller's user names the lake
    (:data:`LAKE_SETTING`, :func:`~fediscope.config.option_origin`); ``hint`` replaces the default advice for a
    missing lake."""
    if lake.is_dir(""):
        return
    if lake.exists(""):
        raise _not_a_directory(lake, chosen_by)
    beside = _lakes_beside(lake)
    raise NoLakeError(f"no lake at {lake.url}: it does not exist; {hint or _collect_hint(chosen_by)}"
                      + (f"; {beside}" if beside else ""))


def _lakes_beside(lake: LakeBackend, most: int = 20) -> str | None:
    """For a local lake that does not exist: the lakes in the directory it would be in (``./demo-lake``, when
    ``fediscope process`` looks for the default ``./lake`` in the demo's directory; ``./lake`` for a mistyped
    ``./lak``), looked for in that directory's first ``most`` subdirectories. None when there is none (or the lake
    is not local). (Was: only "run `fediscope collect` first", beside the lake that had been collected.)"""
    local = lake.local_path("")
    if local is None:
        return None
    parent = Path(local).parent
    try:
        directories = sorted(path for path in parent.iterdir() if path.is_dir())[:most]
    except OSError:
        return None
    found = []
    for directory in directories:
        try:
            if any((directory / name).is_dir() for name in lake_directories()):
                found.append(str(directory))
        except OSError:  # one this user may not look into
            continue
    if not found:
        return None
    return f"beside it is the lake {found[0]}" if len(found) == 1 else f"beside it are the lakes {', '.join(found)}"


def lake_directories() -> tuple[str, ...]:
    """The top-level directories of a lake (:mod:`fediscope.lake.layout`): ``raw``, ``curated``, ``quarantine``,
    ``_state``, ``_audit``."""
    from fediscope.lake.layout import AUDIT_ROOT, CURATED_ROOT, QUARANTINE_ROOT, RAW_ROOT, STATE_ROOT

    return RAW_ROOT.split("/")[0], CURATED_ROOT, QUARANTINE_ROOT, STATE_ROOT, AUDIT_ROOT


def require_lake_layout(lake: LakeBackend, hint: str | None = None, *, chosen_by: str = LAKE_SETTING,
                        outcome: str | None = None) -> None:
    """:func:`require_lake`, and for commands that walk and delete everywhere below the root or take the lake lock
    (``gdpr retention`` and ``gdpr erase`` remove day-old temporary files at any depth; they and ``gdpr export``
    take the lock, creating ``_state/``): the root must hold one of a lake's top-level directories
    (:func:`lake_directories`), or nothing at all (a new lake: nothing to walk). A directory holding other things
    only (the directory above a lake, a home directory) is no lake: refused as
    :class:`~fediscope.errors.NoLakeError`, before anything is created or deleted. One listing of the root (on
    WebHDFS one LISTSTATUS), and for a root listing nothing, a look for hidden files below it. ``hint``: as
    :func:`require_lake`'s, for a missing lake; ``outcome`` ends the refusal of a directory that is no lake (what
    was not done: ``nothing was erased``)."""
    require_lake(lake, hint, chosen_by=chosen_by)
    if holds_lake_layout(lake):
        return
    raise NoLakeError(f"no lake at {lake.url}: {no_lake_directories()}; point {chosen_by} at the lake's own "
                      "directory, not one above it" + (f"; {outcome}" if outcome else ""))


def no_lake_directories() -> str:
    """Why a directory is no lake (:func:`holds_lake_layout`), as :func:`require_lake_layout` and ``fediscope
    doctor`` say it: ``it holds none of a lake's directories (raw/, curated/, quarantine/, _state/, _audit/)``."""
    return f"it holds none of a lake's directories ({', '.join(f'{name}/' for name in lake_directories())})"


def _lake_directory_in(entries: list[Entry]) -> bool:
    expected = lake_directories()
    return any(entry.is_dir and entry.path.strip("/").rpartition("/")[2] in expected for entry in entries)


def holds_lake_layout(lake: LakeBackend) -> bool:
    """Whether the lake's root, an existing directory, is a lake: it holds one of a lake's top-level directories
    (:func:`lake_directories`), or nothing at all (a new lake: the first ``collect`` lands there). A root holding
    other things only (the directory above a lake, a home directory) is not, and neither is one holding hidden
    files only (dot-files, which ``list`` does not show): those may be another program's, and the commands that
    refuse a directory that is no lake remove day-old temporary files at any depth, while no lake holds hidden
    files alone (a first ``collect`` creates ``raw/`` before it writes a file). One listing of the root (on WebHDFS
    one LISTSTATUS), and for a root listing nothing, a look for hidden files below it."""
    entries = lake.list("")
    if _lake_directory_in(entries):
        return True
    return not entries and not lake.walk_hidden("")


def lakes_below(lake: LakeBackend, most: int = 20) -> list[str]:
    """The directories directly below the lake's root that hold a lake's top-level directories (the lake, when the
    root is the directory above it), for a hint; looked for in the root's first ``most`` directories only (on
    WebHDFS a listing each). A directory that cannot be listed (another user's, ``drwx------``) is passed over: the
    hint is no reason to fail (was: ``fediscope doctor``'s lake check FAILed with its ``cannot list …``)."""
    found: list[str] = []
    directories = sorted(entry.path.strip("/") for entry in lake.list("") if entry.is_dir)
    for path in directories[:most]:
        try:
            entries = lake.list(path)
        except LakeError:
            continue
        if _lake_directory_in(entries):
            found.append(path)
    return found


def holds_data(lake: LakeBackend) -> bool:
    """Whether the lake holds any raw batch or curated file; stops at the first one (cheap on WebHDFS too)."""
    from fediscope.lake.layout import CURATED_ROOT, RAW_ROOT

    pending = [RAW_ROOT, CURATED_ROOT]
    while pending:
        for entry in lake.list(pending.pop()):
            if not entry.is_dir:
                return True
            pending.append(entry.path)
    return False


def require_batch_lake(lake: LakeBackend, collect_hint: str | None = None, *, chosen_by: str = LAKE_SETTING,
                       untouched: str = STORE_UNTOUCHED) -> None:
    """For the batch (``fediscope process``, the batch DAG, the ``spark-submit`` jobs): the lake must exist, be a
    directory and hold raw batches or curated files. A run over an empty lake (a mistyped path, or run from another
    directory than a relative ./lake) would replace every metric in the store with nothing, so it is refused
    before the store is touched, and nothing is created. ``untouched`` ends the message: what the refused run
    left alone (a job that only curates has no store: ``nothing was curated``)."""
    try:
        require_lake(lake, collect_hint, chosen_by=chosen_by)
    except LakeError as exc:
        raise type(exc)(f"{exc}; {untouched}") from None
    if not holds_data(lake):
        raise NoLakeError(f"the lake {lake.url} holds no data (no raw batches, nothing curated): "
                        f"{_lake_nearby(lake, chosen_by) or collect_hint or _collect_hint(chosen_by)}; {untouched}")


def _lake_nearby(lake: LakeBackend, chosen_by: str) -> str | None:
    """Where the lake is, for a root that holds no data and is no lake either (:func:`holds_lake_layout`): a lake
    directly below it (``--lake .`` beside ``./demo-lake``), or, on a local lake, the lake whose own ``raw/`` (or
    ``curated/``, …) directory it is, as the README's lake layout names them. None when neither is found, and for a
    lake's own directory, however empty. (Was: "run `fediscope collect` first" beside a lake holding data.)"""
    from fediscope.redact import redact_url

    if holds_lake_layout(lake):
        return None
    below = [url_below(redact_url(lake.url), path) for path in lakes_below(lake)]
    if len(below) == 1:
        return f"it is no lake, but the lake {below[0]} is in it: point {chosen_by} at {below[0]}"
    if below:
        return f"it is no lake, but the lakes {', '.join(below)} are in it: point {chosen_by} at one of them"
    local = lake.local_path("")
    if local is not None and Path(local).name in lake_directories():
        parent = Path(local).parent
        return f"it is the {Path(local).name}/ directory of the lake {parent}: point {chosen_by} at {parent}"
    return None


def prepare_lake(lake: LakeBackend, *, chosen_by: str = LAKE_SETTING) -> None:
    """For commands that land data, before they fetch anything: the lake's root must not be a file, and a local
    one must be a directory this user can write, created here when missing (HDFS creates directories on write)."""
    if lake.exists("") and not lake.is_dir(""):
        raise _not_a_directory(lake, chosen_by)
    local = lake.local_path("")
    if local is None:
        return
    root = Path(local)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LakeError(f"cannot create the lake directory {root}: {exc.strerror or exc}; point {chosen_by} at a "
                        "directory this user can write") from None
    try:
        _probe_write(root)
    except OSError as exc:
        raise LakeError(f"the lake directory {root} {_unwritable_reason(exc)}; point {chosen_by} at a directory this "
                        "user can write") from None


def _probe_write(root: Path) -> None:
    """Create (and at once remove) a nameless file in ``root``: the OS's own answer to whether this user can write
    there, and if not, why (``os.access`` says only no)."""
    with tempfile.TemporaryFile(dir=root, prefix=".fediscope-write-probe-"):
        pass


def _unwritable_reason(exc: OSError) -> str:
    """Why the lake directory cannot be written, from the OS's error: a read-only file system (a read-only mount,
    a snapshot) is no permission to fix; a full disk neither."""
    if exc.errno == errno.EROFS:
        return "is on a read-only file system"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"is not writable by this user ({exc.strerror})"
    return f"cannot be written: {exc.strerror or exc}"
