"""Command line: ``valohai-image-lint [check] [PATH ...]``, ``rule CODE``, ``rules``.

Exit codes: 0 nothing at or above the fail level remains; 1 something does; 2 usage,
configuration or I/O error; 3 internal error.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import NoReturn, Optional, TextIO

from valohai_image_lint import __version__

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
    parser.add_argument("--format", default="full",
                        choices=["full", "concise", "json", "sarif", "github", "gitlab", "junit"],
                        help="output format (default: full)")
    parser.add_argument("--select", metavar="RULES",
                        help="comma-separated rules to enable (codes, prefixes, names, ALL)")
    parser.add_argument("--extend-select", metavar="RULES",
                        help="comma-separated rules to enable on top of the selection")
    parser.add_argument("--ignore", metavar="RULES", help="comma-separated rules to disable")
    parser.add_argument("--config", metavar="PATH",
                        help="configuration file (pyproject.toml or .valohai-image-lint.toml)")
    online = parser.add_mutually_exclusive_group()
    online.add_argument("--online", dest="online", action="store_true", default=None,
                        help="look up digests and sizes in registries")
    online.add_argument("--offline", dest="online", action="store_false",
                        help="never touch the network (the default)")
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


def _split(value: Optional[str]) -> Optional[tuple[str, ...]]:
    if value is None:
        return None
    return tuple(part.strip() for part in value.split(",") if part.strip())


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
    from valohai_image_lint.linter import fails, lint_bytes
    from valohai_image_lint.output import Report, renderer
    from valohai_image_lint.rules import UnknownRuleError, select_rules

    args = _build_check_parser().parse_args(argv)
    try:
        config = load_config_file(Path(args.config)) if args.config else discover_config()
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    config = config.with_overrides(
        select=_split(args.select),
        ignore=config.ignore + (_split(args.ignore) or ()),
        extend_select=config.extend_select + (_split(args.extend_select) or ()),
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
    if args.verbose:
        print(f"configuration: {config.source or 'defaults'}", file=sys.stderr)
        print(f"rules: {', '.join(sorted(rules.codes))}", file=sys.stderr)
    if config.online:
        print("note: online lookups are not available in this version; nothing was looked up",
              file=sys.stderr)

    report = Report(diagnostics=[], color=_use_color(args.color, sys.stdout),
                    show_fixes=args.show_fixes)
    io_error = False
    for path in files:
        display = (args.stdin_filename or "<stdin>") if path == STDIN_NAME else path
        try:
            data = sys.stdin.buffer.read() if path == STDIN_NAME else Path(path).read_bytes()
        except OSError as exc:
            print(f"error: {path}: cannot read: {exc.strerror or exc}", file=sys.stderr)
            io_error = True
            continue
        if args.verbose:
            print(f"checking {display}", file=sys.stderr)
        source, diagnostics = lint_bytes(display, data, config, rules)
        if source is not None:
            report.sources[display] = source
        report.files_checked.append(display)
        report.diagnostics.extend(diagnostics)

    if args.statistics:
        output = _statistics(report)
    else:
        output = renderer(args.format)(report)
    sys.stdout.write(output)
    if not args.quiet and args.format in ("full", "concise") and not args.statistics:
        _summary(report, config.fail_level)
    if io_error:
        return EXIT_USAGE
    if args.exit_zero:
        return EXIT_OK
    return EXIT_FINDINGS if fails(report.diagnostics, config.fail_level) else EXIT_OK


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


def _summary(report: object, fail_level: object) -> None:
    from valohai_image_lint.output import Report

    assert isinstance(report, Report)
    count = len(report.diagnostics)
    files = len(report.files_checked)
    noun = "file" if files == 1 else "files"
    if count == 0:
        print(f"All checks passed ({files} {noun} checked).", file=sys.stderr)
        return
    fixable = sum(1 for d in report.diagnostics if d.fix is not None)
    problems = "problem" if count == 1 else "problems"
    extra = f" ({fixable} fixable)" if fixable else ""
    print(f"Found {count} {problems}{extra} in {files} {noun}.", file=sys.stderr)


def run_rule(argv: list[str]) -> int:
    from valohai_image_lint.rules import UnknownRuleError, find_rule

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
