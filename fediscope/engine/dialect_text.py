"""Text functions Spark runs with another meaning than DuckDB, written for Spark so that it gives DuckDB's answer,
or refused (:func:`check_text_portable`) where no translation is faithful.

* ``substring(s, p, l)``/``substr``: DuckDB counts a start of 0 as one before the first character (``substr('hello',
  0, 2)`` is ``h``; Spark ``he``) and takes a negative length backwards from the start (``substr('hello', 3, -1)`` is
  ``e``; Spark ``''``). Without a length, or with a start other than 0 and a length of 0 or more written as numbers,
  both agree; otherwise written as DuckDB's bounds (:func:`_duckdb_substring`).
* ``left(s, n)``/``right(s, n)`` with ``n`` negative: all but the last (first) ``-n`` characters in DuckDB, ``''`` in
  Spark.
* ``regexp_replace(s, p, r, 'g')``: DuckDB (RE2) reads ``\\1`` in ``r`` as the first group and ``$`` as itself, Spark
  (Java) ``$1`` as the group, ``\\1`` as ``1``, and a lone ``$`` fails the run; a quoted ``r`` is rewritten, another
  is refused.
* ``s LIKE p``/``ILIKE`` without ``ESCAPE``: DuckDB has no escape character (``\\`` matches itself), Spark's is ``\\``
  (``'a\\_b'`` matches ``a_b``, not ``a\\_b``); the pattern's backslashes are doubled for Spark. ``ILIKE`` (DuckDB:
  ``lower(s) LIKE lower(p)``) as a ``LIKE`` of both sides lowered as DuckDB lowers them (Spark's lowers them with
  Java's ``LOWER``: ``'ΟΣ' ILIKE '%σ'`` was false, ``'İx' ILIKE 'i_'`` too). ``ILIKE … ESCAPE`` of a letter with a case
  is refused (DuckDB keeps the escape character as written, the lowered pattern would not have it), and so is an
  ``ESCAPE`` of more than one byte (DuckDB refuses it, Spark took it); ``ESCAPE ''`` (none, in DuckDB; Spark fails)
  is written as the ``LIKE`` alone.
* ``upper``/``lower``: Java maps some characters to two or three (``ß`` to ``SS``, ``İ`` to ``i̇``), a final ``Σ`` to
  ``ς``, and characters of a newer Unicode, where DuckDB maps one to one (``ẞ``, ``i``, ``σ``) or not at all
  (:mod:`fediscope.engine.case_mapping`): those characters are set aside before Spark's ``UPPER``/``LOWER`` and put
  back as DuckDB maps them.
* regular expressions (``regexp_matches``, ``~``, ``regexp_extract``, ``regexp_replace``, ``string_split_regex``, …):
  a ``$`` anchor as ``\\z`` (Java's also matches before a final line break), Java's flag ``d`` with a ``.`` (Java's
  matches no ``\\r``), ``u`` with ``(?i)`` or the option ``'i'`` (which sqlglot dropped; Java folds ASCII only
  without it), ``\\s``/``\\S``/``\\v``/``\\b``/``\\B`` as RE2's, an octal escape as ``\\x{…}``, a ``{`` that
  begins no repetition (``a{,2}``: RE2 reads it as itself, Java fails), ``[`` and ``&`` in a class escaped (Java: a
  nested class, an intersection), and ``SIMILAR TO``/``regexp_full_match``, which Spark has not, as
  ``RLIKE '^(?:p)\\z'`` (:func:`_java_pattern`); refused: a pattern that is not quoted text, the multi-line flag
  ``m``, RE2's flag ``U`` (lazy repetitions; Java's ``U`` is Unicode classes), an escape RE2 has not (``\\8``,
  ``\\1`` alone, ``\\Z``, ``\\b`` in a class: DuckDB fails the run, Java read a back reference or another escape),
  RE2's ``\\C`` (any byte: Java has no such escape, Spark fails the run) and other options. RE2's named group
  ``(?P<name>…)``, which Java fails on, as a group of the same number without its name.
* ``split_part(s, d, i)``: ``''`` for ``i`` 0 or beyond an INT (Spark fails the run) and the ``i``-th character for
  ``d`` empty (Spark: the whole text or ``''``). An index DuckDB refuses (a DECIMAL, DOUBLE or HUGEINT: Spark cut
  its fraction off) is refused by its type (``fediscope.engine.dialect._check_typed``).
* ``regexp_extract(s, p, ['a', 'b'])`` (a struct of the groups, named): refused, for a struct of one
  ``regexp_extract`` per group, which Spark runs.
* ``INTERVAL (n) DAY`` of a computed ``n``, which Spark does not parse: refused for ``n * INTERVAL 1 DAY``.
* ``to_timestamp(x)``: to the nearest microsecond, as DuckDB (sqlglot's ``FROM_UNIXTIME`` dropped the fraction),
  and beyond 2^63 microseconds (about the year 294247) failing with DuckDB's message. (A result beyond the year 9999,
  which no store holds, is refused on both: :func:`~fediscope.engine.metric_state.normalize_table`.)
* ``chr(n)``: the character of code point ``n``, as DuckDB, written as its UTF-32 bytes decoded (Spark's ``CHR``
  takes ``n`` modulo 256: ``chr(8233)``, DuckDB's paragraph separator, was ``)``); of a number, the character itself
  (a constant, as a VALUES row needs); kept for a number up to 255.
* refused: ``hash()`` (another hash function in each engine), ``mode()`` (of values tied for the most rows, the one
  each engine meets first: the rows' order), ``arg_max``/``arg_min``/``max_by``/``min_by`` (of rows tied on the
  value, the one each engine meets first; DuckDB also skips a row whose result is NULL, Spark gives that NULL), and
  ``reverse()`` of text (DuckDB keeps a character's combining marks and an emoji's modifiers with it, Spark reverses
  code points); a POSIX class in a regular expression or ``SIMILAR TO`` pattern (``[[:alpha:]]``: RE2 knows them,
  Java reads the brackets as a set of the characters ``:alph``).
"""

