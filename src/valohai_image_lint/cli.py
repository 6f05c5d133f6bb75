"""Command line: ``valohai-image-lint [check] [PATH ...]``, ``rule CODE``, ``rules``, ``server``.

Exit codes: 0 nothing at or above the fail level remains; 1 something does; 2 usage,
configuration or I/O error; 3 internal error.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, NoReturn, Optional, TextIO

from valohai_image_lint import __version__

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

    from valohai_image_lint.diagnostic import Diagnostic
    from valohai_image_lint.output import Report
    from valohai_image_lint.source import SourceFile
    from valohai_image_lint.workspace import Workspace

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3

STDIN_NAME = "-"
REPORT_URL = "https://github.com/valohai-image-lint/valohai-image-lint/issues"


class UsageError(Exception):
    """A problem the user can fix: bad options, configuration, unreadable paths (exit 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)

    def _print_message(self, message: str, file: Optional[SupportsWrite[str]] = None) -> None:
        # argparse swallows write errors; `--help > /dev/full` must be exit 2 like the rest.
        if message:
            (file or sys.stderr).write(message)

    def _get_formatter(self) -> argparse.HelpFormatter:
        # argparse makes a formatter for every add_argument, and each asks shutil for the
        # terminal width: importing shutil (with zlib, bz2 and lzma) would cost every run more
        # than parsing the arguments does. The width matters only when help is printed.
        try:
            columns = int(os.environ.get("COLUMNS", "0")) or os.get_terminal_size(
                sys.__stdout__.fileno() if sys.__stdout__ else 1).columns
        except (ValueError, OSError):
            columns = 80
        return argparse.HelpFormatter(prog=self.prog, width=columns - 2)


def _build_check_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="valohai-image-lint",
        usage="%(prog)s [check] [options] [PATH ...]",
        description="Check the Docker images named in valohai.yaml files (the `check`"
        " command, which is the default: `valohai-image-lint check .` is"
        " `valohai-image-lint .`).",
        epilog="Other commands: `valohai-image-lint rule CODE` explains a rule; "
        "`valohai-image-lint rules [--format json]` lists them.",
    )
    parser.add_argument("paths", nargs="*", metavar="PATH",
                        help='files or directories to check ("-" reads stdin; default ".")')
    parser.add_argument("--fix", action="store_true", help="apply safe fixes")
    parser.add_argument("--unsafe-fixes", action="store_true",
                        help="with --fix or --diff, apply unsafe fixes too")
    parser.add_argument("--diff", action="store_true",
                        help="print the fixes as a unified diff and write nothing")
    from valohai_image_lint.output import FORMATS

    # Only the formats that are there: a listed but missing one would be an internal error.
    parser.add_argument("--format", choices=list(FORMATS),
                        help="output format (default: full); --statistics also takes json")
    # Repeatable, as in ruff: `--ignore VIL001 --ignore VIL002` ignores both.
    parser.add_argument("--select", metavar="RULES", action="append",
                        help="comma-separated rules to enable (codes, prefixes, names, ALL)")
    parser.add_argument("--extend-select", metavar="RULES", action="append",
                        help="comma-separated rules to enable on top of the selection")
    parser.add_argument("--ignore", metavar="RULES", action="append",
                        help="comma-separated rules to disable")
    parser.add_argument("--config", metavar="PATH",
                        help="configuration file (pyproject.toml or .valohai-image-lint.toml)")
    online = parser.add_mutually_exclusive_group()
    online.add_argument("--online", dest="online", action="store_true", default=None,
                        help="look up digests and sizes in registries")
    online.add_argument("--offline", dest="online", action="store_false",
                        help="never touch the network; use answers cached by earlier --online"
                        " runs (without either option nothing is looked up)")
    parser.add_argument("--stdin-filename", metavar="NAME",
                        help="the path to report for input read from stdin")
    parser.add_argument("--exit-zero", action="store_true",
                        help="exit 0 even when problems are found")
    parser.add_argument("--fail-level", choices=["error", "warning", "info"],
                        help="lowest severity that makes the exit code 1 (default: warning)")
    parser.add_argument("--color", choices=["auto", "always", "never"], default="auto",
                        help="colour the output (default: auto; honours NO_COLOR, FORCE_COLOR)")
    parser.add_argument("--statistics", action="store_true",
                        help="print the number of problems per rule instead of each problem")
    parser.add_argument("--show-fixes", action="store_true",
                        help="list the fixes that were applied")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="print problems only, no summary")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="say which files and configuration are used")
    parser.add_argument("--version", action="version", version=f"valohai-image-lint {__version__}")
    return parser


