"""The README, CI and the code must agree: settings, commands and the quick start."""

from __future__ import annotations

import argparse
import ast
import functools
import importlib
import importlib.util
import re
import shlex
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from fediscope.cli import COMMANDS, cli
from fediscope.config import SETTINGS
from fediscope.lake.lock import INHERIT_ENV

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_every_setting_is_documented_in_the_readme() -> None:
    missing = [s.env for s in SETTINGS if f"`{s.env}`" not in README]
    assert not missing, f"README.md lacks these settings: {missing}"


def test_readme_documents_no_setting_that_does_not_exist() -> None:
    known = {s.env for s in SETTINGS} | {"FEDISCOPE_CONFIG", "FEDISCOPE_TOKEN_<INSTANCE>",
                                         "FEDISCOPE_TEST_WEBHDFS", "FEDISCOPE_TEST_HBASE", "FEDISCOPE_TEST_MARIADB",
                                         INHERIT_ENV}
    mentioned = set(re.findall(r"`(FEDISCOPE_[A-Z_<>]+)`", README))
    tokens = {m for m in mentioned if m.startswith("FEDISCOPE_TOKEN_")}
    assert mentioned - known - tokens == set()


def test_quick_start_is_the_two_make_commands_and_ci_runs_the_same() -> None:
    assert "make demo" in README and "make test" in README
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test\b", ci, re.MULTILINE)
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^test:", makefile, re.MULTILINE) and re.search(r"^demo:", makefile, re.MULTILINE)


def test_every_cli_command_is_documented_and_has_help() -> None:
    runner = CliRunner()
    for name in COMMANDS:
        assert f"fediscope {name}" in README, f"README.md does not show `fediscope {name}`"
        result = runner.invoke(cli, [name, "--help"])
        assert result.exit_code == 0, result.output
        assert "Usage:" in result.output


def test_python_dash_m_fediscope_is_the_command_too() -> None:
    """Was: ``python -m fediscope`` answered "'fediscope' is a package and cannot be directly executed"; only
    ``python -m fediscope.cli`` (the README's spelling, kept) ran the command."""
    import subprocess
    import sys

    for module in ("fediscope", "fediscope.cli"):
        result = subprocess.run([sys.executable, "-m", module, "--version"], capture_output=True, text=True,
                                timeout=60, cwd=ROOT)
        assert result.returncode == 0 and result.stdout.startswith("fediscope, version "), (module, result.stderr)
        bad = subprocess.run([sys.executable, "-m", module, "process", "--engine", "sprk"], capture_output=True,
                             text=True, timeout=60, cwd=ROOT)
        assert bad.returncode == 2 and "'sprk' is not one of" in bad.stderr, (module, bad.stderr)


# --- every command line the docs show names a command, subcommand and options that exist --------------------------

#: the spark-submit entry points show their command lines in their docstrings (the README points there)
DOCSTRING_DOCS = sorted((ROOT / "spark_jobs").glob("*.py"))
COMMAND_DOCS = sorted({ROOT / "README.md", ROOT / "api" / "README.md", ROOT / "nifi_templates" / "README.md",
                       *(ROOT / "infra").rglob("README.md"), *(ROOT / "spark_jobs").rglob("README.md")})
#: ``python -m`` modules of this repository that the docs may show, by the script file that holds their parser.
MODULE_SCRIPTS = {"fediscope.demo": "fediscope/demo.py", "bench.run": "bench/run.py",
                  "fediscope.store.hbase_schema": "fediscope/store/hbase_schema.py",
                  "spark_jobs.mapreduce.run_local": "spark_jobs/mapreduce/run_local.py"}
SCRIPT_FOLDERS = ("bench", "infra", "nifi_templates", "spark_jobs")  # where the argparse scripts live
OWN_PACKAGES = ("fediscope", "bench", "spark_jobs", "api", "infra", "nifi_templates", "airflow")
#: make variables whose value is the command line of another command: ``make demo DEMO_ARGS="--fresh"``.
MAKE_ARG_VARS = {"DEMO_ARGS": "fediscope/demo.py", "BENCH_ARGS": "bench/run.py"}
MAKEFILE = (ROOT / "Makefile").read_text()
SHELL_OPERATORS = {"|", "||", "&", "&&", ";", ";;", ">", ">>", "<", "<<", ">&", "2>", "(", ")", "$("}
PLACEHOLDER = "PLACEHOLDER"
ALTERNATIVES = "\x1f"  # stands for a `|` in usage syntax: [--engine duckdb|spark], [--charts|--no-charts]


@dataclass(frozen=True)
class Snippet:
    """A piece of shell the docs show: a line of a fenced code block (continuations joined) or an inline span."""

    where: str
    code: str
    comment: str = ""  # a code block line's trailing ``# …``: options named there belong to the line's command