from __future__ import annotations

import re

import sqlglot
from sqlglot import exp

from fediscope.engine.case_mapping import LOWER_DUCKDB, LOWER_FROM, UPPER_DUCKDB, UPPER_FROM

#: the functions whose ``expression`` is a regular expression
_REGEXP_FUNCTIONS = (exp.RegexpLike, exp.RegexpILike, exp.RegexpExtract, exp.RegexpExtractAll, exp.RegexpReplace,
                     exp.RegexpSplit, exp.RegexpFullMatch)
#: a POSIX class in brackets, ``[:alpha:]``: RE2 knows them, Java reads ``[[:alpha:]]`` as a set of characters
_POSIX_CLASS = re.compile(r"\[:\^?[a-z]+:\]")
#: the regular expressions matched whole: ``s SIMILAR TO p`` and ``regexp_full_match(s, p)`` (Spark has neither)
_FULL_MATCH = (exp.SimilarTo, exp.RegexpFullMatch)
#: the argument holding DuckDB's options of each regular expression function (``regexp_matches(s, p, 'i')``)
_OPTIONS = {exp.RegexpLike: "flag", exp.RegexpExtract: "parameters", exp.RegexpExtractAll: "parameters",
            exp.RegexpReplace: "modifiers", exp.RegexpFullMatch: "options"}
#: DuckDB's error for ``to_timestamp`` of seconds beyond 2^63 microseconds (about the year 294247) or NaN
_EPOCH_RANGE = "Epoch seconds out of range for TIMESTAMP WITH TIME ZONE"


class TextNotPortable(ValueError):
    """A text construct :func:`check_text_portable` refuses; its message says what to write instead."""


#: the first of the code points (Unicode's last private-use plane) that stand in for the characters whose case is
#: set aside while Spark maps the rest (text in a metric never holds them: no curated column does)
_PLACEHOLDER = 0x10FE00


