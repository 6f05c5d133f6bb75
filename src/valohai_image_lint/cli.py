"""Command line: ``valohai-image-lint [check] [PATH ...]``, ``rule CODE``, ``rules``.

Exit codes: 0 nothing at or above the fail level remains; 1 something does; 2 usage,
configuration or I/O error; 3 internal error.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, Optional, TextIO

from valohai_image_lint import __version__

if TYPE_CHECKING:
    from valohai_image_lint.config import Config
    from valohai_image_lint.diagnostic import Diagnostic
    from valohai_image_lint.fixes import LintFunction
    from valohai_image_lint.output import Report
    from valohai_image_lint.reference import ImageReference
    from valohai_image_lint.rules import RuleSet
    from valohai_image_lint.source import SourceFile

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


def _build_check_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="valohai-image-lint",
        description="Check the Docker images named in valohai.yaml files.",
        epilog="Other commands: `valohai-image-lint rule CODE` explains a rule; "
        "`valohai-image-lint rules` lists them.",
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
    parser.add_argument("--format", default="full", choices=list(FORMATS),
                        help="output format (default: full)")
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
    from valohai_image_lint.config import ConfigError, discover_config, load_config_file
    from valohai_image_lint.diagnostic import Severity
    from valohai_image_lint.discovery import DiscoveryError, collect
    from valohai_image_lint.linter import fails, lint_bytes, lint_source
    from valohai_image_lint.output import Report, renderer
    from valohai_image_lint.rules import UnknownRuleError, match_selector, select_rules
    from valohai_image_lint.source import read_source, read_stream

    args = _build_check_parser().parse_args(argv)
    try:
        config = load_config_file(Path(args.config)) if args.config else discover_config()
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    # Every rule name is checked before anything runs, each error saying where it was written.
    named: list[tuple[str, tuple[str, ...]]] = [
        (f"{config.source}: {key!r}", selectors)
        for key, selectors in (("select", config.select or ()),
                               ("extend-select", config.extend_select),
                               ("ignore", config.ignore))
    ]
    named += [(f"{config.source}: per-file-ignores {pattern!r}", selectors)
              for pattern, selectors in config.per_file_ignores]
    named += [("--" + option.replace("_", "-"), _split(getattr(args, option)) or ())
              for option in ("select", "extend_select", "ignore")]
    for where, selectors in named:
        for selector in selectors:
            try:
                match_selector(selector)
            except UnknownRuleError as exc:
                hint = "; `valohai-image-lint rules` lists them" if where.startswith("--") else ""
                raise UsageError(f"{where}: {exc}{hint}") from None
    cli_select = _split(args.select)
    # As in ruff, a --select on the command line starts the selection afresh: the
    # configuration's ignore and extend-select no longer apply.
    config_ignore = config.ignore if cli_select is None else ()
    config_extend = config.extend_select if cli_select is None else ()
    config = config.with_overrides(
        select=cli_select,
        ignore=config_ignore + (_split(args.ignore) or ()),
        extend_select=config_extend + (_split(args.extend_select) or ()),
        fail_level=Severity(args.fail_level) if args.fail_level else None,
        online=args.online,
    )
    try:
        rules = select_rules(config.select, config.extend_select, config.ignore)
    except UnknownRuleError as exc:
        where = f" (in {config.source})" if config.source else ""
        raise UsageError(f"{exc}{where}") from None
    paths = args.paths or ["."]
    if args.stdin_filename and STDIN_NAME not in paths and not args.paths:
        paths = [STDIN_NAME]
    try:
        files = collect(paths)
    except DiscoveryError as exc:
        raise UsageError(str(exc)) from None
    if not files and not args.quiet:
        print(f"warning: no valohai.yaml or valohai.yml found in {', '.join(paths)}",
              file=sys.stderr)
    if args.verbose:
        print(f"configuration: {config.source or 'defaults'}", file=sys.stderr)
        print(f"rules: {', '.join(sorted(rules.codes))}", file=sys.stderr)
    # Online: look every file's references up once, before any rule runs. --offline: the same
    # from the cache only. Neither: the registry package is not even imported.
    lookup_mode = "online" if config.online else ("cache" if args.online is False else None)
    lookups, preloaded = _look_up(files, config, rules, lookup_mode, args)

    report = Report(diagnostics=[], color=_use_color(args.color, sys.stdout),
                    show_fixes=args.show_fixes, verbose=args.verbose)
    io_error = False
    # --diff: the diffs; --fix on stdin: the fixed text. Both go to stdout.
    fix_outputs: list[bytes] = []
    fixing = args.fix or args.diff
    for path in files:
        display = (args.stdin_filename or "<stdin>") if path == STDIN_NAME else path
        try:
            data = preloaded[path] if path in preloaded else (
                read_stream(sys.stdin.buffer) if path == STDIN_NAME else read_source(path))
        except OSError as exc:
            print(f"error: {path}: cannot read: {exc.strerror or exc}", file=sys.stderr)
            io_error = True
            continue
        if args.verbose:
            print(f"checking {display}", file=sys.stderr)
        source, diagnostics = lint_bytes(display, data, config, rules, lookups)
        if source is not None:
            report.sources[display] = source
        if source is not None and fixing:
            remaining = _fix_file(path, data, source, diagnostics,
                                  lambda s: lint_source(s, config, rules, lookups), args, report,
                                  fix_outputs)
            if remaining is None:
                io_error = True
            else:
                diagnostics = remaining
        elif fixing and path == STDIN_NAME and not args.diff:
            fix_outputs.append(data)  # not text we can fix: pass it through unchanged
        report.files_checked.append(display)
        report.diagnostics.extend(diagnostics)

    if args.diff:
        return _finish_diff(report, fix_outputs, config.fail_level, args, io_error)
    if args.statistics:
        output = _statistics(report)
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
    if (args.show_fixes and args.fix and args.format in ("full", "concise")
            and not args.statistics):
        from valohai_image_lint.fixes import describe_applied

        stream.write(describe_applied(report.applied))
    if not args.quiet and args.format in ("full", "concise") and not args.statistics:
        _summary(report, config.fail_level, args.unsafe_fixes, io_error)
    if io_error:
        return EXIT_USAGE
    if args.exit_zero:
        return EXIT_OK
    return EXIT_FINDINGS if fails(report.diagnostics, config.fail_level) else EXIT_OK


def _fix_file(path: str, data: bytes, source: SourceFile, diagnostics: list[Diagnostic],
              lint: LintFunction, args: argparse.Namespace, report: Report,
              outputs: list[bytes]) -> Optional[list[Diagnostic]]:
    """Fix one file: write it, or keep its diff (--diff) or fixed text (stdin) in ``outputs``.

    Returns the diagnostics that remain, or None when the file could not be written.
    """
    from valohai_image_lint.fixes import (
        MAX_PASSES,
        FixWriteError,
        applied_summary,
        fix_source,
        unified_diff,
        write_fixed,
    )

    outcome = fix_source(source, lint, unsafe=args.unsafe_fixes, diagnostics=diagnostics)
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
    report.sources[source.path] = outcome.fixed
    report.applied[source.path] = applied_summary(outcome.applied)
    return outcome.remaining


def _finish_diff(report: Report, diffs: list[bytes], fail_level: object,
                 args: argparse.Namespace, io_error: bool) -> int:
    """--diff prints only the diffs (so they can go to `git apply`); exit 1 when there is one
    or when problems at the fail level would remain."""
    from valohai_image_lint.diagnostic import Severity
    from valohai_image_lint.linter import fails

    assert isinstance(fail_level, Severity)
    sys.stdout.flush()
    sys.stdout.buffer.write(b"".join(diffs))
    sys.stdout.flush()
    fixed = sum(len(lines) for lines in report.applied.values())
    remaining = len(report.diagnostics)
    if not args.quiet:
        problems = "problem" if fixed == 1 else "problems"
        files = f"{len(diffs)} file" + ("" if len(diffs) == 1 else "s")
        left = f"; {remaining} would remain" if remaining else ""
        print(f"Would fix {fixed} {problems} in {files}{left}." if fixed
              else f"No fixes available{left}.", file=sys.stderr)
    if io_error:
        return EXIT_USAGE
    if args.exit_zero:
        return EXIT_OK
    return EXIT_FINDINGS if diffs or fails(report.diagnostics, fail_level) else EXIT_OK


def _look_up(files: list[str], config: Config, rules: RuleSet, mode: Optional[str],
             args: argparse.Namespace) -> tuple[Optional[object], dict[str, bytes]]:
    """Registry answers for every reference of every file (``mode`` "online" or "cache"),
    and the bytes read for that, so that stdin is read once. ``mode`` None: nothing."""
    from valohai_image_lint.linter import lookups_wanted
    from valohai_image_lint.source import SourceError, SourceFile, read_source, read_stream

    if mode is None and not (args.verbose and "VIL020" in rules.codes):
        return None, {}
    preloaded: dict[str, bytes] = {}
    wanted: dict[ImageReference, bool] = {}
    for path in files:
        try:
            data = read_stream(sys.stdin.buffer) if path == STDIN_NAME else read_source(path)
            source = SourceFile.from_bytes(path, data)
        except (OSError, SourceError):
            continue  # the linting pass reports it
        preloaded[path] = data
        for ref, want_size in lookups_wanted(source, config, rules).items():
            wanted[ref] = wanted.get(ref, False) or want_size
    if mode is None:
        # --verbose offline: say which sizes VIL020 cannot know.
        for ref, want_size in wanted.items():
            if want_size:
                print(f"size of {ref.familiar} unknown: no image-sizes entry, and online"
                      " lookups are off (--online)", file=sys.stderr)
        return None, preloaded
    from valohai_image_lint.registry import LookupRequest, lookup_images

    requests = [LookupRequest(ref, want_size) for ref, want_size in wanted.items()]
    # --quiet prints problems only: the lookup notes are dropped with the summary.
    import io

    err = io.StringIO() if args.quiet and not args.verbose else sys.stderr
    return lookup_images(requests, config, offline=mode == "cache", verbose=args.verbose,
                         err=err), preloaded


def _statistics(report: object) -> str:
    from collections import Counter

    from valohai_image_lint.output import Report

    assert isinstance(report, Report)
    counts = Counter((d.code, d.name) for d in report.diagnostics)
    fixable = Counter((d.code, d.name) for d in report.diagnostics if d.fix is not None)
    lines = []
    for (code, name), count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        mark = "[*]" if fixable[(code, name)] else "   "
        lines.append(f"{count:>5}\t{code}\t{mark} {name}")
    return "".join(line + "\n" for line in lines)


def _summary(report: object, fail_level: object, unsafe_fixes: bool = False,
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
    sys.stdout.write(f"Severity: {rule.severity}; {state}; {fix}.\n\n")
    doc = rule.documentation()
    # The first line repeats the code and name; print the sections.
    body = doc.split("\n", 1)[1].lstrip("\n") if "\n" in doc else doc
    sys.stdout.write(body + "\n")
    return EXIT_OK


def run_rules(argv: list[str]) -> int:
    from valohai_image_lint.rules import all_rules

    if argv in (["-h"], ["--help"]):
        sys.stdout.write("usage: valohai-image-lint rules\n\nList every rule with its severity,"
                         " default state and fix.\n")
        return EXIT_OK
    if argv:
        raise UsageError("usage: valohai-image-lint rules")
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


COMMANDS = {"rule": run_rule, "rules": run_rules, "check": run_check}


def main(argv: Optional[list[str]] = None) -> int:
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
        return command(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`| head`); nothing more to say.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FINDINGS
    except Exception:  # the last resort must catch everything
        import traceback

        print(f"error: internal error in valohai-image-lint {__version__}; please report it at"
              f" {REPORT_URL} with the traceback below", file=sys.stderr)
        traceback.print_exc()
        return EXIT_INTERNAL
    finally:
        if collecting:
            gc.enable()
