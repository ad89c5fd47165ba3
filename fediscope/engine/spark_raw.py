"""Spark's reading of a raw field of another JSON type than declared, made DuckDB's.

Spark's JSON reader is stricter than DuckDB's ``read_json``: it takes a count only from a JSON integer and a flag only
from ``true``/``false``, and gives NULL for anything else (``"bot": "yes"``, ``"followers_count": "12"``, ``true``
as a count, ``2.5``), and NULL for a list or object of another shape (``"tags": {}``, ``"account": "x"``), the
record kept. DuckDB converts the first kind (``yes`` is true, ``"12"`` is 12, ``true`` is 1, ``2.5`` is 2, rounded
half to even) and stops the curation on what it cannot convert (``"tags": {}``, ``"bot": "y"``). Landing
quarantines such records, so they only come from raw files landed by other means; but both engines must give the
same numbers, so Spark reads them as DuckDB does here.

How, cheaply: the typed read stays, and a record Spark could not read whole (its line in the corrupt-record
column, ``PERMISSIVE``) fails the job at first (``spark_engine.TO_CONVERT``): a lake without such records pays
nothing more. The engine then reads that raw view again with the conversion (``SparkEngine._job``): those lines
are read again (:func:`loose_ddl`: every count and flag as a ``VARIANT``, which takes any JSON value) and converted
in Spark SQL by DuckDB's rules (:func:`converted`, the same as the MapReduce mapper's ``as_int`` and ``as_bool``).
A value those rules refuse, or a list or object of another shape, which the loose read cannot read either
(:func:`stop_at_a_wrong_shape`), fails the job with :data:`WRONG_TYPE`, the file and the field, which the engine
turns into a one-line ``LakeError``. Spark gives no line number; the field and its value are there to find the line
by. (Converting in every run instead cost 15 to 40% more time for the one pass over the raw statuses: a
projection over every record, which copies each row.)
"""

from __future__ import annotations

from fediscope.engine.schema import Type, record_schema, spark_type

#: What the job raises (``raise_error``) on a record with a field curation cannot read as its type; followed by the
#: file's URI, a space and what is wrong (:func:`converted`, :func:`shape_problem`).
WRONG_TYPE = "fediscope: a field of another type in "

#: The white space DuckDB strips around a number given as text (C's ``isspace``), as a Java regex class.
_C_SPACE = r"[ \\t\\n\\x0B\\f\\r]"
#: The text DuckDB casts to an integer: decimal without ``+`` or leading zeros, ``0x`` hexadecimal, ``0b`` binary.
_INTEGER_TEXT = (f"^{_C_SPACE}*(?:(-?(?:0|[1-9][0-9]*))|0[xX]([0-9a-fA-F]+)|0[bB]([01]+)){_C_SPACE}*\\\\z")
_INTEGER_KINDS = "('TINYINT', 'SMALLINT', 'INT', 'BIGINT')"


def loose_type(t: Type) -> str:
    """``t`` as Spark DDL, every count and flag a ``VARIANT`` (any JSON value), lists and objects as declared."""
    if t in ("bigint", "boolean"):
        return "VARIANT"
    if isinstance(t, str):
        return spark_type(t)
    if isinstance(t, list):
        return f"ARRAY<{loose_type(t[0])}>"
    return "STRUCT<" + ", ".join(f"`{name}`: {loose_type(sub)}" for name, sub in t.items()) + ">"


def loose_ddl(entity: str, corrupt: str) -> str:
    """The schema of a raw record of ``entity`` read loosely, with the corrupt-record column ``corrupt``."""
    fields = [f"`{name}` {loose_type(t)}" for name, t in record_schema(entity).items()]
    return ", ".join([*fields, f"`{corrupt}` STRING"])


def _literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _refuse(value: str, path: str, expected: str) -> str:
    """``raise_error`` naming the file, the field, its value (as JSON, cut at 40 characters) and what it should be."""
    return (f"raise_error(concat({_literal(WRONG_TYPE)}, input_file_name(), ' ', {_literal(path + ' is ')}, "
            f"substr(to_json({value}), 1, 40), {_literal(', not ' + expected)}))")


def integer_of(value: str) -> str:
    """A VARIANT as DuckDB's reader reads it into a BIGINT, NULL where it refuses it (see the mapper's ``as_int``):
    a number with a fraction or an exponent read as a double and rounded half to even, ``true`` 1, text of
    :data:`_INTEGER_TEXT`; within 64 bits."""
    kind = f"schema_of_variant({value})"
    text = f"variant_get({value}, '$', 'string')"
    double = f"try_variant_get({value}, '$', 'double')"
    decimal, hexadecimal, binary = (f"regexp_extract({text}, '{_INTEGER_TEXT}', {group})" for group in (1, 2, 3))
    return (f"CASE WHEN {kind} = 'STRING' THEN CASE "
            f"WHEN {decimal} <> '' THEN try_cast({decimal} AS BIGINT) "
            # at most 16 hexadecimal or 64 binary digits (leading zeros aside): conv() does not overflow
            f"WHEN length(trim(LEADING '0' FROM {hexadecimal})) <= 16 AND {hexadecimal} <> '' "
            f"THEN try_cast(conv({hexadecimal}, 16, 10) AS BIGINT) "
            f"WHEN length(trim(LEADING '0' FROM {binary})) <= 64 AND {binary} <> '' "
            f"THEN try_cast(conv({binary}, 2, 10) AS BIGINT) END "
            f"WHEN {kind} = 'BOOLEAN' OR {kind} IN {_INTEGER_KINDS} OR {kind} LIKE 'DECIMAL(%,0)' "
            f"THEN try_cast(bround(try_variant_get({value}, '$', 'DECIMAL(38,18)'), 0) AS BIGINT) "
            # a number with a fraction or an exponent, which DuckDB reads as a double (Spark keeps one of up to 38
            # digits exactly, as a decimal: 123456789012345678.5 was 123456789012345678, DuckDB's 123456789012345680);
            # one from -2**63 up to below 2**63, as DuckDB's cast takes it (Spark's casts 2**63 to 2**63 - 1), not
            # an infinite one (1e400)
            f"WHEN {kind} IN ('DOUBLE', 'FLOAT') OR {kind} LIKE 'DECIMAL(%' THEN CASE "
            f"WHEN {double} >= -9.223372036854775808E18 AND {double} < 9.223372036854775808E18 "
            f"THEN CAST(bround({double}, 0) AS BIGINT) END END")