def check_text_portable(node: exp.Expression) -> None:
    """Raise :class:`TextNotPortable` when ``node`` is a text construct that differs between the engines and is not
    translated."""
    if isinstance(node, exp.RegexpReplace):
        replacement = node.args.get("replacement")
        if replacement is not None and not (isinstance(replacement, exp.Literal) and replacement.is_string):
            raise TextNotPortable(
                f"regexp_replace() with a replacement that is not quoted text ({replacement.sql('duckdb')}) is not "
                "translated to Spark SQL (DuckDB reads \\1 in it as a group and $ as itself, Spark $1 as the group "
                "and \\ as an escape); write the replacement as quoted text")
        if replacement is not None:
            _java_replacement(replacement.name)  # refuses what DuckDB would refuse when the metric runs
    if isinstance(node, exp.RegexpExtract) and isinstance(node.args.get("group"), exp.Array):
        names = node.args["group"].expressions
        text, pattern = node.this.sql("duckdb"), node.expression.sql("duckdb")
        fields = ", ".join(f"{name.sql('duckdb')}: regexp_extract({text}, {pattern}, {i})"
                           for i, name in enumerate(names, 1))
        raise TextNotPortable(
            f"regexp_extract() with a list of group names ({node.sql('duckdb')}) is not a Spark function (Spark "
            f"takes one group's number); write one regexp_extract per group in a struct: {{{fields}}}")
    if isinstance(node, (*_REGEXP_FUNCTIONS, *_FULL_MATCH)):
        _check_pattern(node)
    if isinstance(node, (*_REGEXP_FUNCTIONS, *_FULL_MATCH)) and isinstance(node.expression, exp.Literal):
        bracketed = _POSIX_CLASS.search(node.expression.name)
        if bracketed:
            raise TextNotPortable(
                f"the regular expression {node.expression.name!r} has the POSIX class {bracketed.group(0)}, which "
                "DuckDB (RE2) knows and Spark (Java) reads as the characters it is written with; write the "
                "characters instead: [a-zA-Z] for [:alpha:], [0-9] for [:digit:], [\\s\\v] for [:space:]")
    if isinstance(node, exp.Escape) and isinstance(node.this, exp.Like | exp.ILike):
        escape = node.expression
        if isinstance(escape, exp.Literal) and escape.is_string and len(escape.name.encode()) > 1:
            raise TextNotPortable(
                f"{node.sql('duckdb')} has the escape character {escape.name!r}, one character but of more than one "
                "byte in UTF-8, which DuckDB refuses, counting bytes (its message: \"Escape string must be empty or "
                "one character\"), and Spark takes; write an ASCII escape character, e.g. ESCAPE '!' (with '!%' for "
                "a %)")
    if isinstance(node, exp.Escape) and isinstance(node.this, exp.ILike):
        escape = node.expression
        if isinstance(escape, exp.Literal) and escape.is_string and escape.name.lower() != escape.name.upper():
            raise TextNotPortable(
                f"{node.sql('duckdb')} has an escape character with a case ({escape.name!r}), which DuckDB keeps as "
                "it is written while it matches the pattern's letters in either case; Spark SQL (both sides lowered) "
                "would lower it with them (ESCAPE 'X' would not escape, an 'x' would); write an escape character "
                "without a case, e.g. ESCAPE '!' (with '!%' for a %)")
    if isinstance(node, exp.Anonymous) and node.name.upper() == "HASH":
        raise TextNotPortable("hash() is another hash function in DuckDB than in Spark (other numbers); write md5(x) "
                              "or sha256(x), alike in both")
    if isinstance(node, exp.Mode):
        raise TextNotPortable(
            f"mode() ({node.sql('duckdb')}) gives, of values tied for the most rows, the one each engine meets "
            "first, which differs between DuckDB and Spark; count the rows per value and rank them, ties broken by "
            "the value: row_number() OVER (ORDER BY count(*) DESC, x) = 1, with QUALIFY")
    if isinstance(node, exp.ArgMax | exp.ArgMin):
        raise TextNotPortable(
            f"{node.sql('duckdb')} gives, of rows tied on the value, the one each engine meets first, which differs "
            "between DuckDB and Spark (and DuckDB skips a row whose result is NULL, Spark gives it); take the first "
            "row of a ranking that breaks ties: row_number() OVER (PARTITION BY … ORDER BY value DESC, result) = 1, "
            "with QUALIFY")
    if isinstance(node, exp.Interval) and node.this is not None and not isinstance(node.this, exp.Literal):
        raise TextNotPortable(
            f"an INTERVAL of a computed value ({node.sql('duckdb')}) is not translated to Spark SQL (Spark does not "
            "parse it, and fails the run); write n * INTERVAL 1 DAY, alike in both (DuckDB's INTERVAL (n) DAY cuts a "
            "fraction of n off, in every unit but SECOND: the same for a whole n)")
    if isinstance(node, exp.Reverse):
        raise TextNotPortable(
            f"reverse() ({node.sql('duckdb')}) keeps a character's combining marks and an emoji's modifiers with it "
            "in DuckDB, and reverses code points in Spark; it is not translated to Spark SQL")