def _split(values: Optional[list[str]]) -> Optional[tuple[str, ...]]:
    if values is None:
        return None
    return tuple(part.strip() for value in values for part in value.split(",") if part.strip())


def _use_color(choice: str, stream: TextIO) -> bool:
    if choice != "auto":
        return choice == "always"
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def run_check(argv: list[str]) -> int:
    from valohai_image_lint.diagnostic import Severity
    from valohai_image_lint.discovery import DiscoveryError, collect
    from valohai_image_lint.output import Report, renderer
    from valohai_image_lint.source import read_source, read_stream
    from valohai_image_lint.workspace import Overrides, Workspace, WorkspaceError

    args = _build_check_parser().parse_args(argv)
    _check_format(args)
    overrides = Overrides(
        select=_split(args.select),
        extend_select=_split(args.extend_select) or (),
        ignore=_split(args.ignore) or (),
        fail_level=Severity(args.fail_level) if args.fail_level else None,
        online=args.online,
    )
    paths = args.paths or ["."]
    if args.stdin_filename and STDIN_NAME not in paths and not args.paths:
        paths = [STDIN_NAME]
    try:
        files = collect(paths)
    except DiscoveryError as exc:
        raise UsageError(str(exc)) from None
    try:
        workspace = Workspace(overrides, args.config or None)
        # Every configuration is read, and every rule name in it checked, before anything
        # is linted: a mistake in one project's configuration is exit 2, not half a run.
        settings = {path: workspace.settings_for(_settings_path(path, args)) for path in files}
        if not files:
            workspace.settings_for(os.path.join(".", "valohai.yaml"))
    except WorkspaceError as exc:
        raise UsageError(str(exc)) from None
    if not files and not args.quiet:
        print("warning: no valohai.yaml, valohai.yml or Python file calling valohai.prepare"
              f" found in {', '.join(paths)}", file=sys.stderr)
    # Online: look every file's references up once, before any rule runs. --offline: the same
    # from the cache only. Neither: the registry package is not even imported.
    lookups, preloaded = _look_up(files, workspace, args)

    report = Report(diagnostics=[], color=_use_color(args.color, sys.stdout),
                    show_fixes=args.show_fixes, verbose=args.verbose,
                    unsafe_fixes=args.unsafe_fixes)
    io_error = False
    # --diff: the diffs; --fix on stdin: the fixed text. Both go to stdout.
    fix_outputs: list[bytes] = []
    fixing = args.fix or args.diff
    if fixing:
        # valohai.yaml files first: a Python image fixed later is checked against its step's
        # fixed image (sites.project.out_of_step), so the two stay in step.
        from valohai_image_lint.sites.project import forget_yaml_texts, set_run_files

        forget_yaml_texts()
        set_run_files([p for p in files if p != STDIN_NAME])
        files = sorted(files, key=lambda p: p.endswith(".py"))
    shown_rules: set[Optional[str]] = set()
    for path in files:
        display = (args.stdin_filename or "<stdin>") if path == STDIN_NAME else path
        config, rules = settings[path].config, settings[path].rules
        try:
            data = preloaded[path] if path in preloaded else (
                read_stream(sys.stdin.buffer) if path == STDIN_NAME else read_source(path))
        except OSError as exc:
            print(f"error: {path}: cannot read: {exc.strerror or exc}", file=sys.stderr)
            io_error = True
            continue
        if args.verbose:
            print(f"checking {display} (configuration: {config.source or 'defaults'})",
                  file=sys.stderr)
            if config.source not in shown_rules:
                shown_rules.add(config.source)
                print(f"rules: {', '.join(sorted(rules.codes))}", file=sys.stderr)
        file_lookups = lookups.get(config.source)
        source, diagnostics = workspace.lint(display, data, file_lookups,
                                             settings_path=_settings_path(path, args),
                                             warn=_warn_unknown_noqa)
        if source is not None:
            report.sources[display] = source
        if source is not None and fixing:
            remaining = _fix_file(path, data, source, diagnostics, workspace, file_lookups,
                                  args, report, fix_outputs)
            if remaining is None:
                io_error = True
            else:
                diagnostics = remaining
        elif fixing and path == STDIN_NAME and not args.diff:
            fix_outputs.append(data)  # not text we can fix: pass it through unchanged
        report.files_checked.append(display)
        report.fail_levels[display] = config.fail_level
        report.diagnostics.extend(diagnostics)
    if fixing:
        forget_yaml_texts()  # what this run fixed must not leak into the next one in-process

    if args.diff:
        return _finish_diff(report, fix_outputs, args, io_error)
    if args.statistics:
        output = _statistics(report, args.format)
    else:
        output = renderer(args.format)(report)
    stream = sys.stdout
    if args.fix and STDIN_NAME in files:
        # As ruff does: the fixed text goes to stdout, the report to stderr.
        sys.stdout.flush()
        sys.stdout.buffer.write(b"".join(fix_outputs))
        sys.stdout.flush()
        stream = sys.stderr
    stream.write(output)
    # Before the summary: a write error must not follow "All checks passed".
    stream.flush()
    if (args.show_fixes and args.fix and args.format in ("full", "concise")
            and not args.statistics):
        from valohai_image_lint.fixes import describe_applied

        stream.write(describe_applied(report.applied))
    if not args.quiet and args.format in ("full", "concise") and not args.statistics:
        _summary(report, args.unsafe_fixes, io_error)
    if io_error:
        return EXIT_USAGE
    if args.exit_zero:
        return EXIT_OK
    return EXIT_FINDINGS if report.failing() else EXIT_OK


