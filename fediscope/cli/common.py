"""Helpers shared by the CLI commands: settings loading, logging set-up, output."""

from __future__ import annotations

import json
import logging
import math
import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from fediscope.config import Settings, Unusable, load_settings, load_settings_only
from fediscope.console import IN_SUMMARY, SAID, PrintableValues, printable
from fediscope.errors import ConfigError, FediscopeError
from fediscope.redact import RedactingFilter, extra_fields, redact_text, secret_values, url_secrets
from fediscope.step_progress import break_open_line


class FiniteFloatRange(click.FloatRange):
    """click's ``FloatRange`` that also refuses ``nan`` and ``inf``: click lets NaN through any range (it compares
    false with the bounds), and ``--duration nan`` streamed until killed, ``doctor --timeout nan`` failed every
    instance check, as the ``FEDISCOPE_*`` settings refuse them."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


def settings_from_context(*, unusable: Unusable | None = None, program: str = "fediscope",
                          warn_unknown: bool = True, **overrides: Any) -> Settings:
    """Load settings once per command; CLI options given explicitly override configuration.

    Each keyword is the setting a command-line option of the same name sets (``lake`` from ``--lake``): its
    value is validated like the environment's, and an error names the option, not ``FEDISCOPE_LAKE``.
    ``unusable``: see :func:`~fediscope.config.load_settings` (a command that does not use what such a setting
    names goes on, and says so). ``program`` starts a warning's line (``fediscope metrics`` for the Spark job).
    ``warn_unknown``: warn of mistyped ``FEDISCOPE_*`` variables (:func:`warn_of_unknown_variables`); off for the
    commands that report them themselves (``config check``, ``doctor``).
    """
    given = {k: v for k, v in overrides.items() if v is not None}
    settings = load_settings(origins={k: "--" + k.replace("_", "-") for k in given}, unusable=unusable, **given)
    configure_logging(settings.log_level, secrets=secret_values(settings), fmt=settings.log_format, program=program)
    _warn_of_passwords_in_options(given, program)
    if warn_unknown:
        warn_of_unknown_variables(program)
    return settings


def warn_of_unknown_variables(program: str = "fediscope", env: Mapping[str, str] | None = None) -> None:
    """One warning on stderr per ``FEDISCOPE_*`` variable nothing reads, the finding ``fediscope config check``
    prints (:func:`fediscope.config_check.unknown_variables`): a mistyped setting is otherwise silently left at its
    default, and some cannot be fixed afterwards (a first run's backfill depth is final). A warning, not an error:
    a script that exports a variable of a newer (or older) fediscope keeps working."""
    from fediscope.config_check import unknown_variables

    for finding in unknown_variables(os.environ if env is None else env):
        say(finding.text, level=logging.WARNING, prefix=f"{program}: {finding.level}: ", variable=finding.setting)


def _warn_of_passwords_in_options(given: dict[str, Any], program: str) -> None:
    """One warning on stderr per option (``--store``, ``--lake``) whose URL holds a password: a command line is
    seen by other users' ``ps`` and kept in shell history. The password itself is never shown."""
    for name in ("store", "lake"):
        if isinstance(given.get(name), str) and url_secrets(given[name]):
            say(f"--{name} holds a password, which other users' `ps` and your shell history see; give the URL in "
                f"FEDISCOPE_{name.upper()} or fediscope.toml instead", level=logging.WARNING,
                prefix=f"{program}: warning: ")


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time of the record, not at set-up.

    A plain ``StreamHandler(sys.stderr)`` keeps the stream it was built with; when the CLI runs inside a host
    that swaps stderr (pytest's capture, click's CliRunner, Airflow's task logging), it later writes to a
    closed stream.
    """

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass

    def emit(self, record: logging.LogRecord) -> None:
        break_open_line(sys.stderr)  # not after a progress line's text (collect, store export): on its own line
        super().emit(record)


def _py4j_interrupt_noise(record: logging.LogRecord) -> bool:
    """False for what py4j logs, with a traceback, when Ctrl-C ends a Spark call ("KeyboardInterrupt while sending
    command.", and errors closing connections to a JVM the same Ctrl-C stopped): the interrupt itself is
    reported, as one line."""
    if "py4j" not in record.pathname or record.exc_info is None:
        return True
    error = record.exc_info[1]
    seen = 0
    while error is not None and seen < 10:  # the error, or what it was raised while handling
        if isinstance(error, KeyboardInterrupt):
            return False
        error, seen = error.__cause__ or error.__context__, seen + 1
    return True


#: The text log format: ``time level logger message``.
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class TextFormatter(logging.Formatter):
    """:data:`TEXT_FORMAT`, but a record marked :data:`~fediscope.console.SAID` (a warning about what the person
    gave the command) as the command says its own warnings (:func:`say`): ``<program>: warning: message``, its
    values escaped and its secrets masked as in every line (the handler's filters ran)."""

    def __init__(self, program: str = "fediscope") -> None:
        super().__init__(TEXT_FORMAT)
        self.program = program

    def format(self, record: logging.LogRecord) -> str:
        if record.__dict__.get(SAID):
            return f"{self.program}: {record.levelname.lower()}: {record.getMessage()}"
        return super().format(record)

#: The keys of a JSON log line that a field passed with ``extra=`` does not replace.
JSON_KEYS = ("time", "level", "logger", "message", "exception", "stack")


class JsonFormatter(logging.Formatter):
    """``FEDISCOPE_LOG_FORMAT=json``: one JSON object per line, for a log shipper (Loki, Elasticsearch, journald's
    readers): ``time`` (RFC 3339, UTC, milliseconds), ``level``, ``logger``, ``message``, ``exception`` (the
    traceback's text) when there is one, ``stack`` when asked for, then the fields the code passed with ``extra=``
    (never over those keys). The handler's :class:`~fediscope.redact.RedactingFilter` runs first, so all of it is
    masked; ASCII only (``\\u`` escapes), so no stream encoding can break a line."""

    #: JSON escapes every control character itself: :class:`~fediscope.console.PrintableValues` leaves these lines.
    json_lines = True

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            document["exception"] = record.exc_text
        if record.stack_info:
            document["stack"] = self.formatStack(record.stack_info)
        for name, value in extra_fields(record).items():
            if name not in JSON_KEYS:
                document[name] = value
        return json.dumps(document, default=str)


class _LogFormat:
    """Whether the running command has set its log format (:func:`configure_logging`, once its settings are read):
    until then an error is said in the format :func:`log_format_without_settings` finds."""

    chosen = False


def configure_logging(level: str, secrets: Iterable[str] = (), fmt: str = "text", program: str = "fediscope") -> None:
    """Quiet logging to stderr, one line per record: ``time level logger message`` (``fmt`` ``text``; a warning
    about what the person gave the command as ``<program>: warning: …``: :class:`TextFormatter`), or a JSON object
    (``json``: :class:`JsonFormatter`; Python's own warnings are logged then, so that they are such lines too).

    The handler carries a :class:`~fediscope.redact.RedactingFilter`: the known ``secrets`` (tokens, API keys,
    the pseudonym key) and anything shaped like a credential are masked in every line, tracebacks included.
    """
    root = logging.getLogger()
    # configured already when our handler is there (not merely marked: a host that reconfigures logging, such as
    # Airflow, drops the handlers and would leave every later warning without one)
    handler = _our_handler()
    if handler is not None:
        root.setLevel(level.upper())
        for each in root.handlers:
            for log_filter in each.filters:
                if isinstance(log_filter, RedactingFilter):
                    log_filter.add_secrets(secrets)
    else:
        handler = _StderrHandler()
        handler.addFilter(PrintableValues(handler))  # escapes what this handler writes, not the record
        handler.addFilter(RedactingFilter(secrets))
        handler.addFilter(_py4j_interrupt_noise)
        root.addHandler(handler)
        root.setLevel(level.upper())
        for noisy in ("urllib3", "werkzeug", "py4j", "matplotlib", "waitress"):
            logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    _set_format(handler, fmt, program)
    _LogFormat.chosen = True


def _our_handler() -> _StderrHandler | None:
    return next((h for h in logging.getLogger().handlers if isinstance(h, _StderrHandler)), None)


def _set_format(handler: logging.Handler, fmt: str, program: str = "fediscope") -> None:
    as_json = fmt == "json"
    handler.setFormatter(JsonFormatter() if as_json else TextFormatter(program))
    logging.captureWarnings(as_json)


def reset_log_format() -> None:
    """Text log lines again, until a command's settings say otherwise (:func:`main` at its start): a command run
    in the same process after one with ``json`` (a test's) must not print its early errors as JSON."""
    if (handler := _our_handler()) is not None:
        _set_format(handler, "text")
    _LogFormat.chosen = False


def log_format_without_settings() -> str:
    """The log format for what is said before a command's settings are read, or when they cannot be: click's usage
    errors, and the error that the settings cannot be read (a malformed ``fediscope.toml``, an invalid
    ``FEDISCOPE_*`` value). ``log_format`` as the settings read it (``FEDISCOPE_LOG_FORMAT`` over the config
    file's ``[fediscope] log_format``); from the environment alone when the config file cannot be read (the
    error may be that very file); ``text`` when neither gives a valid value."""
    for toml_path in (None, False):  # False: no config file
        try:
            return load_settings_only(["log_format"], toml_path=toml_path).log_format
        except Exception:  # any: this only chooses how the error at hand is said, never replaces it
            continue
    return "text"


def use_log_format_without_settings() -> None:
    """Before an error is said: JSON log lines when the command has not set its log format
    (:func:`log_format_without_settings` says ``json``), so that a log shipper can parse that error too."""
    if _LogFormat.chosen or log_format_without_settings() != "json":
        return
    if (handler := _our_handler()) is None:
        configure_logging("WARNING", fmt="json")
    else:
        _set_format(handler, "json")


def logs_json() -> bool:
    """Whether log lines are JSON objects now (``FEDISCOPE_LOG_FORMAT=json``, logging set up by a command)."""
    handler = _our_handler()
    return handler is not None and isinstance(handler.formatter, JsonFormatter)


def say(message: str, *, level: int = logging.INFO, prefix: str = "", exc_info: Any = None, **fields: Any) -> None:
    """A line for the operator on stderr that a command prints whatever the log level (its error, a server's
    banner, a warning about its options): ``prefix`` + ``message`` as text; with ``FEDISCOPE_LOG_FORMAT=json`` a
    JSON log line instead (logger ``fediscope``, ``level``, ``fields`` as its extra fields, ``exc_info``'s
    traceback), masked like every log line, so that a log shipper reading stderr can parse every line of it. The
    text line shows control characters as escapes (:func:`~fediscope.console.printable`): an error may quote what
    a server sent."""
    handler = _our_handler()
    if handler is None or not logs_json():
        click.echo(prefix + printable(message), err=True)  # an error may quote what a server sent
        return
    record = logging.LogRecord("fediscope", level, "", 0, message, None, exc_info)
    record.__dict__.update(fields)
    handler.handle(record)


class HeldForTheSummary(logging.Filter):
    """The records marked :data:`~fediscope.console.IN_SUMMARY` that :func:`said_by_the_summary` held back from the
    command's log lines; ``said``: set once the command has printed the summary that says them."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.said = False

    def filter(self, record: logging.LogRecord) -> bool:
        if record.__dict__.get(IN_SUMMARY):
            self.records.append(record)
            return False
        return True


@contextmanager
def said_by_the_summary() -> Iterator[HeldForTheSummary]:
    """While a command's work runs, hold back from its log lines the warnings its summary says too (records marked
    :data:`~fediscope.console.IN_SUMMARY`), so that it says each once, in the summary's words. The command sets
    ``said`` once it has printed the summary; if it did not (the run failed after the curation), the held records are
    written when the block ends, before its error line, as they would have been: the next run does not find them
    again (the raw files are curated). Text and JSON log lines alike; nothing is held without the CLI's handler."""
    handler = _our_handler()
    held = HeldForTheSummary()
    if handler is None:
        yield held
        return
    handler.filters.insert(0, held)  # before the escaping and masking filters: a held record is written through them
    try:
        yield held
    finally:
        handler.removeFilter(held)
        if not held.said:
            for record in held.records:
                handler.handle(record)


def masked_traceback(exc: BaseException) -> str:
    """``exc``'s traceback as Python prints it, with the secrets the logging knows (tokens, API keys, the
    pseudonym key: :func:`configure_logging`'s) and anything shaped like a credential masked, as in a log line:
    an exception's text may quote a URL with its password or a header with its token."""
    import traceback

    handler = _our_handler()
    secrets = {s for f in (handler.filters if handler else ()) if isinstance(f, RedactingFilter) for s in f.secrets}
    # its lines stay lines; an escape sequence an error quotes from a server is shown, not obeyed
    return printable(redact_text("".join(traceback.format_exception(exc)), secrets), keep="\n")


class JsonOutput:
    """Whether the running command was asked for JSON on stdout, and whether it has printed its document.

    A command that fails before printing its document would leave a script reading its stdout with nothing to
    parse; :func:`fediscope.cli.main` prints an error document there instead (:func:`error_document`). The
    request is noted while the command line is read (:func:`json_option`, eager, so before a bad value of another
    option fails), hence these flags rather than the command's own arguments.
    """

    requested = False
    printed = False

    @classmethod
    def reset(cls) -> None:
        cls.requested = cls.printed = False


def _note_json_requested(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if value is True or str(value).lower() == "json":
        JsonOutput.requested = True
    return value


def json_option(help: str) -> Any:  # noqa: A002 - click's own name for it
    """The ``--json`` flag of a command (``as_json``), noted before the command's other options are read."""
    return click.option("--json", "as_json", is_flag=True, is_eager=True, callback=_note_json_requested, help=help)


def json_format_option(help: str) -> Any:  # noqa: A002
    """``--format text|json`` (``fmt``), ``json`` noted as :func:`json_option` notes ``--json``."""
    return click.option("--format", "fmt", type=click.Choice(["text", "json"], case_sensitive=False),
                        default="text", show_default=True, is_eager=True, callback=_note_json_requested, help=help)


def error_document(kind: str, message: str, exit_code: int) -> dict[str, Any]:
    """What a command asked for JSON prints on stdout when it fails before its own document."""
    return {"ok": False, "error": {"type": kind, "message": message, "exit_code": exit_code}}


def emit_json(data: Any) -> None:
    text = json.dumps(data, indent=2, sort_keys=True, default=str)
    JsonOutput.printed = True  # before: an interrupt while a long document is written adds no second one
    click.echo(text)


def is_terminal() -> bool:
    return sys.stderr.isatty()


def confirm_or_refuse(question: str, yes: bool, *, refused: str, to_go_on: str) -> None:
    """Ask ``question`` on stderr (stdout stays the report or the ``--json`` document alone) before what cannot be
    undone, unless ``yes`` (``--yes``). Without a terminal on stdin (a script, a scheduled task) only ``--yes`` goes
    on: refused with ``<refused>: there is no terminal to confirm on; add --yes to <to_go_on>``, a usage error
    (exit 2) that a retry does not mend; declined, ``<refused>: declined`` (exit 1). The one rule of ``store drop``,
    ``lake unlock`` and ``gdpr erase`` (was written in each, and only ``gdpr erase`` refused with exit 2)."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise ConfigError(f"{refused}: there is no terminal to confirm on; add --yes to {to_go_on}")
    if not click.confirm(question, default=False, err=True):
        raise FediscopeError(f"{refused}: declined")


def out_error(out: Path, exc: OSError) -> ConfigError:
    """An ``--out`` file that cannot be written: one clear line, not a traceback (the ``error`` of
    :func:`fediscope.files.atomic_out` for an ``--out`` option)."""
    return ConfigError(f"cannot write {out}: {exc.strerror or exc}; choose another --out (or leave it out to print "
                       "to stdout)")
