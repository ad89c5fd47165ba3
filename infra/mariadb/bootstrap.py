#!/usr/bin/env python3
"""Apply infra/mariadb/bootstrap.sql: create the fediscope database, its writer and its read-only user.

Connects as an administrator with PyMySQL (installed with fediscope), passes the new users' passwords as
session variables (bound parameters, never pasted into SQL text or shown on a command line), runs the
statements, and prints the FEDISCOPE_STORE setting to use, password masked::

    export FEDISCOPE_DB_PASSWORD="$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')"
    export FEDISCOPE_DB_RO_PASSWORD=…            # optional: also create fediscope_ro (SELECT only)
    export MARIADB_ADMIN_PASSWORD=…              # or put it in --admin-url, or use a unix socket
    python infra/mariadb/bootstrap.py --admin-url mysql://root@db.example.org:3306 --user-host '10.0.%'

``--admin-url`` also accepts ``?unix_socket=/run/mysqld/mysqld.sock`` (e.g. root via socket authentication).
A failure is one line on stderr: exit 2 for a bad option or setting (``--admin-url``, ``--database``, a missing or
short password), 1 when the bootstrap itself fails (the server unreachable, a statement refused).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

if importlib.util.find_spec("fediscope") is None:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from fediscope.redact import redact_url  # noqa: E402

SQL_FILE = Path(__file__).with_name("bootstrap.sql")
MIN_PASSWORD = 16


class BootstrapError(Exception):
    """A failure of the bootstrap itself (the server unreachable, a statement refused): exit 1."""


class UsageError(BootstrapError):
    """A bad option or setting (``--database``, ``--admin-url``, a short password): exit 2, as a bad option is
    for every fediscope command."""


def statements(sql: str, database: str = "fediscope") -> list[str]:
    """The SQL file's statements (comments dropped), with the database name replaced when asked."""
    if not re.fullmatch(r"[A-Za-z0-9_]{1,64}", database):
        raise UsageError(f"--database {database!r}: use letters, digits and _ only")
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    text = "\n".join(lines).replace("`fediscope`", f"`{database}`")
    return [s.strip() for s in re.split(r";\s*\n", text + "\n") if s.strip()]


def admin_connection_args(admin_url: str, password: str | None) -> dict[str, Any]:
    parts = urlsplit(admin_url)
    if parts.scheme.split("+")[0] not in {"mysql", "mariadb"}:
        raise UsageError(f"--admin-url must start with mysql:// or mariadb://, got {parts.scheme!r}")
    if urlsplit(redact_url(admin_url)).hostname != parts.hostname:
        # urlsplit ends the host at a password's first / ? #, and the rest of the password became the host or path
        raise UsageError(f"--admin-url {redact_url(admin_url)!r}: the password holds an unencoded / ? # or @; "
                         "percent-encode it (/ as %2F, ? as %3F, # as %23, @ as %40) or give it in "
                         "MARIADB_ADMIN_PASSWORD")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    args: dict[str, Any] = {"user": unquote(parts.username or "root"), "charset": "utf8mb4",
                            "connect_timeout": 10, "autocommit": True}
    if "unix_socket" in query:
        args["unix_socket"] = query["unix_socket"]
    else:
        try:
            port = parts.port
        except ValueError:  # not a number, or out of range: urllib's message names neither the option nor the fix
            raise UsageError(f"--admin-url {redact_url(admin_url)!r}: the port is not a number from 1 to 65535, "
                             "use e.g. mysql://root@127.0.0.1:3306") from None
        args["host"] = parts.hostname or "127.0.0.1"
        args["port"] = port or 3306
    admin_password = unquote(parts.password) if parts.password else password
    if admin_password:
        args["password"] = admin_password
    return args


def store_url(admin_url: str, database: str) -> str:
    """The FEDISCOPE_STORE value for the writer (password masked)."""
    parts = urlsplit(admin_url)
    query = parse_qs(parts.query)
    if "unix_socket" in query:
        return f"mysql+pymysql://fediscope:***@localhost/{database}?unix_socket={query['unix_socket'][-1]}"
    port = f":{parts.port}" if parts.port else ""
    host = parts.hostname or "127.0.0.1"
    host = f"[{host}]" if ":" in host else host  # an IPv6 address keeps its brackets in a URL
    return f"mysql+pymysql://fediscope:***@{host}{port}/{database}"