def _check_pattern(node: exp.Expression) -> None:
    """Refuse a regular expression :func:`_java_pattern` cannot write for Java as RE2 reads it: one that is not
    quoted text, one with the multi-line flag, and options other than ``'i'``/``'c'`` (and ``'g'``)."""
    pattern = node.expression
    if not (isinstance(pattern, exp.Literal) and pattern.is_string):
        raise TextNotPortable(
            f"a regular expression that is not quoted text ({node.sql('duckdb')}) is not translated to Spark SQL "
            "(Java reads $, . and (?i) otherwise than RE2, and only a quoted one is rewritten); write the pattern "
            "as quoted text")
    flags = _scanned(pattern.name)[2]
    if "U" in flags:
        raise TextNotPortable(
            f"the regular expression {pattern.name!r} has the flag U, which makes repetitions lazy in DuckDB (RE2) "
            "and \\w, \\d and \\b Unicode's in Spark (Java); it is not translated to Spark SQL: write each "
            "repetition lazy instead (x*? for x*, x+? for x+)")
    if "m" in flags:
        raise TextNotPortable(
            f"the regular expression {pattern.name!r} has the multi-line flag m, whose ^ and $ match at other line "
            "breaks in DuckDB (RE2: \\n only) than in Spark (Java: also \\r, and ^ not after a final one); it is "
            "not translated to Spark SQL: match the line breaks themselves, (^|\\n)x(\\n|\\z)")
    _options(node)


def _options(node: exp.Expression) -> bool:
    """Whether DuckDB's options of the regular expression function ``node`` make it case-insensitive (``'i'``);
    raises :class:`TextNotPortable` for options that are not quoted text or are others than ``i``, ``c`` (the
    default) and ``g`` (``regexp_replace``'s every match)."""
    options = node.args.get(_OPTIONS.get(type(node), ""))
    if options is None:
        return False
    if not (isinstance(options, exp.Literal) and options.is_string):
        raise TextNotPortable(f"{node.sql('duckdb')}: options that are not quoted text are not translated to Spark "
                              "SQL; write them as quoted text ('i')")
    allowed = "icg" if isinstance(node, exp.RegexpReplace) else "ic"
    other = sorted(set(options.name) - set(allowed))
    if other or {"i", "c"} <= set(options.name):
        raise TextNotPortable(
            f"{node.sql('duckdb')}: the option {(other or ['c'])[0]!r} is not translated to Spark SQL (only 'i', "
            "case-insensitive, and 'g' for regexp_replace); write it as an inline flag in the pattern where both "
            "engines know it ((?s) for '.' to match a line break)")
    return "i" in options.name


#: RE2's shorthand classes Java reads otherwise, outside a class: ``\s`` (Java's also takes the vertical tab),
#: ``\v`` (RE2's the vertical tab, Java's every vertical space), ``\b``/``\B`` (Java's see non-ASCII letters as word
#: characters, RE2's only ``\w``'s ASCII ones)
_SHORTHANDS = {
    "s": "[\\t\\n\\f\\r ]", "S": "[^\\t\\n\\f\\r ]", "v": "\\x{0B}",
    "b": "(?:(?<=\\w)(?!\\w)|(?<!\\w)(?=\\w))", "B": "(?:(?<=\\w)(?=\\w)|(?<!\\w)(?!\\w))",
}
#: the same inside a class (``\S`` as Java's nested class, a union; ``\b`` is refused there by RE2)
_CLASS_SHORTHANDS = {"s": "\\t\\n\\f\\r ", "S": "[^\\t\\n\\f\\r ]", "v": "\\x{0B}"}
#: an inline flag group at its ``(``, ``(?i)`` or ``(?s-i:…)``: its flags, and those it turns off
_FLAG_AT = re.compile(r"\(\?([a-zA-Z]*)(?:-([a-zA-Z]*))?[:)]")
#: RE2's octal escape: ``\0`` and up to two more octal digits, or ``\1``–``\7`` and one or two more (Java reads ``\1``
#: as a back reference, and wants ``\0`` before an octal number)
_OCTAL = re.compile(r"\\(0[0-7]{0,2}|[1-7][0-7]{1,2})")
#: the letters RE2 reads after a backslash (outside a class, and inside one): any other letter, a digit that starts
#: no octal escape (``\8``, ``\1`` alone: RE2 has no back references) or a non-ASCII character is an invalid escape
#: sequence to DuckDB, which fails the run, where Java reads a back reference (``(a)\1`` matched ``aa``; ``a\8``,
#: to a group that is not there, matched nothing) or another escape (``\Z``, ``\h``, ``\R``)
_RE2_ESCAPES = "afnrtvxpPdDsSwWbBAzC"  # \C (any byte), which Java has not, is refused by _scanned
_RE2_CLASS_ESCAPES = "afnrtvxpPdDsSwW"
#: a repetition RE2 reads at a ``{``: ``{n}``, ``{n,}`` or ``{n,m}``; RE2 reads any other ``{`` as itself (``a{,2}``),
#: where Java fails the run (PatternSyntaxException: Illegal repetition)
_REPETITION = re.compile(r"\{[0-9]+(?:,[0-9]*)?\}")
#: RE2's named group, ``(?P<name>``: Java's is ``(?<name>`` (of ASCII letters and digits only), and Java fails the
#: run on RE2's; its name is of no use in either (DuckDB's regexp_extract with a list of names is refused)
_NAMED_GROUP = re.compile(r"\(\?P<[^>]*>")


