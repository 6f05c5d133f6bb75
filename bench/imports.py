"""Where a short run's start-up goes: ``python -X importtime`` of a lint of a 10-step file,
grouped, as medians over several runs (standard library only).

    python bench/imports.py               # 11 runs of the installed valohai-image-lint
    python bench/imports.py --runs 21 --top 15

Each group sums the *self* times of the modules it holds, so the groups add up to the whole
import time; the rest of a run (the interpreter's own start-up and the lint itself) is the
wall time minus the import time. Prints Markdown.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import CONFIG_TOML, child_environment, generate

# First match wins; a module is named by its full dotted name.
GROUPS = (
    ("PyYAML", re.compile(r"yaml(\.|$)|_yaml$")),
    ("dataclasses + inspect", re.compile(
        r"(dataclasses|inspect|ast|_ast|dis|opcode|_opcode|tokenize|token|linecache|copy"
        r"|weakref|_weakrefset)$")),
    ("argparse + gettext", re.compile(r"(argparse|gettext|locale|_locale)$")),
    ("tomllib", re.compile(r"(tomllib|tomli)(\.|$)|string$|_string$")),
    ("pathlib + urllib.parse + ipaddress", re.compile(
        r"(pathlib|urllib|urllib\.parse|ipaddress|fnmatch|ntpath|nt|_winapi|errno)$")),
    ("valohai_image_lint rules", re.compile(r"valohai_image_lint\.rules\.")),
    ("valohai_image_lint (other)", re.compile(r"valohai_image_lint(\.|$)")),
    ("re, typing, enum, functools, collections", re.compile(
        r"(re|re\._\w+|sre_\w+|_sre|copyreg|typing|_typing|enum|functools|_functools"
        r"|collections|_collections|collections\.abc|operator|_operator|keyword|reprlib"
        r"|itertools|types|contextlib|abc|_abc)$")),
)
OTHER = "other standard library"
_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \| ( *)(\S+)")


def group_of(module: str) -> str:
    for name, pattern in GROUPS:
        if pattern.match(module):
            return name
    return OTHER


def one_run(argv: list[str], cwd: str) -> tuple[float, dict[str, float], dict[str, float]]:
    """Wall seconds, self microseconds per group, and per module."""
    env = dict(child_environment(), PYTHONPROFILEIMPORTTIME="1")
    started = time.perf_counter()
    completed = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                               check=False)
    wall = time.perf_counter() - started
    groups: dict[str, float] = {}
    modules: dict[str, float] = {}
    for line in completed.stderr.splitlines():
        match = _LINE.match(line)
        if match is None:
            continue
        module, own = match.group(4), float(match.group(1))
        modules[module] = modules.get(module, 0.0) + own
        group = group_of(module)
        groups[group] = groups.get(group, 0.0) + own
    return wall, groups, modules


def find_linter() -> str:
    here = os.path.join(os.path.dirname(sys.executable), "valohai-image-lint")
    return here if os.path.exists(here) else "valohai-image-lint"


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--top", type=int, default=10, help="slowest modules to list")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as directory:
        Path(directory, "valohai.yaml").write_text(generate(10), "utf-8")
        Path(directory, ".valohai-image-lint.toml").write_text(CONFIG_TOML, "utf-8")
        linter = [find_linter(), "--format", "concise", "valohai.yaml"]
        floor = [sys.executable, "-c", "pass"]
        subprocess.run(linter, cwd=directory, capture_output=True, check=False)  # warm up
        walls, floors = [], []
        groups: dict[str, list[float]] = {}
        modules: dict[str, list[float]] = {}
        for _ in range(args.runs):
            started = time.perf_counter()
            subprocess.run(floor, cwd=directory, capture_output=True, check=False)
            floors.append(time.perf_counter() - started)
            wall, run_groups, run_modules = one_run(linter, directory)
            walls.append(wall)
            for name, value in run_groups.items():
                groups.setdefault(name, []).append(value)
            for name, value in run_modules.items():
                modules.setdefault(name, []).append(value)
    ms = {name: statistics.median(values) / 1000 for name, values in groups.items()}
    imports = sum(ms.values())
    wall_ms = statistics.median(walls) * 1000
    floor_ms = statistics.median(floors) * 1000
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"Median of {args.runs} runs; load average {load:.2f}; `-X importtime` itself adds"
          " some overhead.\n")
    print("| part | ms | share |")
    print("|---|---:|---:|")
    rows = [("interpreter start-up (`python -c pass`)", floor_ms)]
    rows += sorted(ms.items(), key=lambda item: -item[1])
    rows.append(("the rest: configuration, parse, rules, output",
                 max(wall_ms - floor_ms - imports, 0.0)))
    for name, value in rows:
        print(f"| {name} | {value:.1f} | {value / wall_ms:.0%} |")
    print(f"| **whole run** | **{wall_ms:.1f}** | 100% |\n")
    slowest = sorted(((statistics.median(v) / 1000, k) for k, v in modules.items()),
                     reverse=True)[: args.top]
    print("Slowest modules (self time): " + ", ".join(
        f"{name} {value:.1f} ms" for value, name in slowest))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