#: The characters a password must be written percent-encoded as in FEDISCOPE_STORE (as the README says): the rest
#: (``:``, quotes, blanks, ``& = +``…) a store URL carries as written.
URL_ENCODED = {"%": "%25", "/": "%2F", "@": "%40", "#": "%23", "?": "%3F"}


def password_in_url_note(password: str) -> str:
    """What the ``***`` of the printed FEDISCOPE_STORE stands for: the password, and how to write the characters
    of it a URL cannot carry as written (named, never the password itself). Was: ``(*** = FEDISCOPE_DB_PASSWORD)``
    alone, so a password with ``/ @ # ?`` pasted in made a URL the settings refuse, and one with ``%41`` a URL that
    logs in with another password."""
    held = [f"{char} as {code}" for char, code in URL_ENCODED.items() if char in password]
    return "(*** = FEDISCOPE_DB_PASSWORD" + (f", percent-encoded: write {', '.join(held)}" if held else "") + ")"


def bootstrap(admin_url: str, password: str, ro_password: str | None = None, database: str = "fediscope",
              user_host: str = "%", admin_password: str | None = None) -> None:
    """Create (or update) the database and users; safe to run again."""
    for name, value in (("FEDISCOPE_DB_PASSWORD", password), ("FEDISCOPE_DB_RO_PASSWORD", ro_password)):
        if value is not None and len(value) < MIN_PASSWORD:
            raise UsageError(f"{name} is shorter than {MIN_PASSWORD} characters; use a long random value, "
                                 "e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(24))'")
    import pymysql

    from fediscope.store.mysql import bounded_connection

    todo = statements(SQL_FILE.read_text(encoding="utf-8"), database)
    try:  # opened as the store opens its own: a port that says nothing, or no MySQL, fails after connect_timeout
        connection = bounded_connection(**admin_connection_args(admin_url, admin_password))
    except pymysql.MySQLError as exc:
        reason = str(exc.args[-1]).rstrip()
        ended = "" if reason.endswith((".", "?", "!")) else "."  # PyMySQL's reasons may end their own sentence
        raise BootstrapError(f"cannot connect as administrator to {redact_url(admin_url)}: {reason}{ended} Check "
                             "host, port and the admin user/password (MARIADB_ADMIN_PASSWORD)") from None
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET @fediscope_password = %s, @fediscope_ro_password = %s, @fediscope_host = %s",
                           (password, ro_password, user_host))
            for statement in todo:
                cursor.execute(statement)
    except pymysql.MySQLError as exc:
        raise BootstrapError(f"bootstrap failed on {redact_url(admin_url)}: {exc.args[-1]}. The admin user needs "
                             "CREATE, CREATE USER and GRANT OPTION") from None
    finally:
        connection.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--admin-url", default="mysql://root@127.0.0.1:3306",
                        help="administrator connection, mysql://user[:password]@host:port or "
                             "mysql://root@localhost?unix_socket=/path (default: mysql://root@127.0.0.1:3306)")
    parser.add_argument("--database", default="fediscope", help="database name (default: fediscope)")
    parser.add_argument("--user-host", default="%",
                        help="host pattern the users may connect from (default: %%, anywhere)")
    args = parser.parse_args(argv)
    password = os.environ.get("FEDISCOPE_DB_PASSWORD")
    if not password:
        print("bootstrap: error: set FEDISCOPE_DB_PASSWORD to the password of the new 'fediscope' user, e.g. "
              "export FEDISCOPE_DB_PASSWORD=\"$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')\"",
              file=sys.stderr)
        return 2
    try:
        bootstrap(args.admin_url, password, os.environ.get("FEDISCOPE_DB_RO_PASSWORD") or None, args.database,
                  args.user_host, os.environ.get("MARIADB_ADMIN_PASSWORD"))
    except BootstrapError as exc:
        print(f"bootstrap: error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, UsageError) else 1
    print(f"database {args.database} ready; users: fediscope (read-write)"
          + (", fediscope_ro (read-only)" if os.environ.get("FEDISCOPE_DB_RO_PASSWORD") else ""))
    print(f"FEDISCOPE_STORE={store_url(args.admin_url, args.database)}   {password_in_url_note(password)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