def _scanned(pattern: str) -> tuple[str, bool, str]:
    """RE2's ``pattern`` written for Java (see :func:`_java_pattern`), whether it has a ``.`` outside a class, and
    the flags its inline flag groups turn on (read outside a class and not after a backslash, unlike a search)."""
    out: list[str] = []
    i, dot, flags = 0, False, ""
    first = -1  # inside a class: the position of its first character (a ] there is itself), else -1
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("\\Q", i):  # quoted up to \E: copied as it is
            end = pattern.find("\\E", i + 2)
            end = len(pattern) if end < 0 else end + 2
            out.append(pattern[i:end])
            i = end
            continue
        if char == "\\":
            octal = _OCTAL.match(pattern, i)
            if octal:
                out.append(f"\\x{{{int(octal.group(1), 8):X}}}")
                i = octal.end()
                continue
            following = pattern[i + 1:i + 2]
            if following == "C" and first < 0:
                raise TextNotPortable(
                    f"the regular expression {pattern!r} has the escape \\C, any byte to DuckDB (RE2: 'é' is two), "
                    "an escape Java has not (Spark fails the run); it is not translated to Spark SQL: write . for any "
                    "character, (?s). to take a line break too")
            if following and (following.isalnum() or not following.isascii()) and following not in (
                    _RE2_CLASS_ESCAPES if first >= 0 else _RE2_ESCAPES):
                raise TextNotPortable(
                    f"the regular expression {pattern!r} has the escape \\{following}, an invalid escape sequence "
                    "to DuckDB (RE2, which has no back references), which fails the run, where Spark (Java) reads a "
                    "back reference or another escape; it is not translated to Spark SQL: write the character itself "
                    f"(\\x{{{ord(following):X}}}), or repeat a group's pattern instead of referring to it")
            if following in ("x", "p", "P") and pattern.startswith("{", i + 2):  # \x{41}, \p{Greek}: copied
                end = pattern.find("}", i + 3)
                end = len(pattern) if end < 0 else end + 1
                out.append(pattern[i:end])
                i = end
                continue
            shorthands = _CLASS_SHORTHANDS if first >= 0 else _SHORTHANDS
            out.append(shorthands.get(following, pattern[i:i + 2]))
            i += 2
            continue
        if first >= 0:
            if char == "]" and i > first:
                first = -1
            elif char in "[&":  # Java: a nested class, and && an intersection; RE2: the characters themselves
                char = "\\" + char
        elif char == "[":
            first = i + 2 if pattern.startswith("[^", i) else i + 1
        elif char == "$":
            char = "\\z"
        elif char == ".":
            dot = True
        elif char == "{" and not _REPETITION.match(pattern, i):
            char = "\\{"
        elif char == "(":
            group = _FLAG_AT.match(pattern, i)
            if group:
                flags += group.group(1)
            named = _NAMED_GROUP.match(pattern, i)
            if named:  # RE2's (?P<name>…), which Java fails on: a group of the same number without its name
                out.append("(")
                i = named.end()
                continue
        out.append(char)
        i += 1
    return "".join(out), dot, flags


