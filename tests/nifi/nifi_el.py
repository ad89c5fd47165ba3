"""A small evaluator for the part of the NiFi Expression Language the fediscope flows use.

NiFi evaluates every ``${subject:function(args)...}`` expression in a property value, with the FlowFile's
attributes as subjects. This module does the same for the functions listed in :data:`FUNCTIONS` (semantics from
the NiFi Expression Language Guide) so the tests can render the flows' paths and URLs and walk the paging cursor
without a NiFi. An expression using any other function raises :class:`ELError`, so a flow cannot silently use
something the tests do not understand.

Parameters (``#{name}``) are read as NiFi reads them (``nifi-parameter``'s ``ExpressionLanguageAwareParameterParser``
and the Expression Language grammar, ``AttributeExpressionParser.g``):

* outside an expression, a reference is replaced by the parameter's value as text before the expressions are
  parsed (``##`` is an escaped ``#``), and the result is then read as a whole as Expression Language
  (``Query.prepareWithParametersPreEvaluated``, which ``StandardProcessContext`` applies to every effective property
  value): a ``${x}`` in such a value is an expression, ``$${`` an escaped one, a ``$$`` in its text a ``$``, and a
  ``#{`` in it text (``ParameterTokenList.escape``);
* inside an expression, the parameter parser leaves it alone: the Expression Language itself reads ``#{name}`` as a
  subject (``${#{name}:urlEncode()}``) or an argument (``${page:ge(#{max_pages})}``) whose value is the parameter's,
  never parsed again, so a ``'`` or ``}`` in it is just a character;
* inside a string literal it is text: ``${literal('#{name}')}`` is the 7 characters ``#{name}``, not the value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: The lexer's ``ATTRIBUTE_NAME``: no digit first, none of ``${}()[],:;/*'``, blanks.
_ATTRIBUTE_NAME_RE = re.compile(r"[^${}()\[\],:;/*' \t\r\n0-9][^${}()\[\],:;/*' \t\r\n]*")


class ELError(ValueError):
    pass


@dataclass
class Context:
    attributes: Mapping[str, str]
    state: Mapping[str, str] = field(default_factory=dict)
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    parameters: Mapping[str, str] = field(default_factory=dict)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return str(int(value.timestamp() * 1000))
    return str(value)


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(value).strip().lower()
    if text not in {"true", "false"}:
        raise ELError(f"not a boolean: {value!r}")
    return text == "true"


#: What NiFi reads as a whole number or a decimal (``NumberParsing``: Java's literals, hex floats left out)
_WHOLE_RE = re.compile(r"[-+]?(\d+|0[xX][0-9a-fA-F]+)")
_DECIMAL_RE = re.compile(r"[-+]?(Infinity|NaN|\d+\.\d+|\d+(\.\d+)?[eE][-+]?\d+|\.\d+([eE][-+]?\d+)?)")


def _number(value: Any) -> int | float | None:
    """A subject or argument as NiFi's numeric functions read it (``NumberCastEvaluator``): null for a null or
    empty value and for text that is not a number (a ULID), never a failure; ``gt`` and the other comparisons
    are then false, the arithmetic null."""
    text = _text(value).strip()
    if _WHOLE_RE.fullmatch(text):
        sign, digits = (-1 if text[0] == "-" else 1), text.lstrip("+-")
        return sign * int(digits, 16 if digits[:2] in ("0x", "0X") else 10)
    return float(text) if _DECIMAL_RE.fullmatch(text) else None


def _java_date_format(moment: datetime, pattern: str) -> str:
    """Java SimpleDateFormat for the letters the flows use (y, M, d, H, m, s, S) and quoted literals."""
    out, i = [], 0
    codes = {"y": "%Y", "M": "%m", "d": "%d", "H": "%H", "m": "%M", "s": "%S"}
    while i < len(pattern):
        ch = pattern[i]
        if ch == "'":
            end = pattern.index("'", i + 1)
            out.append(pattern[i + 1:end] or "'")
            i = end + 1
            continue
        run = 1
        while i + run < len(pattern) and pattern[i + run] == ch:
            run += 1
        if ch == "S":
            out.append(f"{moment.microsecond // 1000:03d}"[:run])
        elif ch in codes:
            out.append(moment.strftime(codes[ch]) if ch != "y" or run >= 4 else moment.strftime("%y"))
        elif ch.isalpha():
            raise ELError(f"date format letter {ch!r} not supported by this evaluator")
        else:
            out.append(ch * run)
        i += run
    return "".join(out)


def _format(subject: Any, pattern: Any, tz: Any = "GMT") -> str:
    if not isinstance(subject, datetime):
        subject = datetime.fromtimestamp((_number(subject) or 0) / 1000, UTC)
    if _text(tz) not in {"GMT", "UTC"}:
        raise ELError(f"time zone {tz!r} not supported by this evaluator")
    return _java_date_format(subject.astimezone(UTC), _text(pattern))


#: Java's line terminators (``Pattern`` without ``UNIX_LINES``): what ``.`` does not match, and what ``$`` may stand
#: before at the end of the input.
_JAVA_EOL = "\n\r\u0085\u2028\u2029"
#: Java's ``.`` and ``$`` (no ``MULTILINE``): ``$`` matches at the end and before a final line terminator (``\r\n``
#: counting as one), never between that ``\r`` and ``\n`` (``Pattern.Dollar``).
_JAVA_DOT = "[^" + _JAVA_EOL + "]"
_JAVA_DOLLAR = "(?:(?=\\Z|\r\n\\Z|[\r\u0085\u2028\u2029]\\Z)|(?<!\r)(?=\n\\Z))"
#: Escapes read alike by ``java.util.regex`` and Python's ``re`` with ``re.ASCII`` (``\z`` is Python's ``\Z``);
#: ``\b`` is left out: Java's word boundary counts every Unicode letter and digit.
_JAVA_ESCAPES = {**{c: "\\" + c for c in "dDwWsStnrfA"}, "z": "\\Z"}
_JAVA_GROUPS = ("(?:", "(?=", "(?!", "(?<=", "(?<!")
_QUANTIFIER_RE = re.compile(r"\{[0-9]+(,[0-9]*)?\}")


def _java_regex(pattern: Any) -> re.Pattern[str]:
    """A Java regular expression (``java.util.regex.Pattern``, no flags), as NiFi's ``matches`` and ``replaceAll``
    compile it, translated into a Python one that matches the same strings. Only constructs this translation knows
    to behave alike are taken; any other (a ``\\p{…}`` class, ``\\Q…\\E``, a nested class or ``&&``, a flag, a named
    group, a back reference, a ``{`` that is no quantifier) raises :class:`ELError` rather than being read another
    way."""
    text, out, i, in_class = _text(pattern), [], 0, False
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            if i + 1 == len(text):
                raise ELError(f"regex {text!r} ends with an unescaped backslash")
            nxt = text[i + 1]
            if nxt.isascii() and not nxt.isalnum():
                out.append("\\" + nxt)  # an escaped ASCII punctuation character is itself in both
            elif nxt in _JAVA_ESCAPES and not (in_class and nxt in "Az"):
                out.append(_JAVA_ESCAPES[nxt])
            else:
                raise ELError(f"regex escape \\{nxt} in {text!r} not supported by this evaluator")
            i += 2
            continue
        if in_class:
            if ch == "[" or text.startswith("&&", i):
                raise ELError(f"nested class or intersection in {text!r} not supported by this evaluator")
            in_class = ch != "]"
            out.append(ch)
        elif ch == "[":
            start = i + 2 if text.startswith("[^", i) else i + 1
            if text.startswith("]", start):
                raise ELError(f"a class starting with ']' in {text!r} is not read alike by Java and Python")
            out.append(text[i:start])
            in_class, i = True, start
            continue
        elif ch == ".":
            out.append(_JAVA_DOT)
        elif ch == "$":
            out.append(_JAVA_DOLLAR)
        elif ch == "(" and text.startswith("(?", i):
            group = next((g for g in _JAVA_GROUPS if text.startswith(g, i)), None)
            if group is None:
                raise ELError(f"group {text[i:i + 4]!r} in {text!r} not supported by this evaluator")
            out.append(group)
            i += len(group)
            continue
        elif ch == "{":
            quantifier = _QUANTIFIER_RE.match(text, i)
            if not quantifier:  # Java refuses it; Python would read it as a literal '{'
                raise ELError(f"'{{' that is no quantifier in {text!r}")
            out.append(quantifier.group())
            i = quantifier.end()
            continue
        else:
            out.append(ch)
        i += 1
    if in_class:
        raise ELError(f"unclosed character class in {text!r}")
    try:
        return re.compile("".join(out), re.ASCII)
    except re.error as exc:  # e.g. a lookbehind of varying length, which Java takes when bounded
        raise ELError(f"regex {text!r} not supported by this evaluator: {exc}") from None


def _java_replacement(replacement: str, match: re.Match[str]) -> str:
    """``Matcher.appendReplacement``: ``$n`` is group n (more digits while they name a group), a group that did not
    take part adds nothing, ``\\x`` is x; a ``$`` naming no group is an error, as in Java."""
    out, i = [], 0
    while i < len(replacement):
        ch = replacement[i]
        if ch == "\\":
            if i + 1 == len(replacement):
                raise ELError(f"replacement {replacement!r}: character to be escaped is missing")
            out.append(replacement[i + 1])
            i += 2
        elif ch == "$":
            i += 1
            if i == len(replacement) or not ("0" <= replacement[i] <= "9"):
                raise ELError(f"replacement {replacement!r}: illegal group reference")
            ref = int(replacement[i])
            i += 1
            while i < len(replacement) and "0" <= replacement[i] <= "9" and ref * 10 + int(replacement[i]) \
                    <= match.re.groups:
                ref, i = ref * 10 + int(replacement[i]), i + 1
            if ref > match.re.groups:
                raise ELError(f"replacement {replacement!r}: no group {ref}")
            out.append(match.group(ref) or "")
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _replace_all(subject: Any, regex: Any, replacement: Any) -> str:
    """``String.replaceAll``: every match of the Java regex, empty ones included, replaced as Java does."""
    return _java_regex(regex).sub(lambda m: _java_replacement(_text(replacement), m), _text(subject))


#: What Java's ``String.trim`` removes at both ends: every character up to U+0020 (Python's ``strip`` removes
#: Unicode whitespace instead).
_JAVA_TRIMMED = "".join(chr(c) for c in range(0x21))


#: What ``java.net.URLEncoder`` leaves as it is; every other character is written as the ``%XX`` escapes (upper-case
#: hex) of its UTF-8 bytes, and a space as ``+``: HTML form encoding, which Python's ``quote_plus`` is not (it keeps
#: ``~`` and writes ``*`` as ``%2A``).
_URL_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-*_")


def _url_encode(subject: Any) -> str | None:
    """``urlEncode`` (``UrlEncodeEvaluator``: ``URLEncoder.encode(value, "UTF-8")``); a null subject stays null. A
    lone surrogate, which Java's UTF-8 encoder replaces by ``?``, is ``%3F``."""
    if subject is None:
        return None
    out = []
    for ch in _text(subject):
        if ch in _URL_UNRESERVED:
            out.append(ch)
        elif ch == " ":
            out.append("+")
        else:
            out.extend(f"%{byte:02X}" for byte in ch.encode("utf-8", "replace"))
    return "".join(out)


def _to_number(subject: Any) -> int | float | None:
    """``toNumber``: a date (``now()``) as its milliseconds, text as the number it writes; null stays null, and text
    that is no number is an error, as in NiFi."""
    if subject is None or isinstance(subject, datetime):
        return None if subject is None else int(subject.timestamp() * 1000)
    number = _number(subject)
    if number is None:
        raise ELError(f"toNumber: not a number: {subject!r}")
    return number


def _substring(subject: Any, start: Any, end: Any = None) -> str:
    text, first = _text(subject), int(_number(start) or 0)
    return text[first:] if end is None else text[first:int(_number(end) or 0)]


def _arith(op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def apply(subject: Any, other: Any) -> Any:
        a, b = _number(subject), _number(other)
        return None if a is None or b is None else op(a, b)
    return apply


def _compare(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def apply(subject: Any, other: Any) -> bool:
        a, b = _number(subject), _number(other)
        return False if a is None or b is None else op(a, b)
    return apply


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "isEmpty": lambda s: s is None or _text(s).strip() == "",
    "isNull": lambda s: s is None,
    "notNull": lambda s: s is not None,
    "not": lambda s: not _bool(s),
    "and": lambda s, other: _bool(s) and _bool(other),
    "or": lambda s, other: _bool(s) or _bool(other),
    "ifElse": lambda s, yes, no: yes if _bool(s) else no,
    "equals": lambda s, other: _text(s) == _text(other),
    # the whole subject against a Java regular expression; a null subject matches nothing
    "matches": lambda s, regex: s is not None and _java_regex(regex).fullmatch(_text(s)) is not None,
    "prepend": lambda s, other: _text(other) + _text(s),
    "append": lambda s, other: _text(s) + _text(other),
    "plus": _arith(lambda a, b: a + b),
    "minus": _arith(lambda a, b: a - b),
    "le": _compare(lambda a, b: a <= b),
    "lt": _compare(lambda a, b: a < b),
    "ge": _compare(lambda a, b: a >= b),
    "gt": _compare(lambda a, b: a > b),
    "substring": _substring,
    "format": _format,
    "escapeJson": lambda s: json.dumps(_text(s), ensure_ascii=False)[1:-1],
    "replace": lambda s, search, replacement: _text(s).replace(_text(search), _text(replacement)),
    "replaceAll": _replace_all,
    "trim": lambda s: _text(s).strip(_JAVA_TRIMMED),
    "toLower": lambda s: _text(s).lower(),
    "toUpper": lambda s: _text(s).upper(),
    "urlEncode": _url_encode,
    "toNumber": _to_number,
}
#: Functions called without a subject: ``${now()}``, ``${literal('x')}``, ``${getStateValue('name')}``.
SUBJECTLESS = {"now", "literal", "getStateValue"}


class _Parser:
    """Parses and evaluates at once. ``ifElse`` evaluates only the branch its subject chooses, as NiFi's
    ``IfElseEvaluator`` does: the other is parsed (its functions must be known) with ``live`` off."""

    def __init__(self, text: str, ctx: Context, live: bool = True) -> None:
        self.text, self.pos, self.ctx = text, 0, ctx
        self.live = live
        #: Names of the parameters the expressions reference, whether or not their branch is evaluated.
        self.referenced: set[str] = set()

    def error(self, message: str) -> ELError:
        return ELError(f"{message} at {self.pos} in {self.text!r}")

    def peek(self, token: str) -> bool:
        return self.text.startswith(token, self.pos)

    def expect(self, token: str) -> None:
        if not self.peek(token):
            raise self.error(f"expected {token!r}")
        self.pos += len(token)

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def whole_expression(self) -> Any:
        """The text is one expression (a range ``_expression_ranges`` found), compiled whole as NiFi does: text after
        its closing brace is an error (``${a}}``), not left over."""
        value = self.expression()
        if self.pos != len(self.text):
            raise self.error("text after the end of the expression")
        return value

    def expression(self) -> Any:
        self.expect("${")
        self.skip_ws()
        value = self.subject()
        self.skip_ws()  # the lexer's WHITESPACE is a hidden token: blanks may stand between any two
        while self.peek(":"):
            self.pos += 1
            branches: tuple[bool, ...] = ()
            if self.live and self.text.startswith("ifElse(", self.pos):
                chosen = _bool(value)
                branches = (chosen, not chosen)
            name, args = self.call(branches)
            if name not in FUNCTIONS:
                raise self.error(f"function {name!r} unknown to this evaluator")
            value = FUNCTIONS[name](value, *args) if self.live else None
            self.skip_ws()
        self.expect("}")
        return value

    def subject(self) -> Any:
        if self.peek("#{"):
            return self.parameter()
        if self.peek("'") or self.peek('"'):
            return self.ctx.attributes.get(self.string())
        match = _IDENT_RE.match(self.text, self.pos)
        if match and self.text.startswith("(", match.end()):
            name, args = self.call()
            if name == "now":
                return self.ctx.now
            if name == "literal":
                return args[0]
            if name == "getStateValue":
                return self.ctx.state.get(_text(args[0]))
            raise self.error(f"subjectless function {name!r} unknown to this evaluator")
        end = self.pos
        while end < len(self.text) and self.text[end] not in ":}":
            end += 1
        name = self.text[self.pos:end].strip()
        if not name:
            raise self.error("empty attribute name")
        if not _ATTRIBUTE_NAME_RE.fullmatch(name):  # e.g. ##{p}: an escaped reference is no subject, NiFi's lexer fails
            raise self.error(f"{name!r} is no attribute name")
        self.pos = end
        return self.ctx.attributes.get(name)

    def call(self, branches: tuple[bool, ...] = ()) -> tuple[str, list[Any]]:
        """A function's name and arguments; ``branches`` says which arguments are evaluated (default: all)."""
        match = _IDENT_RE.match(self.text, self.pos)
        if not match:
            raise self.error("expected a function name")
        self.pos = match.end()
        self.expect("(")
        args: list[Any] = []
        self.skip_ws()
        outer = self.live
        while not self.peek(")"):
            self.live = outer and (branches[len(args)] if len(args) < len(branches) else True)
            args.append(self.argument())
            self.live = outer
            self.skip_ws()
            if self.peek(","):
                self.pos += 1
                self.skip_ws()
            elif not self.peek(")"):
                raise self.error("expected ',' or ')'")
        self.pos += 1
        return match.group(), args

    def argument(self) -> Any:
        if self.peek("${"):
            return self.expression()
        if self.peek("#{"):
            return self.parameter()
        if self.peek("'") or self.peek('"'):
            return self.string()
        match = re.compile(r"-?\d+(\.\d+)?").match(self.text, self.pos)
        if match:
            self.pos = match.end()
            return _number(match.group())
        if self.peek("true") or self.peek("false"):
            word = "true" if self.peek("true") else "false"
            self.pos += len(word)
            return word == "true"
        raise self.error("expected an argument")

    def parameter(self) -> str:
        """``#{name}`` inside an expression (``parameterReference: PARAMETER_REFERENCE_START singleAttrRef RBRACE``):
        the name as an attribute name or a quoted literal; the value is the parameter's, as it is. NiFi refuses a
        reference to a parameter its context does not define (the component is invalid): so does this."""
        self.expect("#{")
        self.skip_ws()
        if self.peek("'") or self.peek('"'):
            name = self.string()
        else:
            match = _ATTRIBUTE_NAME_RE.match(self.text, self.pos)
            if not match:
                raise self.error("expected a parameter name")
            name, self.pos = match.group(), match.end()
        self.skip_ws()
        self.expect("}")
        self.referenced.add(name)
        if not self.live:
            return ""
        if name not in self.ctx.parameters:
            raise self.error(f"parameter {name!r} is not defined")
        return self.ctx.parameters[name]

    def string(self) -> str:
        """A quoted literal as NiFi's lexer reads it (``STRING_LITERAL``): ``\\'``, ``\\"``, ``\\r``, ``\\n`` and
        ``\\t`` are escapes; any other backslash is kept with what follows (``\\\\`` stays two backslashes, ``\\.``
        stays ``\\.``), so a regular expression reaches ``matches`` or ``replaceAll`` as written."""
        quote = self.text[self.pos]
        self.pos += 1
        out = []
        while self.pos < len(self.text) and self.text[self.pos] != quote:
            if self.text[self.pos] == "\\" and self.pos + 1 < len(self.text):
                nxt = self.text[self.pos + 1]
                out.append({"'": "'", '"': '"', "r": "\r", "n": "\n", "t": "\t"}.get(nxt, "\\" + nxt))
                self.pos += 2
                continue
            out.append(self.text[self.pos])
            self.pos += 1
        self.expect(quote)
        return "".join(out)


def _parameter_tokens(text: str) -> list[tuple[int, int, str | None]]:
    """What NiFi's ``ExpressionLanguageAwareParameterParser.parseTokens`` finds in a property value: ``(start, end,
    name)`` of each reference and ``(start, end, None)`` of each escape (``##``), ``end`` inclusive. A ``{`` opens an
    expression when the ``$`` signs read so far are odd in number and one stands just before it; inside one, braces
    are only counted, so a ``#{`` there is not a reference. Ported as it stands in NiFi, down to the parity that is
    never reset by other characters: in ``${a}${#{p}}`` the second ``${`` follows two ``$`` and is not seen as an
    expression, and ``#{p}`` is replaced as text."""
    tokens: list[tuple[int, int, str | None]] = []
    start_tags, odd_dollars, last, depth, in_expression = 0, False, "", 0, False
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "#":
            start_tags += 1
        elif ch == "{":
            if odd_dollars and last == "$" and depth == 0:
                in_expression = True
            if in_expression:
                depth += 1
                i += 1
                continue  # NiFi's `continue`: neither the run of '#' nor the last character is updated
            if start_tags:
                end = text.find("}", i)
                if end >= 0:
                    first = i - start_tags
                    escapes = (start_tags - 1) // 2
                    tokens.extend((first + 2 * k, first + 2 * k + 1, None) for k in range(escapes))
                    offset = first + 2 * escapes
                    name = text[i + 1:end]
                    if start_tags % 2 == 0:
                        tokens.append((offset, end, None))  # ##{name}: an escaped reference, '#{name}' as text
                    elif "'" not in name or (len(name) > 1 and name[0] == name[-1] == "'" and "'" not in name[1:-1]):
                        tokens.append((offset, end, name.strip("'")))
                    i = end
        elif ch == "}":
            if depth <= 0:
                i += 1
                continue
            depth -= 1
            if depth == 0:
                in_expression = False
        elif ch == "$":
            odd_dollars = not odd_dollars
        if ch != "#":
            start_tags = 0
        last = text[i]
        i += 1
    return tokens


def _token_value(text: str, start: int, end: int, name: str | None, parameters: Mapping[str, str]) -> str:
    """What a token stands for (``ParameterToken.getValue``): a reference its parameter's value, ``##`` a ``#``, an
    escaped reference ``##{name}`` its text with every ``##`` a ``#`` (``EscapedParameterReference``)."""
    if name is not None:
        return parameters[name]
    return "#" if end == start + 1 else text[start:end + 1].replace("##", "#")


def substitute_parameters(text: str, parameters: Mapping[str, str]) -> str:
    """The property value with the references NiFi's parameter parser finds (outside expressions) replaced by their
    values and escapes undone (``PropertyConfiguration.getEffectiveValue``); KeyError names a parameter the context
    does not define."""
    out, pos = [], 0
    for start, end, name in _parameter_tokens(text):
        out.append(text[pos:start])
        out.append(_token_value(text, start, end, name, parameters))
        pos = end + 1
    out.append(text[pos:])
    return "".join(out)


def _escape_references(effective: str) -> str:
    """``StandardParameterTokenList.escape``: what the parameter parser reads as a reference or an escape in the
    effective value (text a parameter's value brought in, too) escaped once more, so the Expression Language's own
    parameter pass gives it back as text."""
    out, pos = [], 0
    for start, end, name in _parameter_tokens(effective):
        token = effective[start:end + 1]
        out.append(effective[pos:start])
        out.append("#" + token if name is not None else "####" if token == "##" else "##" + token)
        pos = end + 1
    out.append(effective[pos:])
    return "".join(out)


def _end_quote(value: str, quote_start: int) -> int:
    """``Query.findEndQuoteChar``."""
    quote, backslashes, last = value[quote_start], 0, ""
    for i in range(quote_start + 1, len(value)):
        ch = value[i]
        if ch == "\\":
            backslashes += 1
        elif ch == quote and (backslashes % 2 == 0 or last != "\\"):
            return i
        last = ch
    return -1


def _expression_ranges(value: str, escaped: bool = False) -> list[tuple[int, int]]:
    """``Query.extractExpressionRanges``: ``(start, end)`` (inclusive) of each top-level expression: a ``{`` after an
    odd run of ``$`` (the run is reset by any character but ``$``, ``{``, ``}`` and a backslash); with ``escaped``,
    of each escaped one (an even run, ``$${…}``), its ``$`` run included. Quotes inside an expression are skipped."""
    ranges: list[tuple[int, int]] = []
    last, embedded, start, dollars, backslashes, i = "", 0, -1, 0, 0, 0
    while i < len(value):
        ch = value[i]
        if start > -1 and ch in "'\"" and (last != "\\" or backslashes % 2 == 0):
            end = _end_quote(value, i)
            if end < 0:
                break
            i = end + 1
            continue
        if ch == "{":
            if (dollars % 2 == 0) == escaped and last == "$" and embedded == 0:
                start = i - (dollars if escaped else 1)
            if start > -1:
                embedded += 1
        elif ch == "}":
            if embedded <= 0:
                i += 1
                continue
            embedded -= 1
            if embedded == 0:
                if start > -1:
                    ranges.append((start, i))
                start = -1
        elif ch == "$":
            dollars += 1
        elif ch == "\\":
            backslashes += 1
        else:
            dollars = 0
        last = ch
        i += 1
    return ranges


def _unescape_leading_dollars(value: str) -> str:
    """``Query.unescapeLeadingDollarSigns``: ``$$`` is ``$`` up to the text's first ``{``."""
    brace = value.find("{")
    return value.replace("$$", "$") if brace < 0 else value[:brace].replace("$$", "$") + value[brace:]


def _unescape_trailing_dollars(value: str) -> str:
    """``Query.unescapeTrailingDollarSigns`` (not when the text is nothing but ``$``): half of a final run of ``$``
    goes, before an expression that is a plain attribute reference."""
    dollars = len(value) - len(value.rstrip("$"))
    if dollars == 0 or dollars == len(value):
        return value
    return value[:len(value) - dollars // 2]


#: An expression that is a plain attribute reference (its compiled root is an ``AttributeEvaluator``).
_PLAIN_ATTRIBUTE_RE = re.compile(r"\$\{\s*(?:" + _ATTRIBUTE_NAME_RE.pattern + r"|'[^']*'|\"[^\"]*\")\s*\}")


def _literal(text: str, parameters: Mapping[str, str]) -> str:
    """``Query.addLiteralsAndParameters``: literal text, in which the parameter parser's tokens stand for their
    values (after ``_escape_references`` only escapes are left: a ``#{`` a parameter's value brought in is text)."""
    return substitute_parameters(text, parameters)


def _pieces(query: str) -> list[tuple[bool, str]]:
    """``Query.prepare`` of an escaped effective value: ``(is_expression, text)`` in order, the literal pieces
    already unescaped as NiFi unescapes them."""
    ranges = _expression_ranges(query)
    pieces: list[tuple[bool, str]] = []
    if not ranges:
        escaped = _expression_ranges(query, escaped=True)
        if not escaped:
            return [(False, query)]
        last = 0
        for start, end in escaped:
            if start > last:
                pieces.append((False, _unescape_leading_dollars(query[last:start])))
            pieces.append((False, _unescape_leading_dollars(query[start:end + 1])))
            last = end + 1
        if last < len(query):
            pieces.append((False, _unescape_leading_dollars(query[last:])))
        return pieces
    last = 0
    for start, end in ranges:
        tree = _unescape_leading_dollars(query[start:end + 1])
        if start > last:
            literal = _unescape_leading_dollars(query[last:start])
            if _PLAIN_ATTRIBUTE_RE.fullmatch(tree):
                literal = _unescape_trailing_dollars(literal)
            pieces.append((False, literal))
        pieces.append((True, tree))
        last = end + 1
    if last < len(query):
        pieces.append((False, _unescape_leading_dollars(query[last:])))
    return pieces


def parameter_references(text: str) -> set[str]:
    """Names of the parameters a property value references as NiFi reads it: outside expressions, and as subjects
    or arguments inside them (not the text of a string literal)."""
    tokens = _parameter_tokens(text)
    outside = {name for _, _, name in tokens if name is not None}
    referenced = set(outside)
    for is_expression, piece in _pieces(_escape_references(substitute_parameters(text, dict.fromkeys(outside, "")))):
        if is_expression:
            parser = _Parser(piece, Context({}), live=False)
            parser.whole_expression()
            referenced |= parser.referenced
    return referenced


def evaluate(text: str, attributes: Mapping[str, str] | None = None, parameters: Mapping[str, str] | None = None,
             state: Mapping[str, str] | None = None, now: datetime | None = None) -> str:
    """Render a property value the way NiFi does: the parameter references outside expressions first, as text (the
    effective value); then that whole text as Expression Language (``prepareWithParametersPreEvaluated``), in which
    ``#{name}`` is a subject or an argument valued from ``parameters``. So an outside reference's value is read as
    Expression Language too: a ``${x}`` in it is evaluated, a ``$$`` may become ``$``."""
    parameters = parameters or {}
    ctx = Context(attributes or {}, state or {}, now or datetime.now(UTC), parameters)
    out = []
    for is_expression, piece in _pieces(_escape_references(substitute_parameters(text, parameters))):
        out.append(_text(_Parser(piece, ctx).whole_expression()) if is_expression else _literal(piece, parameters))
    return "".join(out)


def functions_used(text: str) -> set[str]:
    """Names of the functions an expression calls (``:name(`` and subjectless ``${name(``)."""
    return set(re.findall(r":([A-Za-z_]\w*)\(", text)) | set(re.findall(r"\$\{([A-Za-z_]\w*)\(", text))