def _warn_unknown_noqa(path: str, line: int, column: int, written: str) -> None:
    """An unknown code in a noqa comment silences nothing: say so even when VIL100 is off."""
    from valohai_image_lint.output.concise import escape

    print(f"warning: {escape(path)}:{line}:{column}: unknown rule {written!r} in `# noqa`;"
          " `valohai-image-lint rules` lists them", file=sys.stderr)


def _check_format(args: argparse.Namespace) -> None:
    """Reject a --format that an option would silently ignore; then default it to full."""
    chosen = args.format
    if args.diff and chosen not in (None, "full", "concise"):
        raise UsageError(f"--diff prints a unified diff; it cannot be combined with --format"
                         f" {chosen}")
    if args.statistics and chosen not in (None, "full", "concise", "json"):
        raise UsageError(f"--statistics prints a table or JSON (--format json), not --format"
                         f" {chosen}")
    args.format = chosen or "full"


def _settings_path(path: str, args: argparse.Namespace) -> str:
    """The path whose configuration applies: stdin's is that of --stdin-filename (or a file
    in the working directory), as in ruff."""
    if path != STDIN_NAME:
        return path
    return args.stdin_filename or os.path.join(".", "valohai.yaml")


def _fix_file(path: str, data: bytes, source: SourceFile, diagnostics: list[Diagnostic],
              workspace: Workspace, lookups: Optional[object], args: argparse.Namespace,
              report: Report, outputs: list[bytes]) -> Optional[list[Diagnostic]]:
    """Fix one file: write it, or keep its diff (--diff) or fixed text (stdin) in ``outputs``.

    Returns the diagnostics that remain, or None when the file could not be written.
    """
    from valohai_image_lint.fixes import (
        MAX_PASSES,
        FixWriteError,
        applied_summary,
        unified_diff,
        write_fixed,
    )

    outcome = workspace.fix(source, diagnostics, unsafe=args.unsafe_fixes, lookups=lookups,
                            settings_path=_settings_path(path, args))
    for rejected in outcome.rejected:
        print(f"warning: {rejected}", file=sys.stderr)
    if not outcome.converged:
        print(f"warning: {source.path}: fixes kept applying after {MAX_PASSES} passes;"
              " check the result", file=sys.stderr)
    if args.diff:
        if outcome.changed:
            outputs.append(unified_diff(source.path, source, outcome.fixed).encode("utf-8"))
    elif path == STDIN_NAME:
        outputs.append(outcome.fixed_bytes())
    elif outcome.changed:
        try:
            write_fixed(path, data, outcome.fixed_bytes())
        except FixWriteError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return None
    if outcome.changed and path != STDIN_NAME and not path.endswith(".py"):
        # Written (or shown in --diff): Python files later in the run compare with this text.
        from valohai_image_lint.sites.project import remember_yaml_text

        remember_yaml_text(path, source.text, outcome.fixed.text)
    report.sources[source.path] = outcome.fixed
    report.applied[source.path] = applied_summary(outcome.applied)
    return outcome.remaining