def _java_pattern(pattern: str, insensitive: bool = False, full: bool = False) -> str:
    """RE2's ``pattern`` (DuckDB) as a Java pattern (Spark) that matches the same text:

    * ``$`` outside a class ``\\z``: Java's ``$`` also matches before a final line break (``'a\\n' ~ 'a$'`` is
      true on Spark), RE2's only at the end (multi-line patterns are refused by :func:`_check_pattern`);
    * with a ``.``, Java's flag ``d`` (UNIX_LINES): Java's ``.`` matches no ``\\r``, ``\\u0085``, ``\\u2028`` or
      ``\\u2029``, RE2's every character but ``\\n``;
    * case-insensitive (the option ``'i'``: Java's flag ``i`` on the whole pattern), and wherever ``(?i)`` is in the
      pattern, Java's flag ``u`` (UNICODE_CASE, which only changes what ``i`` folds) too: Java folds only ASCII
      letters without it (``'É' ~ '(?i)é'`` is false on Spark); a ``(?i:…)`` group stays the only part folded;
    * ``\\s``, ``\\S``, ``\\v``, ``\\b`` and ``\\B`` as RE2 reads them (:data:`_SHORTHANDS`), an octal escape as
      ``\\x{…}``, and in a class ``[`` and ``&`` escaped (Java reads them as a nested class and an intersection);
    * a ``{`` that does not begin a repetition ``{n}``, ``{n,}`` or ``{n,m}`` escaped: RE2 reads it as itself
      (``a{,2}``), Java fails the run;
    * ``full`` (``SIMILAR TO``): the whole text, ``^(?:pattern)\\z``."""
    body, dot, flags = _scanned(pattern)
    if full:
        body = f"^(?:{body})\\z"
    folded = insensitive or "i" in flags
    java_flags = ("i" if insensitive else "") + ("d" if dot else "") + ("u" if folded else "")
    return f"(?{java_flags}){body}" if java_flags else body


def spark_text_functions(statement: exp.Expression) -> exp.Expression:
    """``statement`` with the text functions of the module docstring written so that Spark gives DuckDB's answer
    (deepest first, so that a function's arguments are written before it copies them). ``LIKE … ESCAPE ''`` is a
    ``LIKE`` without an escape character in DuckDB, which Spark refuses (an escape of one character only): written
    as the ``LIKE`` alone (backslashes then doubled, as DuckDB has no escape character)."""
    for escape in list(statement.find_all(exp.Escape)):
        if (isinstance(escape.this, exp.Like | exp.ILike) and isinstance(escape.expression, exp.Literal)
                and escape.expression.is_string and escape.expression.name == ""):
            if escape is statement:
                statement = escape.this
            else:
                escape.replace(escape.this)
    for node in reversed(list(statement.walk())):
        written = _written(node)
        if written is not node:
            if node is statement:
                return written
            node.replace(written)
    return statement


def _written(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Substring):
        return _duckdb_substring(node)
    if isinstance(node, exp.Left | exp.Right):
        return _duckdb_left_right(node)
    if isinstance(node, exp.Like | exp.ILike) and not isinstance(node.parent, exp.Escape):
        pattern = node.expression
        if isinstance(pattern, exp.Literal) and pattern.is_string:
            pattern.replace(exp.Literal.string(pattern.name.replace("\\", "\\\\")))
        else:
            pattern.replace(_template("REPLACE(P, '\\\\', '\\\\\\\\')", P=pattern))
    if isinstance(node, exp.ILike):
        # DuckDB: lower(s) LIKE lower(p), with its lower(); Spark's ILIKE lowers both with Java's ('ΟΣ' to 'ος',
        # 'İ' to two characters): written as a LIKE of both lowered as DuckDB lowers them
        return exp.Like(this=_duckdb_lower(node.this), expression=_duckdb_lower(node.expression),
                        negate=node.args.get("negate"))
    if isinstance(node, exp.Like):
        return node
    if isinstance(node, _FULL_MATCH):
        pattern = _java_pattern(node.expression.name, _options(node), full=True)
        return exp.RegexpLike(this=node.this.copy(), expression=exp.Literal.string(pattern))
    if isinstance(node, _REGEXP_FUNCTIONS):
        insensitive = _options(node)
        if type(node) in _OPTIONS and not isinstance(node, exp.RegexpReplace):
            node.set(_OPTIONS[type(node)], None)
        node.expression.replace(exp.Literal.string(_java_pattern(node.expression.name, insensitive)))
        replacement = node.args.get("replacement")
        if isinstance(replacement, exp.Literal) and replacement.is_string:
            replacement.replace(exp.Literal.string(_java_replacement(replacement.name)))
        return node
    if isinstance(node, exp.UnixToTime) and not node.args.get("scale") and not node.args.get("zone"):
        # DuckDB: the seconds times 10^6 as a DOUBLE, to the nearest microsecond (a tie to even, as RINT);
        # sqlglot's FROM_UNIXTIME drops the fraction. Beyond 2^63 microseconds (and NaN) DuckDB fails with its
        # message, where Spark's cast to BIGINT failed with its own (CAST_OVERFLOW of a DOUBLE): the same here
        return _template(
            "CASE WHEN X IS NULL THEN NULL WHEN ABS(CAST(X AS DOUBLE) * 1000000) < 9.223372036854775807E18 "
            "THEN TIMESTAMP_MICROS(CAST(RINT(CAST(X AS DOUBLE) * 1000000) AS BIGINT)) "
            f"ELSE RAISE_ERROR('{_EPOCH_RANGE}') END", X=node.this)
    if isinstance(node, exp.SplitPart):
        return _duckdb_split_part(node)
    if isinstance(node, exp.Chr) and len(node.expressions) == 1:
        point = _whole(node.expressions[0])
        if point is not None and 0 <= point <= 255:
            return node  # alike
        if point is not None and 0 <= point <= 0x10FFFF and not 0xD800 <= point <= 0xDFFF:
            return exp.Literal.string(chr(point))  # a constant, as a VALUES row needs (Spark's DECODE is not one)
        # DuckDB: the character of that code point; Spark's CHR: of the code point modulo 256 (CHR(8233) is ")")
        return _template("DECODE(UNHEX(LPAD(HEX(CAST(N AS BIGINT)), 8, '0')), 'UTF-32')", N=node.expressions[0])
    if isinstance(node, exp.Upper):
        return _case_mapped(node, "UPPER", UPPER_FROM, UPPER_DUCKDB)
    if isinstance(node, exp.Lower):
        return _duckdb_lower(node.this)
    return node


