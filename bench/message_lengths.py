"""How long the messages are: one short sentence each, the advice in ``help``.

Lints every file of a corpus (default: the real-world corpus beside the repository) in one
run with every rule on (``--select ALL``, offline), and prints the number of findings, the
median and maximum message length, the longest message per rule, and whether the targets hold:
median at most 80 characters, none over 120. Exit 1 when a target is missed.

    python bench/message_lengths.py                         # ../shared/corpus/real-world
    python bench/message_lengths.py --corpus DIR [--json]    # another corpus; JSON summary

Standard library only; the linter is imported from the environment it runs in.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Beside the repository (../shared), or beside the directory of worktrees that holds it.
DEFAULT_CORPUS = next(
    (c for c in (base / "shared" / "corpus" / "real-world" for base in (ROOT.parent,
                                                                        ROOT.parent.parent))
     if c.is_dir()), ROOT.parent / "shared" / "corpus" / "real-world")
MEDIAN_TARGET = 80
MAX_TARGET = 120


def measure(files: list[Path]) -> dict[str, Any]:
    """Lint ``files`` with every rule and measure their messages."""
    from valohai_image_lint.config import Config
    from valohai_image_lint.linter import lint_bytes
    from valohai_image_lint.rules import select_rules

    rules = select_rules(("ALL",), (), ())
    lengths: list[int] = []
    longest: dict[str, str] = {}
    for path in files:
        _, diagnostics = lint_bytes(str(path), path.read_bytes(), Config(), rules)
        for diagnostic in diagnostics:
            lengths.append(len(diagnostic.message))
            if len(diagnostic.message) > len(longest.get(diagnostic.code, "")):
                longest[diagnostic.code] = diagnostic.message
    return {
        "files": len(files),
        "findings": len(lengths),
        "median": statistics.median(lengths) if lengths else 0,
        "max": max(lengths, default=0),
        "longest": dict(sorted(longest.items())),
        "ok": (not lengths or statistics.median(lengths) <= MEDIAN_TARGET)
        and max(lengths, default=0) <= MAX_TARGET,
    }


def corpus_files(corpus: Path) -> list[Path]:
    return sorted(p for p in corpus.glob("*valohai*") if p.is_file())


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(argv)
    files = corpus_files(args.corpus)
    if not files:
        print(f"error: no valohai files in {args.corpus}", file=sys.stderr)
        return 2
    result = measure(files)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{result['files']} files, {result['findings']} findings: message median"
              f" {result['median']} characters (target <= {MEDIAN_TARGET}), max {result['max']}"
              f" (target <= {MAX_TARGET})")
        for code, message in result["longest"].items():
            print(f"  {code} {len(message):>3}  {message}")
        print("targets met" if result["ok"] else "TARGETS MISSED")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