def _finish_diff(report: Report, diffs: list[bytes], args: argparse.Namespace,
                 io_error: bool) -> int:
    """--diff prints only the diffs (so they can go to `git apply`); exit 1 when there is one
    or when problems at the fail level would remain."""
    from valohai_image_lint.diagnostic import Applicability

    sys.stdout.flush()
    sys.stdout.buffer.write(b"".join(diffs))
    sys.stdout.flush()
    fixed = sum(len(lines) for lines in report.applied.values())
    remaining = len(report.diagnostics)
    if not args.quiet:
        problems = "problem" if fixed == 1 else "problems"
        files = f"{len(diffs)} file" + ("" if len(diffs) == 1 else "s")
        left = f"; {remaining} would remain" if remaining else ""
        # As ruff says it: what --unsafe-fixes would add to the diff.
        unsafe = 0 if args.unsafe_fixes else sum(
            1 for d in report.diagnostics
            if d.fix is not None and d.fix.applicability is Applicability.UNSAFE)
        hidden = (f" ({unsafe} more {'fix is' if unsafe == 1 else 'fixes are'} shown with"
                  " --unsafe-fixes)" if unsafe else "")
        print(f"Would fix {fixed} {problems} in {files}{hidden}{left}." if fixed
              else f"No fixes available{hidden}{left}.", file=sys.stderr)
    if io_error:
        return EXIT_USAGE
    if args.exit_zero:
        return EXIT_OK
    return EXIT_FINDINGS if diffs or report.failing() else EXIT_OK


def _look_up(files: list[str], workspace: Workspace, args: argparse.Namespace
             ) -> tuple[dict[Optional[str], object], dict[str, bytes]]:
    """Registry answers for every file (see ``Workspace.look_up``), and the bytes read for
    them, so that stdin is read once."""
    from valohai_image_lint.source import SourceError, SourceFile, read_source, read_stream

    offline = args.online is False
    paths = [_settings_path(path, args) for path in files]
    if not workspace.wants_lookups(paths, offline=offline, verbose=args.verbose):
        return {}, {}
    preloaded: dict[str, bytes] = {}
    sources: list[tuple[str, SourceFile]] = []
    for path, settings_path in zip(files, paths):
        # Named as the linting pass names it: a Python file (stdin too) is read as Python.
        name = (args.stdin_filename or "<stdin>") if path == STDIN_NAME else path
        try:
            data = read_stream(sys.stdin.buffer) if path == STDIN_NAME else read_source(path)
            preloaded[path] = data
            source = SourceFile.from_bytes(name, data)
        except (OSError, SourceError):
            continue  # the linting pass reports it
        sources.append((settings_path, source))
    # --quiet prints problems only: the lookup notes are dropped with the summary.
    import io

    err = io.StringIO() if args.quiet and not args.verbose else sys.stderr
    return workspace.look_up(sources, offline=offline, verbose=args.verbose,
                             err=err), preloaded


def _statistics(report: object, fmt: str = "full") -> str:
    from collections import Counter

    from valohai_image_lint.output import Report

    assert isinstance(report, Report)
    counts = Counter((d.code, d.name) for d in report.diagnostics)
    fixable = Counter((d.code, d.name) for d in report.diagnostics if d.fix is not None)
    rows = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    if fmt == "json":
        import json

        # As ruff's `--statistics --output-format json`: one object per rule.
        return json.dumps([{"code": code, "name": name, "count": count,
                            "fixable": fixable[(code, name)] > 0}
                           for (code, name), count in rows], indent=2) + "\n"
    lines = []
    for (code, name), count in rows:
        mark = "[*]" if fixable[(code, name)] else "   "
        lines.append(f"{count:>5}\t{code}\t{mark} {name}")
    return "".join(line + "\n" for line in lines)


