"""The ``fediscope`` command. Each command group lives in its own module and is imported only when used."""

from __future__ import annotations

import importlib
import logging
import signal
import sys
import threading
from types import FrameType, TracebackType
from typing import Any

import click

from fediscope.console import tolerate_unencodable_output
from fediscope.errors import FediscopeError
from fediscope.interrupts import LostInterrupts, SignalRelay

#: command name → ("module:attribute" of the click command implementing it, one-line help for the listing).
COMMANDS = {
    "collect": ("fediscope.cli.collect:collect", "Collect from Mastodon instances into the raw lake."),
    "stream": ("fediscope.cli.stream:stream", "Land a streaming timeline (statuses, edits, deletions) live."),
    "serve-api": ("fediscope.cli.serve:serve_api", "Serve the scraping API (flask-restful, waitress)."),
    "sample-instance": ("fediscope.cli.sample:sample_instance",
                        "Serve a generated corpus as a Mastodon-compatible instance."),
    "lake": ("fediscope.cli.lake:lake", "Inspect the lake (ls) and remove a stale lake lock (unlock)."),
    "process": ("fediscope.cli.process:process", "Curate the raw lake, compute metrics, load the store."),
    "report": ("fediscope.cli.report:report", "Print the analyses and write charts."),
    "store": ("fediscope.cli.store:store", "Export a stored metric's rows (export), or drop one whose SQL file was "
                                           "deleted (drop)."),
    "gdpr": ("fediscope.cli.gdpr:gdpr", "Erasure, access export, retention and the processing register."),
    "doctor": ("fediscope.cli.doctor:doctor", "Check lake, store, engine, metric files, keys and instances."),
    "config": ("fediscope.cli.config:config", "Show or check the active configuration."),
}


class _Stopped(BaseException):  # noqa: N818 - a stop, as KeyboardInterrupt is, not an error
    """The KeyboardInterrupt (Ctrl-C, or SIGTERM through :class:`SigintWatch`) that ended a command, carried past
    click, whose main catches KeyboardInterrupt to write an empty line on stderr before its Abort: it closes the
    ``^C`` a terminal echoes, but after SIGTERM, or with stderr on a pipe or in a log, it was only an empty line
    before ``fediscope: stopped (SIGTERM)``. :func:`main` says it as a KeyboardInterrupt, that line included only
    where a ``^C`` can have been echoed (:func:`_interrupted`)."""