def flag_of(value: str) -> str:
    """A VARIANT as DuckDB's reader reads it into a BOOLEAN, NULL where it refuses it (see the mapper's ``as_bool``):
    a number is true unless 0 (an integer within 64 bits, signed or not; any other finite one), text ``true``/``t``/
    ``yes``/``false``/``f``/``no`` in any case."""
    kind = f"schema_of_variant({value})"
    whole = f"try_variant_get({value}, '$', 'DECIMAL(38,0)')"
    double = f"try_variant_get({value}, '$', 'double')"
    return (f"CASE WHEN {kind} = 'BOOLEAN' THEN variant_get({value}, '$', 'boolean') "
            f"WHEN {kind} = 'STRING' THEN CASE lower(variant_get({value}, '$', 'string')) "
            "WHEN 'true' THEN TRUE WHEN 't' THEN TRUE WHEN 'yes' THEN TRUE "
            "WHEN 'false' THEN FALSE WHEN 'f' THEN FALSE WHEN 'no' THEN FALSE END "
            f"WHEN {kind} IN {_INTEGER_KINDS} OR {kind} LIKE 'DECIMAL(%,0)' THEN CASE "
            f"WHEN {whole} BETWEEN -9223372036854775808 AND 18446744073709551615 THEN {whole} <> 0 END "
            f"WHEN {kind} IN ('DOUBLE', 'FLOAT') OR {kind} LIKE 'DECIMAL(%' THEN CASE "
            # DuckDB refuses an infinite number (1e400), as the mapper's as_bool does (was: true)
            f"WHEN abs({double}) < double('Infinity') THEN {double} <> 0 END END")


def _scalar(value: str, t: str, path: str) -> str:
    """A count or flag read loosely (a VARIANT), converted to ``t``; a value DuckDB refuses fails the job."""
    convert, expected = (integer_of(value), "an integer") if t == "bigint" else (flag_of(value), "a boolean")
    return (f"CASE WHEN {value} IS NULL OR schema_of_variant({value}) = 'VOID' THEN CAST(NULL AS {spark_type(t)}) "
            f"ELSE coalesce({convert}, {_refuse(value, path, expected)}) END")


def _has_scalars(t: Type) -> bool:
    if isinstance(t, str):
        return t in ("bigint", "boolean")
    if isinstance(t, list):
        return _has_scalars(t[0])
    return any(_has_scalars(sub) for sub in t.values())


def converted(value: str, t: Type, path: str) -> str:
    """The expression turning ``value``, read by :func:`loose_type`, into the declared type ``t``."""
    if not _has_scalars(t):
        return value
    if isinstance(t, str):
        return _scalar(value, t, path)
    if isinstance(t, list):
        return f"transform({value}, element -> {converted('element', t[0], path + '[]')})"
    fields = ", ".join(f"{_literal(name)}, {converted(f'{value}.`{name}`', sub, f'{path}.{name}')}"
                       for name, sub in t.items())
    return f"CASE WHEN {value} IS NULL THEN NULL ELSE named_struct({fields}) END"


def _containers(t: Type, path: list[str]) -> list[tuple[list[str], Type]]:
    """The objects and lists of a schema, the innermost first."""
    if isinstance(t, dict):
        inner = [c for name, sub in t.items() for c in _containers(sub, [*path, name])]
        return [*inner, (path, t)] if path else inner
    return [(path, t)] if isinstance(t, list) else []


def shape_problem(entity: str, loose: str, line: str) -> str:
    """The expression naming the innermost object or list of the record ``line`` whose JSON value has another shape
    than declared (NULL in the ``loose`` read, something in the line), with its value; ``a field`` when none is."""
    whole = f"try_parse_json({line})"
    cases = []
    for path, t in _containers(record_schema(entity), []):
        raw = f"try_variant_get({whole}, {_literal('$.' + '.'.join(path))})"
        read = ".".join([loose, *(f"`{p}`" for p in path)])
        expected = "a list of objects" if isinstance(t, list) and isinstance(t[0], dict) else (
            "a list" if isinstance(t, list) else "an object")
        cases.append(f"WHEN {read} IS NULL AND {raw} IS NOT NULL AND schema_of_variant({raw}) <> 'VOID' "
                     f"THEN concat({_literal('.'.join(path) + ' is ')}, substr(to_json({raw}), 1, 40), "
                     f"{_literal(', not ' + expected)})")
    return f"CASE {' '.join(cases)} ELSE 'a field' END"


def stop_at_a_wrong_shape(entity: str, loose: str, corrupt: str, line: str) -> str:
    """A filter: TRUE, or the job fails (:data:`WRONG_TYPE`) on a record the loose read could not read either."""
    return (f"CASE WHEN {loose}.`{corrupt}` IS NOT NULL THEN raise_error(concat({_literal(WRONG_TYPE)}, "
            f"input_file_name(), ' ', {shape_problem(entity, loose, line)})) ELSE TRUE END")