def _summary(report: object, unsafe_fixes: bool = False,
             io_error: bool = False) -> None:
    from valohai_image_lint.output import Report

    assert isinstance(report, Report)
    count = len(report.diagnostics)
    files = len(report.files_checked)
    noun = "file" if files == 1 else "files"
    fixed = sum(len(lines) for lines in report.applied.values())
    if fixed:
        # As ruff says it after --fix: what was found, what was fixed, what is left.
        problems = "problem" if fixed + count == 1 else "problems"
        print(f"Found {fixed + count} {problems} ({fixed} fixed, {count} remaining) in"
              f" {files} {noun}.", file=sys.stderr)
    elif count == 0:
        # Never "All checks passed" beside a file that could not be read (or written).
        if not io_error:
            print(f"All checks passed ({files} {noun} checked).", file=sys.stderr)
        elif files:
            print(f"No problems found in the {files} {noun} that could be checked.",
                  file=sys.stderr)
        return
    else:
        fixable = sum(1 for d in report.diagnostics if d.fix is not None)
        problems = "problem" if count == 1 else "problems"
        extra = f" ({fixable} fixable)" if fixable else ""
        print(f"Found {count} {problems}{extra} in {files} {noun}.", file=sys.stderr)
    from valohai_image_lint.diagnostic import Applicability

    unsafe = sum(1 for d in report.diagnostics
                 if d.fix is not None and d.fix.applicability is Applicability.UNSAFE)
    if unsafe and not unsafe_fixes:
        fixes = "fix is" if unsafe == 1 else "fixes are"
        print(f"{unsafe} {fixes} unsafe; apply with --fix --unsafe-fixes.", file=sys.stderr)


def run_rule(argv: list[str]) -> int:
    from valohai_image_lint.rules import UnknownRuleError, find_rule

    if argv in (["-h"], ["--help"]):
        sys.stdout.write("usage: valohai-image-lint rule CODE|NAME\n\nExplain one rule: what it"
                         " reports, why, an example, options and fix.\n")
        return EXIT_OK
    if len(argv) != 1:
        raise UsageError("usage: valohai-image-lint rule CODE|NAME")
    try:
        rule = find_rule(argv[0])
    except UnknownRuleError as exc:
        raise UsageError(f"{exc}; `valohai-image-lint rules` lists them") from None
    sys.stdout.write(f"# {rule.code} {rule.name}\n\n")
    state = "on by default" if rule.default_enabled else "off by default (opt in with select)"
    fix = f"{rule.fix_applicability} fix" if rule.fix_applicability else "no fix"
    if rule.fix_applicability and rule.fix_needs_online:
        fix += ", online only"
    online = ("; reports only from registry answers (--online, or the cache with --offline)"
              if rule.needs_online else "")
    sys.stdout.write(f"Severity: {rule.severity}; {state}; {fix}{online}.\n\n")
    doc = rule.documentation()
    # The first line repeats the code and name; print the sections.
    body = doc.split("\n", 1)[1].lstrip("\n") if "\n" in doc else doc
    sys.stdout.write(body + "\n")
    return EXIT_OK