def _duckdb_lower(text: exp.Expression) -> exp.Expression:
    """Spark SQL for DuckDB's ``lower(text)`` (:func:`_case_mapped`; a final ``Σ`` too is ``σ``)."""
    return _case_mapped(exp.Lower(this=text), "LOWER", LOWER_FROM + "\u03a3", LOWER_DUCKDB + "\u03c3")


def _template(spark_sql: str, **values: exp.Expression) -> exp.Expression:
    """``spark_sql`` parsed, each of its columns named a key of ``values`` replaced by a copy of its value."""
    tree = sqlglot.parse_one(spark_sql, read="spark")

    def put(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Column) and not node.table and node.name in values:
            value = values[node.name].copy()
            simple = isinstance(value, exp.Column | exp.Literal | exp.Func | exp.Paren)
            return value if simple else exp.Paren(this=value)
        return node
    return tree.transform(put)


def _whole(node: exp.Expression | None) -> int | None:
    """``node``'s value when it is a whole number written as one (``-1`` included) that Spark's INT holds (Spark
    casts a position or length to INT, and fails the run on a larger one, where DuckDB takes a BIGINT), else None."""
    if isinstance(node, exp.Neg):
        inner = _whole(node.this)
        return None if inner is None else -inner
    if isinstance(node, exp.Literal) and not node.is_string and node.is_int and abs(int(node.to_py())) < 2**31:
        return int(node.to_py())
    return None


def _duckdb_substring(node: exp.Substring) -> exp.Expression:
    """``substring(s, p, l)`` with DuckDB's bounds: from ``b`` = ``p - 1`` (``p`` > 0), ``length(s) + p`` (``p`` < 0)
    or -1 (``p`` = 0), ``l`` characters forward, or ``-l`` back from ``b`` when ``l`` is negative, as Spark's
    ``SUBSTRING`` from 1 or later with a length of 0 or more (where both agree). NULL with a NULL ``p`` or ``l``."""
    start, length = node.args.get("start"), node.args.get("length")
    if length is None or start is None:
        return node  # from p to the end: alike (a start of 0 is the whole text in both)
    first, count = _whole(start), _whole(length)
    if first is not None and first != 0 and count is not None and count >= 0:
        return node
    # GREATEST and LEAST skip a NULL: a NULL start or length is tested first
    return _template(
        "CASE WHEN P IS NOT NULL AND L IS NOT NULL THEN SUBSTRING(S, CAST(LEAST(GREATEST(LO, 0), LENGTH(S)) + 1 "
        "AS INT), CAST(GREATEST(LEAST(HI, LENGTH(S)) - GREATEST(LO, 0), 0) AS INT)) END",
        S=node.this, P=start, L=length,
        LO=_template("CASE WHEN L >= 0 THEN B WHEN L < 0 THEN B + L END", L=_bigint(length), B=_begin(node)),
        HI=_template("CASE WHEN L >= 0 THEN B + L WHEN L < 0 THEN B END", L=_bigint(length), B=_begin(node)))