def snippets(text: str, where: str) -> Iterator[Snippet]:
    """The fenced code blocks' lines and the inline code spans (which may wrap across lines) of a markdown text."""
    prose: list[str] = []
    fence: list[str] | None = None
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            fence = [] if fence is None else None
            prose.append("")
            continue
        if fence is None:
            prose.append(line)
            continue
        prose.append("")  # keeps the line numbers of the inline spans
        fence.append(line.rstrip())
        if line.rstrip().endswith("\\"):
            continue
        joined = " ".join(part.removesuffix("\\") for part in fence)
        fence = []
        parts = re.split(r"(?:^|\s)#(?:\s|$)", joined, maxsplit=1)
        code, comment = parts[0], (parts[1] if len(parts) > 1 else "")
        yield Snippet(f"{where}:{number}", code, comment)
    text = "\n".join(prose)
    for match in re.finditer(r"(`+)(.+?)\1", text, re.DOTALL):
        yield Snippet(f"{where}:{text.count(chr(10), 0, match.start()) + 1}", match.group(2).replace("\n", " "))


def docstring_as_markdown(path: Path) -> str:
    """A module docstring with its reST literal blocks (after ``::``) fenced and its ````code```` as `code`."""
    lines, fenced = [], False
    for line in (ast.get_docstring(ast.parse(path.read_text())) or "").splitlines():
        if fenced and line.strip() and not line.startswith(" "):
            lines.append("```")
            fenced = False
        lines.append(line.replace("``", "`"))
        if line.endswith("::"):
            lines.append("```")
            fenced = True
    return "\n".join([*lines, "```"] if fenced else lines)


def tokens(code: str) -> list[str]:
    """Shell words, with usage syntax flattened (``[--engine duckdb|spark]`` → ``--engine``, ``duckdb|spark`` as
    one value of alternatives; ``[--charts|--no-charts]`` → both options) and placeholders (``<name>``, ``…``)
    made one recognisable word."""
    code = re.sub(r"<[A-Za-z][^<>]*>", PLACEHOLDER, code)
    flat = None
    while flat != code:  # innermost first: [--recurate [--force]]
        flat, code = code, re.sub(r"\[([^\[\]]*)\]", lambda m: f" {m.group(1).replace('|', ALTERNATIVES)} ", code)
    code = code.replace("…", PLACEHOLDER).replace("...", PLACEHOLDER)
    lexer = shlex.shlex(code, posix=True, punctuation_chars="|&;<>()")
    lexer.whitespace_split = True
    try:
        words = list(lexer)
    except ValueError:  # an unbalanced quote in prose-like code
        words = code.split()
    flat = []
    for word in words:  # alternative options are options each; alternative values stay one word
        parts = word.split(ALTERNATIVES)
        flat += parts if all(part.startswith("-") for part in parts) else [word]
    return flat


def long_options(words: list[str]) -> list[str]:
    """The ``--options`` among ``words`` (``--out=FILE`` → ``--out``), up to a ``--`` that ends them."""
    found = []
    for word in words:
        if word == "--":
            break
        if re.fullmatch(r"--[A-Za-z][\w-]*(=.*)?", word, re.DOTALL):
            found.append(word.split("=", 1)[0])
    return found


@dataclass(frozen=True)
class Option:
    takes_value: bool
    choices: frozenset[str] | None = None  # lower-cased; None: any value


@dataclass(frozen=True)
class Signature:
    """What a command accepts: its options by name, and how many arguments (words that are no option) at most."""

    options: dict[str, Option]
    arguments: float


def check_words_against(label: str, signature: Signature, words: list[str]) -> list[str]:
    """What in a command's ``words`` it does not take: an unknown option, a value its option does not accept, more
    arguments than it has. Short options are not checked; ``$VAR`` words may expand to nothing."""
    problems, arguments, counting = [], 0, True
    at = 0
    while at < len(words):
        word = words[at]
        at += 1
        if word == "--":
            arguments += len(words) - at
            break
        if not re.fullmatch(r"--[A-Za-z][\w-]*(=.*)?", word, re.DOTALL):
            arguments += not word.startswith(("-", "$"))
            continue
        name, inline, value = word.partition("=")
        option = signature.options.get(name)
        if option is None:
            problems.append(f"`{label}` has no option {name}")
            counting = False  # its value, if it takes one, is no argument
            continue
        if option.takes_value and not inline:
            value = words[at] if at < len(words) else ""
            at += 1
        if option.choices is not None:
            problems += [f"`{label} {name}` takes one of {sorted(option.choices)}, not {one!r}"
                         for one in value.split(ALTERNATIVES)
                         if one and not is_placeholder(one) and not one.startswith("$")
                         and one.lower() not in option.choices]
    if counting and arguments > signature.arguments:
        problems.append(f"`{label}` takes {signature.arguments:g} arguments, not {arguments}")
    return problems


def is_placeholder(word: str) -> bool:
    return PLACEHOLDER in word or word.isupper()