def run_rules(argv: list[str]) -> int:
    from valohai_image_lint.rules import all_rules

    usage = "usage: valohai-image-lint rules [--format text|json]"
    if argv in (["-h"], ["--help"]):
        sys.stdout.write(f"{usage}\n\nList every rule with its severity, default state and"
                         " fix; --format json for tools that build on the linter.\n")
        return EXIT_OK
    fmt = "text"
    if len(argv) == 2 and argv[0] == "--format":
        fmt = argv[1]
    elif len(argv) == 1 and argv[0].startswith("--format="):
        fmt = argv[0].split("=", 1)[1]
    elif argv:
        raise UsageError(usage)
    if fmt not in ("text", "json"):
        raise UsageError(f"rules --format: {fmt!r} is not one of text, json")
    if fmt == "json":
        import json

        sys.stdout.write(json.dumps([{
            "code": code,
            "name": rule.name,
            "severity": str(rule.severity),
            "default_enabled": rule.default_enabled,
            "fix": str(rule.fix_applicability) if rule.fix_applicability else None,
            "fix_needs_online": rule.fix_needs_online,
            "summary": rule.summary,
        } for code, rule in all_rules().items()], indent=2) + "\n")
        return EXIT_OK
    rows = [("code", "name", "severity", "default", "fix")]
    for code, rule in all_rules().items():
        fix = str(rule.fix_applicability) if rule.fix_applicability else "-"
        if rule.fix_applicability and rule.fix_needs_online:
            fix += " (online)"
        rows.append((code, rule.name, str(rule.severity),
                     "on" if rule.default_enabled else "off", fix))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        sys.stdout.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() + "\n")
    return EXIT_OK


def run_server(argv: list[str]) -> int:
    if argv in (["-h"], ["--help"]):
        sys.stdout.write("usage: valohai-image-lint server [--stdio]\n\nRun the Language Server"
                         " over stdin and stdout (docs/editors.md shows editor set-ups).\n")
        return EXIT_OK
    if argv not in ([], ["--stdio"]):  # editors' LSP clients often pass --stdio
        raise UsageError("usage: valohai-image-lint server [--stdio]")
    try:
        from valohai_image_lint import server
    except ImportError as exc:
        raise UsageError(f"the language server needs pygls ({exc}); install it with"
                         " `pip install 'valohai-image-lint[lsp]'`") from None
    return server.run(argv)


COMMANDS = {"rule": run_rule, "rules": run_rules, "check": run_check, "server": run_server}


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's flush at exit does not fail
    again on what is still buffered."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass  # not a real file (a test's capture): nothing is flushed at exit


def main(argv: Optional[list[str]] = None) -> int:
    """Run the command line; the exit code. Without ``argv`` it is the process's own command
    line, and the run ends by freezing the collector's objects for a quick exit: a program
    that embeds the linter passes ``argv`` (``main(sys.argv[1:])``)."""
    args = sys.argv[1:] if argv is None else list(argv)
    command = run_check
    if args and args[0] in COMMANDS and not os.path.exists(args[0]):
        command = COMMANDS[args.pop(0)]
    # A run builds large acyclic trees and makes next to no cycles; the collector's passes
    # over the live trees cost a sixth of a large file's time and would free nothing.
    import gc

    collecting = gc.isenabled()
    gc.disable()
    try:
        try:
            code = command(args)
        except SystemExit as exc:  # --help and --version print, then exit through argparse
            if not isinstance(exc.code, int):
                raise
            code = exc.code
        # Flushed here, not at exit, so that a full disk is an error we can report (the
        # language server closes stdout itself when the client says exit).
        if not sys.stdout.closed:
            sys.stdout.flush()
        return code
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`| head`); nothing more to say.
        _silence_stdout()
        return EXIT_FINDINGS
    except OSError as exc:
        if exc.filename is not None:
            raise  # pragma: no cover - files are read and written with their own messages
        # Writing the output failed (`> /dev/full`, a closed descriptor): an I/O error.
        _silence_stdout()
        import contextlib

        # When stderr is the one that failed, the exit code says it.
        with contextlib.suppress(OSError):
            print(f"error: cannot write the output: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception:  # the last resort must catch everything
        import traceback

        print(f"error: internal error in valohai-image-lint {__version__}; please report it at"
              f" {REPORT_URL} with the traceback below", file=sys.stderr)
        traceback.print_exc()
        return EXIT_INTERNAL
    finally:
        if collecting:
            gc.enable()
        if argv is None:
            # The process's own command line (the console script, python -m): the run is
            # over, and what it made goes with the process. Frozen, it is out of the
            # collector's reach, so the interpreter's collections at exit have nothing to
            # traverse (every object the imports made: about 7 ms of a 10-step run's CPU);
            # atexit handlers, flushing and module teardown happen as usual.
            gc.freeze()