class LazyGroup(click.Group):
    """Keeps ``fediscope --help`` fast: a command's module (and its heavy imports) loads only when run."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:
            raise _Stopped from exc

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module_name, attr = COMMANDS[cmd_name][0].split(":")
        return getattr(importlib.import_module(module_name), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, COMMANDS[name][1]) for name in sorted(COMMANDS)])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="fediscope")
def cli() -> None:
    """fediscope: collect public Mastodon data into a lake and turn it into engagement analytics.

    Configuration comes from FEDISCOPE_* environment variables and an optional ./fediscope.toml
    (see `fediscope config show`).
    """


class SigintWatch:
    """Notes a Ctrl-C (SIGINT) while a command runs, then raises KeyboardInterrupt as Python's own handler does.

    Some libraries turn the KeyboardInterrupt into an error of their own: DuckDB ends the query it was running
    with ``RuntimeError: Query interrupted``. Knowing that Ctrl-C was pressed lets :func:`main` say
    "interrupted" (exit 130) for those too, instead of a traceback. Installed in the main thread over a Python
    handler only, which it then calls: Python's default one (KeyboardInterrupt), or one a host or library put
    there (PySpark's cancels its jobs, then raises KeyboardInterrupt). SIGINT ignored or handled outside Python is
    left alone. While it watches, a :class:`~fediscope.interrupts.SignalRelay` also interrupts native work that
    registered itself (a running DuckDB query) at once, instead of when that work next looks at Python.

    SIGTERM (systemd, ``timeout``, a container stopping) stops a command as Ctrl-C does, when nothing else handles
    it (a command that does, ``stream``, puts its own handler in place while it runs): the run unwinds, releasing
    the lake lock and removing what it staged, and :func:`main` says "stopped (SIGTERM)", exit 143. Without it
    the process died at once, leaving the lock and a staging directory behind. A second SIGTERM while the first
    unwinds is ignored, so the clean-up is not cut short (SIGKILL remains for that).

    A KeyboardInterrupt its handler raised while Python ran a finalizer cannot propagate (Python printed "Exception
    ignored … Traceback" and went on): :attr:`lost` is then True, without that traceback
    (:class:`~fediscope.interrupts.LostInterrupts`), and :func:`main` says "interrupted" once the command returns
    instead of exit 0; the demo stops at the end of its step.
    """

    #: The watch of the running command (:func:`main`'s), if any: see :func:`stopped_by_signal`.
    current: SigintWatch | None = None

    def __init__(self) -> None:
        self.seen = False
        self.terminated = False  # the signal seen was SIGTERM
        self._previous: Any = None
        self._previous_term: Any = None
        self._relay = SignalRelay((signal.SIGINT, signal.SIGTERM))
        self._lost = LostInterrupts(lambda: self.seen)

    @property
    def lost(self) -> bool:
        """Whether the last KeyboardInterrupt raised for a signal was lost in a finalizer (see the class)."""
        return self._lost.lost

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGTERM:
            if self.seen:
                return
            self.terminated = True
        self.seen = True
        self._lost.delivering()
        if self._previous is None or self._previous is signal.default_int_handler:  # SIGTERM, SIGINT not watched
            raise KeyboardInterrupt
        self._previous(signal.SIGINT, frame)

    def __enter__(self) -> SigintWatch:
        SigintWatch.current = self
        if threading.current_thread() is not threading.main_thread():
            return self
        if callable(signal.getsignal(signal.SIGINT)):
            self._previous = signal.signal(signal.SIGINT, self._handle)
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:  # also where SIGINT is ignored (`nohup`, `cmd &`)
            self._previous_term = signal.signal(signal.SIGTERM, self._handle)
        if self._previous is not None or self._previous_term is not None:
            self._relay.__enter__()
            self._lost.__enter__()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if SigintWatch.current is self:
            SigintWatch.current = None
        if self._previous is not None or self._previous_term is not None:
            self._lost.__exit__(kind, exc, tb)
            self._relay.__exit__(kind, exc, tb)
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        if self._previous_term is not None:
            signal.signal(signal.SIGTERM, self._previous_term)


def stopped_by_signal() -> bool:
    """Whether Ctrl-C or SIGTERM reached the running command: a command that says what it finished before it was
    stopped (``process``) asks when what ended it is an error of a library's own (DuckDB's ``Query
    interrupted``), which :func:`main` reports as the interruption it was."""
    watch = SigintWatch.current
    return watch is not None and watch.seen


def _say_json_error(kind: str, message: str, exit_code: int) -> None:
    """The error document on stdout, when the command was asked for JSON and printed none of its own."""
    from fediscope.cli.common import JsonOutput, emit_json, error_document

    if JsonOutput.requested and not JsonOutput.printed:
        emit_json(error_document(kind, message, exit_code))


def _json_in(error: click.ClickException, args: list[str]) -> bool:
    """Whether the command line that failed with ``error`` before its options were read asks for JSON: ``--json``
    or a last ``--format`` of ``json``, each only where the failed command has that option (``gdpr export --json``
    is an unknown option, not a request: that command prints its own JSON), read as click reads the line (a
    token that is another option's value is that value)."""
    found = _failed_command(args) if isinstance(error, click.UsageError) else None
    if found is None:
        return False
    command, tokens = found
    options = {name: param for param in command.params if isinstance(param, click.Option)
               for name in (*param.opts, *param.secondary_opts)}
    as_json, fmt = False, None
    at = 0
    while at < len(tokens):
        name, has_value, value = tokens[at].partition("=")
        if tokens[at] == "--":  # arguments only from here
            break
        param = options.get(name)
        at += 1
        if param is None:
            continue
        if param.name == "as_json" and not has_value:
            as_json = True
        elif not param.is_flag and not param.count:
            if not has_value:  # the next token is the value, whatever it looks like
                value = tokens[at] if at < len(tokens) else ""
                at += param.nargs
            if param.name == "fmt":
                fmt = value
    return as_json or (fmt or "").lower() == "json"


def _failed_command(args: list[str]) -> tuple[click.Command, list[str]] | None:
    """The command ``args`` name (``gdpr export``) and the tokens after its name; None for a group alone or an
    unknown command. The groups have flags only (--help, --version): their first other token is the command."""
    command: click.Command = cli
    tokens = list(args)
    while isinstance(command, click.Group):
        at = next((i for i, token in enumerate(tokens) if not token.startswith("-")), None)
        sub = command.get_command(click.Context(command), tokens[at]) if at is not None else None
        if sub is None:
            return None
        command, tokens = sub, tokens[at + 1:]
    return command, tokens


def _show_click_error(error: click.ClickException) -> None:
    """click's error (a usage error: ``Usage: …``, ``Try …``, ``Error: …``) as click prints it; with
    ``FEDISCOPE_LOG_FORMAT=json`` one JSON line instead: the message (the help text itself for a group given no
    command), ``exit_code``, and ``usage`` (``fediscope collect [OPTIONS]``) for a usage error."""
    from fediscope.cli.common import logs_json, say

    if not logs_json():
        error.show()
        return
    fields: dict[str, Any] = {"exit_code": error.exit_code}
    if isinstance(error, click.UsageError) and error.ctx is not None:
        fields["usage"] = error.ctx.get_usage().removeprefix("Usage:").strip()
    say(error.format_message(), level=logging.ERROR, **fields)


def _interrupted(terminated: bool = False) -> None:
    """Say that the command was stopped, and exit 130 (Ctrl-C) or 143 (SIGTERM). After Ctrl-C on a terminal, an
    empty line first, as click writes one: it ends the line the terminal's ``^C`` echo was written on."""
    if threading.current_thread() is threading.main_thread():  # everything is cleaned up: another Ctrl-C now
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # would only turn this exit into a traceback
    message, code = ("stopped (SIGTERM)", 128 + signal.SIGTERM) if terminated else ("interrupted", 130)
    _say_json_error("Interrupted", message, code)
    from fediscope.cli.common import is_terminal, logs_json, say

    if not terminated and is_terminal() and not logs_json():
        click.echo(err=True)

    say(message, level=logging.WARNING, prefix="fediscope: ", exit_code=code)
    sys.exit(code)


def main(argv: list[str] | None = None) -> Any:
    """Entry point: expected failures become one clear line on stderr and a non-zero exit, never a traceback.

    Ctrl-C is one line and exit 130, also when a library reported it as an error of its own. A command asked for
    JSON (``--json``, ``--format json``) that fails before printing its document prints an error document on
    stdout instead (:func:`~fediscope.cli.common.error_document`), so a script reading it has something to parse.
    A character the terminal's encoding lacks (an emoji on a Latin-1 or ASCII terminal) is printed readably
    instead of failing (:mod:`fediscope.console`).
    """
    from fediscope.cli.common import (
        JsonOutput,
        logs_json,
        masked_traceback,
        reset_log_format,
        say,
        use_log_format_without_settings,
    )

    tolerate_unencodable_output()
    JsonOutput.reset()
    reset_log_format()
    with SigintWatch() as sigint:
        try:
            result = cli.main(args=argv, prog_name="fediscope", standalone_mode=False)
            if sigint.lost:  # Ctrl-C (or SIGTERM) raised in a finalizer, where it could not stop the command
                raise KeyboardInterrupt
            return result
        except (KeyboardInterrupt, _Stopped):
            use_log_format_without_settings()
            _interrupted(sigint.terminated)
        except Exception as exc:
            use_log_format_without_settings()  # a usage error, or settings that cannot be read: no format chosen
            # e.g. DuckDB's "RuntimeError: Query interrupted", or click's Abort for Ctrl-C (its KeyboardInterrupt
            # as cause, also when a handler other than the watch's raised it)
            if sigint.seen or isinstance(exc, click.exceptions.Abort) and isinstance(exc.__cause__, KeyboardInterrupt):
                _interrupted(sigint.terminated)
            if isinstance(exc, FediscopeError):
                _say_json_error(type(exc).__name__, str(exc), exc.exit_code)
                say(str(exc), level=logging.ERROR, prefix="fediscope: error: ", exit_code=exc.exit_code)
                sys.exit(exc.exit_code)
            if isinstance(exc, click.exceptions.Abort):
                _say_json_error("Aborted", "aborted", 130)
                say("aborted", level=logging.WARNING, prefix="fediscope: ", exit_code=130)
                sys.exit(130)
            if isinstance(exc, click.ClickException):
                if _json_in(exc, sys.argv[1:] if argv is None else argv):
                    JsonOutput.requested = True  # the command line failed before its options were read
                _say_json_error(type(exc).__name__, exc.format_message(), exc.exit_code)
                _show_click_error(exc)
                sys.exit(exc.exit_code)
            # a bug: its traceback follows on stderr (the document does not quote it: it may hold anything)
            _say_json_error("InternalError", f"unexpected {type(exc).__name__}; see the traceback on stderr", 1)
            if logs_json():  # the traceback as one JSON line (masked), not as lines a log shipper cannot parse
                say(f"unexpected {type(exc).__name__}", level=logging.CRITICAL, exc_info=exc, exit_code=1)
                sys.exit(1)
            click.echo(masked_traceback(exc).rstrip("\n"), err=True)  # masked as log lines are
            sys.exit(1)