class _ParserBuilt(Exception):
    def __init__(self, parser: argparse.ArgumentParser) -> None:
        self.parser = parser


def _load(script: str) -> object:
    """The module of a repository script, imported by its package name when it has one (so it is imported once)."""
    path = ROOT / script
    parts = path.relative_to(ROOT).with_suffix("").parts
    if all((ROOT.joinpath(*parts[:i]) / "__init__.py").exists() for i in range(1, len(parts))):
        return importlib.import_module(".".join(parts))
    name = "docs_script_" + "_".join(parts)
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


_SCRIPT_SIGNATURES: dict[str, Signature] = {}


def script_signature(script: str) -> Signature:
    """What an argparse script takes, read from the parser its ``parse_args``/``main`` builds: parsing is stopped
    before anything runs. A script without a parser (``reducer.py``) takes nothing."""
    if script not in _SCRIPT_SIGNATURES:
        if "ArgumentParser" not in (ROOT / script).read_text():
            _SCRIPT_SIGNATURES[script] = Signature({}, 0)
        else:
            module = _load(script)
            build = getattr(module, "parse_args", None) or module.main

            def stop(parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
                raise _ParserBuilt(parser)

            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(argparse.ArgumentParser, "parse_known_args", stop)
                with pytest.raises(_ParserBuilt) as built:
                    build([])
            actions = built.value.parser._actions
            options = {name: Option(action.nargs != 0, frozenset(str(c).lower() for c in action.choices)
                                    if action.choices else None)
                       for action in actions for name in action.option_strings}
            arguments = sum(action.nargs if isinstance(action.nargs, int) else 1 if action.nargs in (None, "?")
                            else float("inf") for action in actions if not action.option_strings)
            _SCRIPT_SIGNATURES[script] = Signature(options, arguments)
    return _SCRIPT_SIGNATURES[script]


def click_signature(command: click.Command) -> Signature:
    params = command.get_params(click.Context(command))
    options = {name: Option(not param.is_flag and not param.count,
                            frozenset(c.lower() for c in param.type.choices)
                            if isinstance(param.type, click.Choice) else None)
               for param in params if isinstance(param, click.Option)
               for name in (*param.opts, *param.secondary_opts)}
    arguments = sum(float("inf") if param.nargs == -1 else param.nargs
                    for param in params if isinstance(param, click.Argument))
    return Signature(options, arguments)


def check_fediscope(words: list[str]) -> list[str]:
    """``fediscope [group options] COMMAND [SUBCOMMAND] [--options]``: what does not exist."""
    command: click.Command = cli
    path = ["fediscope"]
    rest = words
    while isinstance(command, click.Group):
        at = next((i for i, word in enumerate(rest) if not word.startswith("-")), None)
        problems = check_words_against(" ".join(path), click_signature(command), rest[:at])
        if at is None or is_placeholder(rest[at]):
            return problems
        sub = command.get_command(click.Context(command), rest[at])
        if sub is None:
            return [*problems, f"`{' '.join(path)}` has no command `{rest[at]}`"]
        command, path, rest = sub, [*path, rest[at]], rest[at + 1:]
    return check_words_against(" ".join(path), click_signature(command), rest)


def check_script(script: str, words: list[str]) -> list[str]:
    if not (ROOT / script).is_file():
        return [f"there is no script {script}"]
    return check_words_against(script, script_signature(script), words)


def check_make(words: list[str]) -> list[str]:
    problems = []
    for word in words:
        name, is_assignment, value = word.partition("=")
        if word.startswith("-") or is_placeholder(word) and not is_assignment:
            continue
        if not is_assignment:
            if not re.search(rf"^{re.escape(word)}:", MAKEFILE, re.MULTILINE):
                problems.append(f"the Makefile has no target `{word}`")
        elif f"$({name})" not in MAKEFILE:
            problems.append(f"the Makefile does not read {name}")
        elif name in MAKE_ARG_VARS:
            problems += check_script(MAKE_ARG_VARS[name], tokens(value))
    return problems


def resolve_script(word: str, doc_dir: Path) -> str | None:
    """A ``.py`` word as a repository path: from the root, else beside the doc that shows it."""
    for base in (ROOT, doc_dir):
        path = (base / word).resolve()
        if path.is_file() and ROOT in path.parents:
            return path.relative_to(ROOT).as_posix()
    return None


def check_python(segment: list[str], doc_dir: Path) -> tuple[int, list[str]]:
    """``python -m MODULE …`` or ``python path/script.py …``: (commands of ours found, what does not exist)."""
    if segment[:1] == ["-m"] and len(segment) > 1:
        module = segment[1]
        if module in ("fediscope", "fediscope.cli"):
            return 1, check_fediscope(segment[2:])
        if module in MODULE_SCRIPTS:
            return 1, check_script(MODULE_SCRIPTS[module], segment[2:])
        if module.split(".")[0] in OWN_PACKAGES:
            return 1, [f"no documented entry point `python -m {module}`"]
    elif segment[:1] and segment[0].endswith(".py"):
        return 1, check_script_at(segment, 0, doc_dir)
    return 0, []  # python -c …, python -m pytest …


def check_script_at(segment: list[str], at: int, doc_dir: Path) -> list[str]:
    script = resolve_script(segment[at], doc_dir)
    return check_script(script, segment[at + 1:]) if script else [f"there is no script {segment[at]}"]


def check_command(word: str, segment: list[str], first: bool, doc_dir: Path) -> tuple[int, list[str]]:
    """The command ``word`` run with the words ``segment`` (up to the next shell operator): (1, what does not exist)
    when it is one of ours, (0, []) when not."""
    if word in ("fediscope", ".venv/bin/fediscope"):
        return 1, check_fediscope(segment)
    if re.fullmatch(r"(\S*/)?python(3(\.\d+)?)?", word):
        return check_python(segment, doc_dir)
    if word == "spark-submit":  # spark-submit [its own options] script.py [the script's]
        script_at = next((i for i, w in enumerate(segment) if w.endswith(".py")), None)
        return (0, []) if script_at is None else (1, check_script_at(segment, script_at, doc_dir))
    if word == "make" and segment:
        return 1, check_make(segment)
    if first and segment and word.endswith(".py") and resolve_script(word, doc_dir):
        return 1, check_script_at([word, *segment], 0, doc_dir)  # `mapper.py --first-day …`: the script alone
    return 0, []


def check_words(words: list[str], doc_dir: Path) -> tuple[int, list[str]]:
    """Every command of ours in a list of shell words: how many were found, and what in them does not exist."""
    found, problems = 0, []
    command_position = True
    for at, word in enumerate(words):
        if " " in word:  # a quoted command: -mapper "python3 mapper.py --deletions …"
            sub_found, sub_problems = check_words(tokens(word), doc_dir)
            found, problems = found + sub_found, problems + sub_problems
        if not command_position:  # an argument (`hdfs dfs -chown fediscope …`), not a command
            command_position = word in SHELL_OPERATORS
            continue
        command_position = word in SHELL_OPERATORS or re.fullmatch(r"[A-Za-z_]\w*=.*", word, re.DOTALL) is not None
        end = next((i for i in range(at + 1, len(words)) if words[i] in SHELL_OPERATORS), len(words))
        command_found, command_problems = check_command(word, words[at + 1:end], at == 0, doc_dir)
        found, problems = found + command_found, problems + command_problems
    return found, problems


def check_snippet(snippet: Snippet, doc_dir: Path) -> tuple[int, list[str]]:
    words = tokens(snippet.code)
    found, problems = check_words(words, doc_dir)
    if found == 1 and snippet.comment:  # `fediscope lake ls …   # --records also counts records`
        named = re.findall(r"--[A-Za-z][\w-]*", snippet.comment)
        problems = check_words([*words[:next((i for i, w in enumerate(words) if w in SHELL_OPERATORS), None)],
                                *named], doc_dir)[1]
    return found, [f"{snippet.where}: {problem} (in `{snippet.code.strip()}`)" for problem in problems]


def check_text(text: str, where: str, doc_dir: Path) -> tuple[int, list[str]]:
    """How many commands of ours a markdown text shows, and what in them does not exist."""
    found, problems = 0, []
    for snippet in snippets(text, where):
        snippet_found, snippet_problems = check_snippet(snippet, doc_dir)
        found, problems = found + snippet_found, problems + snippet_problems
    return found, problems


def doc_text(doc: Path) -> str:
    return doc.read_text() if doc.suffix == ".md" else docstring_as_markdown(doc)


def click_commands() -> Iterator[tuple[str, click.Command]]:
    """Every fediscope command and subcommand, by its command line (``fediscope lake ls``)."""
    pending: list[tuple[str, click.Command]] = [("fediscope", cli)]
    while pending:
        path, command = pending.pop()
        yield path, command
        if isinstance(command, click.Group):
            ctx = click.Context(command)
            pending += [(f"{path} {name}", command.get_command(ctx, name)) for name in command.list_commands(ctx)]


def test_an_option_s_default_is_shown_as_its_choices_are() -> None:
    """Was: ``sample-instance --help`` showed ``--log-level [debug|info|warning|error] … [default: WARNING]``
    (click lists a case-insensitive choice in lower case, and the default as written)."""
    shown = []
    for path, command in click_commands():
        ctx = click.Context(command, info_name=path)
        for option in command.params:
            record = option.get_help_record(ctx) if isinstance(option, click.Option) else None
            choices = re.search(r"\[([^\]]*\|[^\]]*)\]$", record[0]) if record else None
            default = re.search(r"\[default: ([^;\]]+)", record[1]) if record else None
            if choices and default:
                shown.append((f"{path} {record[0]}", default[1], choices[1].split("|")))
    assert any(where.startswith("fediscope sample-instance --log-level") for where, _, _ in shown), shown
    assert [(where, default, choices) for where, default, choices in shown if default not in choices] == []


def test_no_help_text_shows_the_docstrings_markup() -> None:
    """A command's help is its docstring as click prints it: reStructuredText's ``literal`` and :func:`roles` show
    as written there. Was: ``config show --help`` read "--json adds ``config_file`` and ``origins``"."""
    runner = CliRunner()
    shown = {}
    for path, _command in click_commands():
        result = runner.invoke(cli, [*path.split()[1:], "--help"])
        assert result.exit_code == 0, (path, result.output)
        if found := re.findall(r"``|:(?:func|class|meth|mod|data):", result.output):
            shown[path] = found
    assert shown == {}


def help_examples() -> Iterator[tuple[str, str]]:
    """The example command lines of each command's ``--help`` (its lines that start with ``fediscope``), as a
    code block, by where they are shown."""
    for path, command in click_commands():
        lines = [line.strip() for line in f"{command.help or ''}\n{command.epilog or ''}".splitlines()
                 if line.strip().startswith("fediscope ")]
        if lines:
            yield f"{path} --help", "\n".join(["```", *lines, "```"])


def test_every_command_line_in_the_docs_names_commands_and_options_that_exist() -> None:
    problems, counts = [], {}
    docs = [*((doc.relative_to(ROOT).as_posix(), doc_text(doc), doc.parent) for doc in [*COMMAND_DOCS,
                                                                                         *DOCSTRING_DOCS]),
            *((where, text, ROOT) for where, text in help_examples())]
    for where, text, doc_dir in docs:
        counts[where], doc_problems = check_text(text, where, doc_dir)
        problems += doc_problems
    assert not problems, "\n".join(problems)
    assert counts["README.md"] > 100 and all(counts[doc.relative_to(ROOT).as_posix()] for doc in COMMAND_DOCS), counts


#: options the docs name of commands that are not ours: pytest-xdist's, `airflow backfill create`'s and
#: `airflow dags trigger`'s, and the command-line forms secrets are masked in (a database client's `--password`)
FOREIGN_OPTIONS = {"--dist", "--reprocess-behavior", "--logical-date",
                   "--password", "--password-file", "--no-password", "--api-key"}


@functools.cache
def every_option_of_ours() -> frozenset[str]:
    """The options of every fediscope command and subcommand and of every argparse script in the repository."""
    options: set[str] = {name for _, command in click_commands() for name in click_signature(command).options}
    scripts = {*MODULE_SCRIPTS.values(), *(path.relative_to(ROOT).as_posix() for folder in SCRIPT_FOLDERS
                                          for path in (ROOT / folder).rglob("*.py")
                                          if "ArgumentParser(" in path.read_text())}
    for script in scripts:
        options |= set(script_signature(script).options)
    return frozenset(options)


def unknown_lone_options(text: str, where: str) -> list[str]:
    """The options a markdown text names on their own (`--records`, away from its command) that no command of
    ours has: one removed or renamed in the code is caught here."""
    ours = every_option_of_ours() | FOREIGN_OPTIONS
    return [f"{snippet.where}: {option}" for snippet in snippets(text, where)
            if (words := tokens(snippet.code)) and words[0].startswith("--")
            for option in long_options(words) if option not in ours]


def test_every_option_the_docs_name_alone_is_an_option_of_ours() -> None:
    unknown = [found for doc in [*COMMAND_DOCS, *DOCSTRING_DOCS]
               for found in unknown_lone_options(doc_text(doc), doc.relative_to(ROOT).as_posix())]
    assert not unknown, unknown
    broken = "counts records with `--records`;\n`--recordz` too"
    assert unknown_lone_options(broken, "doc.md") == ["doc.md:2: --recordz"]


@pytest.mark.parametrize(("broken", "fixed", "problem"), [
    ("`fediscope procss`", "`fediscope process`", "`fediscope` has no command `procss`"),
    ("`fediscope lake lss raw`", "`fediscope lake ls raw`", "`fediscope lake` has no command `lss`"),
    ("`fediscope process --engin spark`", "`fediscope process --engine spark`",
     "`fediscope process` has no option --engin"),
    ("`fediscope process [--engine duckdb|sprk]`", "`fediscope process [--engine duckdb|spark]`", "not 'sprk'"),
    ("`fediscope report --format=jsn`", "`fediscope report --format=json`", "not 'jsn'"),
    ("`fediscope process ./lake`", "`fediscope process --lake ./lake`", "`fediscope process` takes 0 arguments, not 1"),
    ("`fediscope lake ls raw statuses`", "`fediscope lake ls raw/statuses`",
     "`fediscope lake ls` takes 1 arguments, not 2"),
    ("`python spark_jobs/mapreduce/run_local.py LAKE OUT`", "`python spark_jobs/mapreduce/run_local.py LAKE --out OUT`",
     "`spark_jobs/mapreduce/run_local.py` takes 1 arguments, not 2"),
    ("`python -m fediscope --versoin`", "`python -m fediscope --version`", "`fediscope` has no option --versoin"),
    ("`fediscope sample-instance [--statuses N]\n[--grw N]`", "`fediscope sample-instance [--statuses N]\n[--grow N]`",
     "`fediscope sample-instance` has no option --grw"),
    ("```\nfediscope lake unlock   # asks first (--yes, --forse)\n```",
     "```\nfediscope lake unlock   # asks first (--yes, --force)\n```",
     "`fediscope lake unlock` has no option --forse"),
    ("```\nexport X=1\nfediscope collect \\\n  --max-page 5 | head\n```",
     "```\nexport X=1\nfediscope collect \\\n  --max-pages 5 | head\n```",
     "`fediscope collect` has no option --max-page"),
    ("`python infra/hdfs/create_layout.py --lak x`", "`python infra/hdfs/create_layout.py --lake x`",
     "`infra/hdfs/create_layout.py` has no option --lak"),
    ("`X='a b' python infra/hdfs/create_layot.py`", "`X='a b' python infra/hdfs/create_layout.py`",
     "there is no script infra/hdfs/create_layot.py"),
    ("`python -m fediscope.demos`", "`python -m fediscope.demo`",
     "no documented entry point `python -m fediscope.demos`"),
    ("`python spark_jobs/mapreduce/reducer.py --json`", "`python spark_jobs/mapreduce/reducer.py`",
     "`spark_jobs/mapreduce/reducer.py` has no option --json"),
    ("`hadoop jar s.jar -mapper \"python3 mapper.py --deletion d\"`",
     "`hadoop jar s.jar -mapper \"python3 mapper.py --deletions d\"`",
     "`spark_jobs/mapreduce/mapper.py` has no option --deletion"),
    ("`spark-submit --master 'local[2]' spark_jobs/curate.py --recurrate`",
     "`spark-submit --master 'local[2]' spark_jobs/curate.py --recurate`",
     "`spark_jobs/curate.py` has no option --recurrate"),
    ("`make tests`", "`make test`", "the Makefile has no target `tests`"),
    ("`make test TEST_WORKER=0`", "`make test TEST_WORKERS=0`", "the Makefile does not read TEST_WORKER"),
    ("`make demo DEMO_ARGS=\"--frsh\"`", "`make demo DEMO_ARGS=\"--fresh\"`",
     "`fediscope/demo.py` has no option --frsh"),
    ("`make bench BENCH_ARGS='--engine duckdb'`", "`make bench BENCH_ARGS='--engines duckdb'`",
     "`bench/run.py` has no option --engine"),
])
def test_the_docs_check_finds_a_command_line_that_does_not_match_the_code(broken: str, fixed: str,
                                                                          problem: str) -> None:
    found, problems = check_text(f"Run\n{broken}\nthen.\n", "doc.md", ROOT / "spark_jobs" / "mapreduce")
    assert found and len(problems) == 1 and problem in problems[0], problems
    assert check_text(f"Run\n{fixed}\nthen.\n", "doc.md", ROOT / "spark_jobs" / "mapreduce") == (found, [])


def test_the_docs_check_ignores_arguments_prose_and_placeholders() -> None:
    text = ("`hdfs dfs -chown fediscope /data` `fediscope: stopped` `fediscope <command> --help` `make <target>` "
            "`fediscope … --json` `[fediscope]` `FEDISCOPE_PSEUDONYM_KEY=<the collectors' key> fediscope serve-api`")
    assert check_text(text, "doc.md", ROOT)[1] == []


# --- the README's tables: settings' defaults, built-in metrics, Troubleshooting's messages --------------------------

def readme_section(title: str) -> str:
    """The text of the README's ``## title`` section, up to the next ``## `` heading."""
    return README.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def table_rows(text: str) -> list[list[str]]:
    """The body rows of the markdown tables in ``text``, as their cells (``\\|`` inside a cell kept as ``|``)."""
    rows = []
    for line in text.splitlines():
        if line.startswith("| ") and not re.fullmatch(r"\|( --- \|)+", line):
            rows.append([cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", line)[1:-1]])
    return rows


def readme_defaults(text: str) -> dict[str, str]:
    """The settings table's Default cell of each ``FEDISCOPE_*`` row: a code span's text, or ``—`` for none."""
    return {match.group(1): cells[1].strip("`") for cells in table_rows(text)
            if len(cells) == 3 and (match := re.fullmatch(r"`(FEDISCOPE_[A-Z_]+)`", cells[0]))}


def default_mismatches(documented: dict[str, str]) -> list[str]:
    """The settings whose README default is not their default in fediscope/config.py: the README's value is read
    with the setting's own parser (``30`` is the float 30.0, ``true`` is True), ``—`` stands for none."""
    problems = []
    for setting in SETTINGS:
        shown = documented.get(setting.env)
        if shown is None:
            problems.append(f"{setting.env}: no row in the settings table")
        elif shown == "—":
            if setting.default not in (None, ()):
                problems.append(f"{setting.env}: README says no default, config.py has {setting.default!r}")
        elif setting.parse(shown) != setting.default:
            problems.append(f"{setting.env}: README says {shown}, config.py has {setting.default!r}")
    return problems


def test_the_readme_settings_table_gives_each_settings_default() -> None:
    documented = readme_defaults(readme_section("Configuration"))
    assert not default_mismatches(documented), default_mismatches(documented)
    assert default_mismatches({**documented, "FEDISCOPE_BACKFILL_PAGES": "20"}) == [
        "FEDISCOPE_BACKFILL_PAGES: README says 20, config.py has 10"]
    assert default_mismatches({**documented, "FEDISCOPE_LOG_LEVEL": "—"}) == [
        "FEDISCOPE_LOG_LEVEL: README says no default, config.py has 'WARNING'"]


def test_the_readme_metric_table_lists_every_built_in_metric_with_its_key() -> None:
    from fediscope.engine.metrics import SQL_DIR, load_metrics

    section = readme_section("Processing: curation, metrics, stores, report")
    documented = {cells[0].strip("`"): tuple(key.strip() for key in cells[2].split(","))
                  for cells in table_rows(section) if len(cells) == 3 and re.fullmatch(r"`[a-z0-9_]+`", cells[0])}
    actual = {name: metric.key for name, metric in load_metrics(SQL_DIR, None).items()}
    assert documented == actual


#: code spans of the metric table's questions that are no column (besides the tables metrics read): an empty text
METRIC_TABLE_NON_COLUMNS = {"''"}


def metric_table_column_mentions(section: str) -> dict[str, set[str]]:
    """The code spans (`followers_count`) each row of the README's metric table names in its question that look
    like a column name: a lower-case identifier, no setting, metric or table name."""
    from fediscope.engine.schema import COLLECTION_STARTS, CURATED

    tables = {*CURATED, COLLECTION_STARTS.name}
    mentions = {}
    for cells in table_rows(section):
        if len(cells) == 3 and re.fullmatch(r"`[a-z0-9_]+`", cells[0]):
            spans = set(re.findall(r"`([^`]+)`", cells[1])) - METRIC_TABLE_NON_COLUMNS - tables
            mentions[cells[0].strip("`")] = {span for span in spans if re.fullmatch(r"[a-z][a-z0-9_]*", span)}
    return mentions


def unknown_metric_columns(mentions: dict[str, set[str]]) -> list[str]:
    """The mentioned columns that are not in their metric's result, bound by DuckDB to empty curated tables (as
    ``fediscope doctor`` binds the metric files: no lake, a few milliseconds a metric)."""
    from fediscope.config import load_settings
    from fediscope.engine.duckdb_engine import DuckDBEngine
    from fediscope.engine.metrics import SQL_DIR, load_metrics

    metrics = load_metrics(SQL_DIR, None)
    problems = []
    with DuckDBEngine(load_settings(env={}, toml_path=None)) as engine:
        engine.register_curated_views(empty=True)
        for name, spans in sorted(mentions.items()):
            columns = set(engine.result_columns(metrics[name].sql))
            problems += [f"{name}: `{span}` is no column of it" for span in sorted(spans - columns - set(metrics))]
    return problems


def test_the_readme_metric_table_names_only_columns_its_metrics_have() -> None:
    """A column renamed in a metric's SQL (`followers_count`, `first_day_partial`) leaves its question stale."""
    mentions = metric_table_column_mentions(readme_section("Processing: curation, metrics, stores, report"))
    assert sum(map(len, mentions.values())) >= 5, mentions  # the check reads the table
    assert not unknown_metric_columns(mentions), unknown_metric_columns(mentions)
    assert unknown_metric_columns({"account_engagement": {"follower_count"}}) == [
        "account_engagement: `follower_count` is no column of it"]


def test_the_readme_names_every_curated_table() -> None:
    from fediscope.engine.schema import CURATED

    curation = README.split("**Curation** turns raw JSON Lines", 1)[1].split("Unicode emojis", 1)[0]
    assert [name for name in CURATED if f"`{name}`" not in curation] == []


def link_problems(text: str, doc: Path) -> list[str]:
    """The relative links of a markdown document (``[x](api/README.md#results-routes)``) whose file does not exist,
    or whose ``#anchor`` is no heading of that markdown file (GitHub's anchors: lower case, spaces as ``-``)."""
    problems = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue  # https://…
        path, _, anchor = target.partition("#")
        file = (doc.parent / path).resolve() if path else doc
        if not file.exists():
            problems.append(f"{doc.relative_to(ROOT)}: {target}: no such file")
        elif anchor and file.suffix == ".md":
            headings = {re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
                        for line in file.read_text().splitlines() if line.startswith("#")}
            if anchor not in headings:
                problems.append(f"{doc.relative_to(ROOT)}: {target}: no heading #{anchor}")
    return problems


def test_every_relative_link_of_the_docs_points_at_a_file_and_heading_that_exist() -> None:
    assert [problem for doc in COMMAND_DOCS for problem in link_problems(doc.read_text(), doc)] == []
    broken = "see [the API](api/README.md#result-routes) and [NiFi](nifi_templates/READ.md), [x](https://a.b)"
    assert link_problems(broken, ROOT / "README.md") == [
        "README.md: api/README.md#result-routes: no heading #result-routes",
        "README.md: nifi_templates/READ.md: no such file"]


#: Troubleshooting quotes that are no message of ours: what a database, its driver or DuckDB says, which fediscope
#: passes on after its own words
FOREIGN_MESSAGES = {"no such table", "Table '", "' doesn't exist", "TableNotFoundException", "1045",
                    "Access denied", "2003", "Can't connect", "Malformed JSON in file"}
#: Troubleshooting quotes that fediscope composes at run time from several strings: the quote, by the strings of
#: the code it is made of (each must still be in the code)
COMPOSED_MESSAGES = {
    # SQLStore._errors: f"store {url}: could not {doing}: {reason}", doing = f"read {what}" | its `connecting`
    "could not read metric_": ("could not \x00: \x00", "read \x00", "metric_"),
    "could not connect to the store": ("could not \x00: \x00", "connect to the store"),
    "could not open the store": ("could not \x00: \x00", "open the store"),
    # MissingTableError: f"store {store}: metric {metric}: {problem}: …", problem = f"its {table} missing …"
    "its table metric_": ("store \x00: metric \x00: \x00: \x00; ", "its \x00 missing (dropped by hand?)",
                          "table \x00 is"),
    # key_check.mismatch_message: f"{key_from} is not the key …", key_from the setting's origin
    "FEDISCOPE_PSEUDONYM_KEY is not the key this lake was landed with": (
        "\x00 is not the key this lake was landed with (\x00: its ", "FEDISCOPE_PSEUDONYM_KEY"),
    "pseudonym_key is not the key": ("\x00 is not the key this lake was landed with (\x00: its ",
                                     "[fediscope] \x00"),
}


def string_literals(path: Path) -> Iterator[str]:
    """The strings of a Python file, an f-string's fields as ``\\x00``."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.value
        elif isinstance(node, ast.JoinedStr):
            yield "".join(part.value if isinstance(part, ast.Constant) else "\x00" for part in node.values)


@functools.cache
def code_strings() -> str:
    """Every string of the code that prints messages (and of the test doubles, which print the skip reasons)."""
    folders = ("fediscope", "api", "spark_jobs", "tests/doubles")
    return "\n".join(text for folder in folders for path in sorted((ROOT / folder).rglob("*.py"))
                     for text in string_literals(path))


def in_code(fragment: str) -> bool:
    """Whether a message fragment is in a string of the code: a number in it may be an f-string field there
    (`Java 11 found` is ``f"Java {major} found"``)."""
    pattern = "".join(r"(?:\d+|\x00)" if part.isdigit() else re.escape(part)
                      for part in re.split(r"(\d+)", fragment) if part)
    return re.search(pattern, code_strings()) is not None


def message_fragments(quote: str) -> list[str]:
    """The words of a quoted message that the code must print as they are: the pieces between its placeholders
    (``…``, ``<name>``, ``N``) and between what is composed (``: ``, brackets, quotes)."""
    pieces = re.split(r"…|<[^<>]*>|\bN\b|: |[()\"]|, |\[fediscope\] ", quote)
    return [piece.strip() for piece in pieces if len(piece.strip()) > 3 and not re.fullmatch(r"[\W\d]+", piece)]


def unprinted_fragments(section: str) -> list[str]:
    """The fragments of the Symptom column's quoted messages that no string of the code holds."""
    missing = []
    for cells in table_rows(section):
        if cells[0] == "Symptom":
            continue
        for quote in re.findall(r"`([^`]+)`", cells[0]):
            if quote.startswith("fediscope ") or quote in COMMANDS or quote == "store export":
                continue  # a command, not a message
            for fragment in message_fragments(quote):
                if fragment in FOREIGN_MESSAGES:
                    continue
                composed = next((parts for start, parts in COMPOSED_MESSAGES.items() if start in fragment), None)
                if not all(in_code(part) for part in composed or (fragment,)):
                    missing.append(f"{quote!r}: {fragment!r}")
    return missing


def test_every_message_the_troubleshooting_table_quotes_is_one_the_code_prints() -> None:
    section = readme_section("Troubleshooting")
    assert not unprinted_fragments(section), unprinted_fragments(section)
    reworded = section.replace("is cut short or damaged", "is truncated")
    assert unprinted_fragments(reworded) == ["'the raw file … is truncated': 'is truncated'"]