def _duckdb_split_part(node: exp.SplitPart) -> exp.Expression:
    """``split_part(s, d, i)`` as DuckDB: ``''`` for ``i`` 0 (Spark fails the run), and with ``d`` empty the ``i``-th
    character (from the end when negative; Spark gives the whole text or ``''``); ``''`` for ``i`` beyond Spark's INT
    (past the last part: Spark's cast of ``i`` to INT failed the run, CAST_OVERFLOW)."""
    delimiter, index = node.args.get("delimiter"), node.args.get("part_index")
    if (isinstance(delimiter, exp.Literal) and delimiter.is_string and delimiter.name
            and _whole(index) not in (None, 0)):
        return node
    beyond_int = "" if _whole(index) is not None else "WHEN I < -2147483647 OR I > 2147483647 THEN '' "
    return _template(
        "CASE WHEN S IS NULL OR D IS NULL OR I IS NULL THEN NULL WHEN I = 0 THEN '' "
        f"{beyond_int}WHEN D = '' THEN "
        "CASE WHEN ABS(I) <= LENGTH(S) THEN SUBSTRING(S, CAST(I AS INT), 1) ELSE '' END "
        "ELSE SPLIT_PART(S, D, I) END", S=node.this, D=delimiter, I=index)


def _bigint(node: exp.Expression) -> exp.Expression:
    return exp.Cast(this=node.copy(), to=exp.DataType.build("BIGINT"))


def _begin(node: exp.Substring) -> exp.Expression:
    """DuckDB's 0-based offset of ``substring(s, p, …)``'s first character (before it is cut to the text)."""
    return _template("CASE WHEN P > 0 THEN P - 1 WHEN P < 0 THEN LENGTH(S) + P WHEN P = 0 THEN -1 END",
                     P=_bigint(node.args["start"]), S=node.this)


def _duckdb_left_right(node: exp.Left | exp.Right) -> exp.Expression:
    """``left(s, n)``/``right(s, n)``: with ``n`` negative, all but the last (first) ``-n`` characters, as DuckDB."""
    count = _whole(node.expression)
    if count is not None and count >= 0:
        return node
    if isinstance(node, exp.Left):
        return _template("SUBSTRING(S, 1, CAST(CASE WHEN N >= 0 THEN LEAST(N, LENGTH(S)) "
                         "WHEN N < 0 THEN GREATEST(LENGTH(S) + N, 0) END AS INT))",
                         S=node.this, N=_bigint(node.expression))
    return _template("CASE WHEN N >= 0 THEN RIGHT(S, CAST(LEAST(N, LENGTH(S)) AS INT)) "
                     "WHEN N < 0 THEN SUBSTRING(S, CAST(LEAST(1 - N, LENGTH(S) + 1) AS INT)) END",
                     S=node.this, N=_bigint(node.expression))


def _java_replacement(duckdb: str) -> str:
    """DuckDB's (RE2's) replacement text as Java's: ``\\0``–``\\9`` the groups (``$0``–``$9``, a digit after one
    escaped so that Java does not read it as part of the group's number), ``\\\\`` a backslash, ``$`` itself.
    Refuses a backslash before anything else, which DuckDB refuses when the metric runs."""
    out: list[str] = []
    i, group = 0, False
    while i < len(duckdb):
        char = duckdb[i]
        if char == "\\":
            following = duckdb[i + 1] if i + 1 < len(duckdb) else ""
            if following.isdigit() and following.isascii():
                out.append("$" + following)
                i, group = i + 2, True
                continue
            if following == "\\":
                out.append("\\\\")
                i, group = i + 2, False
                continue
            raise TextNotPortable(
                f"regexp_replace() replacement {duckdb!r} has a backslash before {following or 'its end'!r}, which "
                "DuckDB refuses (\\1 to \\9 are the groups, \\0 the match, \\\\ a backslash)")
        out.append("\\" + char if char == "$" or (group and char.isdigit()) else char)
        i, group = i + 1, False
    return "".join(out)


def _case_mapped(node: exp.Upper | exp.Lower, function: str, characters: str, duckdb: str) -> exp.Expression:
    """Spark's ``UPPER``/``LOWER`` of ``node``'s text with ``characters`` set aside (each as a placeholder of its
    own, which no case mapping changes) and put back as DuckDB maps them, ``duckdb``."""
    placeholders = "".join(chr(_PLACEHOLDER + i) for i in range(len(characters)))
    aside = exp.Anonymous(this="TRANSLATE", expressions=[
        node.this.copy(), exp.Literal.string(characters), exp.Literal.string(placeholders)])
    mapped = exp.Anonymous(this=function, expressions=[aside])
    return exp.Anonymous(this="TRANSLATE", expressions=[
        mapped, exp.Literal.string(placeholders), exp.Literal.string(duckdb)])
