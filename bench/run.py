"""Benchmark valohai-image-lint beside yamllint, ``vh lint`` and a bare Python start-up.

Generates valohai.yaml files of several sizes (10, 1 000 and 10 000 steps by default), then
runs each tool as a whole process on each file, interleaved (run 1 of every tool on every size,
then run 2, ...) so that a noisy neighbour hurts all tools alike, and reports the median wall
and CPU time and the peak RSS of each. It also times linting every file of a corpus in one
process against linting one small file, and checks the numbers against the targets of the
performance issue. It also times a tree of Python files (5 000 by default, a handful calling
``valohai.prepare``) walked as a directory and passed by name as pre-commit passes them. It
prints Markdown; nothing is asserted.

    python bench/run.py                       # 10, 1000, 10000 steps, 5 runs each
    python bench/run.py --sizes 10,1000 --runs 3
    python bench/run.py --out bench/out --keep  # keep the generated files
    python bench/run.py --python-files 0        # skip the Python tree

The tools are ``valohai-image-lint --format concise FILE``, ``yamllint FILE`` (its default
configuration), ``vh lint FILE`` (valohai-cli; like the others it runs in the file's
directory) and ``python -c pass``; a tool that is not installed is skipped with a note.
Standard library only; POSIX only (peak RSS comes from ``wait4``).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

DEFAULT_SIZES = (10, 1000, 10_000)
DEFAULT_CORPUS = "/work/shared/corpus/real-world"
LINTER = "valohai-image-lint"
FLOOR = "python -c pass"
# The floor under the linter: the interpreter plus the libraries it imports before any of its
# own code runs.
IMPORTS = "python + imports"
FLOORS = (FLOOR, IMPORTS)
IMPORTS_CODE = ("import yaml, argparse, "
                + ("tomllib" if sys.version_info >= (3, 11) else "tomli"))

# Private images are written as short names; this pattern makes VIL010 look at them.
CONFIG_TOML = """\
private-registries = ["docker.io/acme/*", "acme.azurecr.io/*"]
"""

_DIGEST = "sha256:" + "3f1c8e0a" * 8
# Every kind of image the linter cares about, cycled through the generated items.
IMAGES = (
    "python",  # untagged
    "python:latest",  # floating tag
    "python:3.11.9-slim",  # fine
    "acme/trainer:2.4.1",  # private short name
    f"python:3.11@{_DIGEST}",  # pinned by digest
    "pytorch/pytorch:2.2.0-cuda12.1-cudnn8-devel",  # fine, long tag
    "'tensorflow/tensorflow:2.15.0-gpu'",  # quoted
    "ghcr.io/acme/tools:nightly",  # floating tag on another registry
    "acme.azurecr.io/team/app:1.0.3",  # private, full name
    '"gcr.io/acme/serve:v7"',  # double-quoted
)


def _step(index: int, image: str, anchored: bool) -> str:
    name = f"train-{index}"
    if anchored:
        image_line = f"    image: &image{index} {image}"
    elif index % 97 == 13:
        # Re-use an anchored image from further up.
        image_line = f"    image: *image{(index // 97) * 97}"
    else:
        image_line = f"    image: {image}"
    return f"""\
- step:
    name: {name}
{image_line}
    command:
      - pip install -r requirements.txt
      - python train.py {{parameters}}
    environment: aws-eu-west-1-g4dn-xlarge
    parameters:
      - name: learning_rate
        type: float
        default: 0.001
      - name: epochs
        type: integer
        default: {index % 50 + 1}
    inputs:
      - name: dataset
        default: s3://acme-data/datasets/{name}/train.csv
"""


def _endpoint(index: int, image: str) -> str:
    return f"""\
- endpoint:
    name: predict-{index}
    image: {image}
    server-command: uvicorn predict:app --host 0.0.0.0 --port 8000
    files:
      - name: model
        path: model.pkl
"""


def _pipeline(index: int, steps: int, image: str) -> str:
    first, second = f"train-{index % steps}", f"train-{(index + 1) % steps}"
    return f"""\
- pipeline:
    name: pipeline-{index}
    nodes:
      - name: prepare
        type: execution
        step: {first}
      - name: train
        type: execution
        step: {second}
        override:
          image: {image}
    edges:
      - [prepare.output.*, train.input.dataset]
"""


# A module of an ordinary Python project: no valohai, about 1.5 kB.
_PY_MODULE = '''"""Module {index} of a generated project."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass


@dataclass
class Record{index}:
    name: str
    value: float = 0.0

    def to_json(self) -> str:
        return json.dumps({{"name": self.name, "value": self.value}})


def load_{index}(path: str) -> list[Record{index}]:
    records = []
    with open(os.path.join(path, "data-{index}.jsonl"), encoding="utf-8") as handle:
        for line in handle:
            item = json.loads(line)
            records.append(Record{index}(item["name"], float(item.get("value", 0))))
    return records


def summarize_{index}(records: list[Record{index}]) -> dict[str, float]:
    total = sum(r.value for r in records)
    return {{"count": float(len(records)), "total": total,
            "mean": total / len(records) if records else 0.0}}
'''

_PY_TRAIN = '''"""Training entry point {index}."""
import valohai

valohai.prepare(
    step="train-{index}",
    image="{image}",
    default_parameters={{"learning_rate": 0.001, "epochs": 10}},
    default_inputs={{"dataset": "s3://acme-data/train-{index}.csv"}},
)
'''
PREPARE_FILES = 5


def generate_python_tree(root: Path, count: int, with_prepare: int) -> int:
    """``count`` .py files in directories of 100, ``with_prepare`` of them calling
    valohai.prepare (one step each, also in the tree's valohai.yaml). Returns the byte size."""
    size = 0
    step = max(1, count // max(1, with_prepare))
    yaml_parts = []
    for i in range(count):
        directory = root / f"pkg{i // 100:03d}"
        directory.mkdir(parents=True, exist_ok=True)
        if with_prepare and i % step == 0 and i // step < with_prepare:
            image = IMAGES[(i // step) % 3]
            text = _PY_TRAIN.format(index=i, image=image)
            yaml_parts.append(f"- step:\n    name: train-{i}\n    image: {image}\n"
                              f"    command: python pkg{i // 100:03d}/m{i}.py\n")
        else:
            text = _PY_MODULE.format(index=i)
        (directory / f"m{i}.py").write_text(text, encoding="utf-8")
        size += len(text)
    if yaml_parts:
        (root / "valohai.yaml").write_text("".join(yaml_parts), encoding="utf-8")
    return size


def generate(steps: int) -> str:
    """A valohai.yaml with ``steps`` steps, one endpoint and one pipeline per ten steps."""
    parts = [f"# Generated by bench/run.py: {steps} steps.\n"]
    for i in range(steps):
        image = IMAGES[i % len(IMAGES)]
        parts.append(_step(i, image, anchored=i % 97 == 0))
        if i % 10 == 9:
            parts.append(_endpoint(i, IMAGES[(i * 3) % len(IMAGES)]))
            parts.append(_pipeline(i, steps, IMAGES[(i * 7) % len(IMAGES)]))
    return "".join(parts)


# ---------------------------------------------------------------------------------------------


@dataclass
class Sample:
    seconds: float
    cpu_seconds: float  # user + system
    rss_kib: int
    returncode: int


@dataclass
class Measurement:
    samples: list[Sample] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(s.seconds for s in self.samples)

    @property
    def median_cpu(self) -> float:
        return statistics.median(s.cpu_seconds for s in self.samples)

    @property
    def peak_rss_mib(self) -> float:
        return max(s.rss_kib for s in self.samples) / 1024


# Runs one command and reports its wall time and peak RSS. It runs in a small interpreter of
# its own (``python -S``) because a child's peak RSS counts the memory of the process it was
# forked from: forked from this script, every tool would seem to need at least what it does.
_LAUNCHER = """
import os, sys, time
argv = sys.argv[1:]
devnull = os.open(os.devnull, os.O_RDWR)
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    try:
        os.execv(argv[0], argv)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
elapsed = time.perf_counter() - start
rss = usage.ru_maxrss // 1024 if sys.platform == "darwin" else usage.ru_maxrss
cpu = usage.ru_utime + usage.ru_stime
print(elapsed, cpu, rss, os.waitstatus_to_exitcode(status))
"""


def child_environment() -> dict[str, str]:
    """The environment for the tools: this one, with bytecode caching on.

    An installed package comes with its bytecode compiled; an editable install (or
    PYTHONDONTWRITEBYTECODE) would make the linter compile its modules on every run.
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run_once(argv: list[str], cwd: str, env: dict[str, str]) -> Sample:
    """Wall time and peak RSS (KiB) of one whole process, its output thrown away."""
    result = subprocess.run([sys.executable, "-S", "-c", _LAUNCHER, *argv], cwd=cwd, env=env,
                            stdin=subprocess.DEVNULL, capture_output=True, text=True,
                            check=False)
    try:
        seconds, cpu, rss, code = result.stdout.split()
        return Sample(float(seconds), float(cpu), int(rss), int(code))
    except ValueError:
        raise SystemExit(f"bench: could not run {argv[0]}: {result.stderr.strip()}") from None


def find_tool(name: str) -> Optional[str]:
    """The tool's real script, preferring this interpreter's environment.

    pyenv-style shims on PATH add a shell and a second interpreter start to every run, which
    would be measured as the tool's start-up.
    """
    here = shutil.which(name, path=os.path.dirname(sys.executable))
    return here or shutil.which(name)


@dataclass(frozen=True)
class Tool:
    label: str
    # argv for a file; cwd is the file's directory and the file is passed by name.
    argv: tuple[str, ...]


def available_tools() -> tuple[list[Tool], list[str]]:
    tools: list[Tool] = []
    notes: list[str] = []
    linter = find_tool(LINTER)
    if linter is None:
        notes.append(f"{LINTER} is not installed (`pip install -e .`); skipped")
    else:
        tools.append(Tool(LINTER, (linter, "--format", "concise")))
    yamllint = find_tool("yamllint")
    if yamllint is None:
        notes.append("yamllint is not installed (`pip install yamllint`); skipped")
    else:
        tools.append(Tool("yamllint", (yamllint,)))
    vh = find_tool("vh")
    if vh is None:
        notes.append("vh (valohai-cli) is not installed (`pip install valohai-cli`); skipped")
    else:
        tools.append(Tool("vh lint", (vh, "lint")))
    tools.append(Tool(FLOOR, (sys.executable, "-c", "pass")))
    if importlib.util.find_spec("yaml") is not None:
        tools.append(Tool(IMPORTS, (sys.executable, "-c", IMPORTS_CODE)))
        notes.append(f"`{IMPORTS}` is `python -c \"{IMPORTS_CODE}\"`: what the linter imports"
                     " before its own code runs (tomllib only because the generated directory"
                     " has a configuration file)")
    return tools, notes


def tool_argv(tool: Tool, path: Path) -> list[str]:
    if tool.label in (FLOOR, IMPORTS):
        return list(tool.argv)
    return [*tool.argv, path.name]


def corpus_files(corpus: Path) -> list[Path]:
    return sorted(p for p in corpus.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


# ---------------------------------------------------------------------------------------------


def machine_line() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (f"{cores} cores ({cpu}), {platform.system()} {platform.release()},"
            f" Python {platform.python_version()}")


def _load_average() -> str:
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except (AttributeError, OSError):
        return "unknown"


def tool_versions(tools: list[Tool]) -> str:
    from importlib import metadata

    names = {LINTER: LINTER, "yamllint": "yamllint", "vh lint": "valohai-cli"}
    parts = []
    for tool in tools:
        distribution = names.get(tool.label)
        if distribution is None:
            continue
        try:
            parts.append(f"{distribution} {metadata.version(distribution)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{distribution} (version unknown)")
    return ", ".join(parts)


def fmt_seconds(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.2f} s"


def fmt_ratio(ratio: float) -> str:
    if ratio < 0.1:
        return f"{ratio:.3f}x"
    return f"{ratio:.2f}x"


PythonResults = list[tuple[str, Measurement]]


def report(sizes: list[int], tools: list[Tool], results: dict[tuple[int, str], Measurement],
           many: Optional[tuple[int, Measurement, Measurement]], notes: list[str],
           runs: int, command: str, load: str,
           python: Optional[PythonResults] = None) -> str:
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out = [f"Machine: {machine_line()}; load average {load}.  ",
           f"Date: {date}; median of {runs} interleaved run(s); tools: {tool_versions(tools)}.  ",
           f"Command: `{command}`", ""]
    has_linter = any(t.label == LINTER for t in tools)
    floor = floor_measurement(results, FLOOR, sizes).median
    out.append("| steps | tool | median time | x `python -c pass` | valohai-image-lint vs tool"
               " | CPU time | peak RSS |")
    out.append("|---:|---|---:|---:|---:|---:|---:|")
    rows: list[tuple[str, Tool, Measurement, Optional[float]]] = []
    for size in sizes:
        linter = results[(size, LINTER)].median if has_linter else None
        rows += [(f"{size:,}", tool, results[(size, tool.label)], linter) for tool in tools
                 if tool.label not in FLOORS]
    # The floors read no file: one row each, from their runs beside every size.
    smallest = results[(sizes[0], LINTER)].median if has_linter else None
    rows += [("-", tool, floor_measurement(results, tool.label, sizes), smallest)
             for tool in tools if tool.label in FLOORS]
    for steps, tool, m, linter in rows:
        versus = "" if linter is None or tool.label == LINTER else fmt_ratio(linter / m.median)
        out.append(f"| {steps} | {tool.label} | {fmt_seconds(m.median)}"
                   f" | {m.median / floor:.1f}x | {versus} | {fmt_seconds(m.median_cpu)}"
                   f" | {m.peak_rss_mib:.0f} MiB |")
    if many is not None:
        count, all_files, one_file = many
        out += ["", "| many files | median time | ratio |", "|---|---:|---:|",
                f"| {LINTER}, one small file ({sizes[0]:,} steps)"
                f" | {fmt_seconds(one_file.median)} | 1.00x |",
                f"| {LINTER}, {count} corpus files in one process"
                f" | {fmt_seconds(all_files.median)}"
                f" | {all_files.median / one_file.median:.2f}x |"]
    if python:
        out += ["", "| Python tree | median time | x `python -c pass` | CPU time | peak RSS |",
                "|---|---:|---:|---:|---:|"]
        out += [f"| {label} | {fmt_seconds(m.median)} | {m.median / floor:.1f}x"
                f" | {fmt_seconds(m.median_cpu)} | {m.peak_rss_mib:.0f} MiB |"
                for label, m in python]
    targets = check_targets(sizes, results, many) if has_linter else []
    for label, m in python or []:
        targets.append(f"{label} < 1 s: {fmt_seconds(m.median)},"
                       f" {'met' if m.median < 1 else 'MISSED'}")
    if targets:
        out += ["", "Targets:", ""]
        out += [f"- {line}" for line in targets]
    if notes:
        out += ["", "Notes:", ""]
        out += [f"- {note}" for note in notes]
    return "\n".join(out) + "\n"


def floor_measurement(results: dict[tuple[int, str], Measurement], label: str,
                      sizes: list[int]) -> Measurement:
    """A floor's runs beside every size, together."""
    empty = Measurement()
    return Measurement([s for size in sizes for s in results.get((size, label), empty).samples])


def check_targets(sizes: list[int], results: dict[tuple[int, str], Measurement],
                  many: Optional[tuple[int, Measurement, Measurement]]) -> list[str]:
    """The issue's targets, each with the measured ratio and whether it is met."""
    lines = []

    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    def median(size: int, label: str) -> Optional[float]:
        if label in FLOORS:
            m = floor_measurement(results, label, sizes)
            return m.median if m.samples else None
        found = results.get((size, label))
        return found.median if found is not None else None

    small = median(10, LINTER)
    if small is not None:
        yl = median(10, "yamllint")
        if yl is not None:
            imports = median(10, IMPORTS)
            before = "" if imports is None else f" (`{IMPORTS}` alone: {imports / yl:.2f}x)"
            lines.append(f"10 steps <= 0.5x yamllint: {small / yl:.2f}x,"
                         f" {verdict(small <= 0.5 * yl)}{before}")
        floor = median(10, FLOOR)
        if floor is not None:
            lines.append(f"10 steps <= 4x `python -c pass`: {small / floor:.2f}x,"
                         f" {verdict(small <= 4 * floor)}")
    mid = median(1000, LINTER)
    if mid is not None:
        yl = median(1000, "yamllint")
        if yl is not None:
            lines.append(f"1,000 steps <= 1/12 (0.083x) of yamllint: {mid / yl:.3f}x,"
                         f" {verdict(mid <= yl / 12)}")
    big = median(10_000, LINTER)
    if big is not None:
        if mid is not None:
            lines.append(f"10,000 steps <= 12x the 1,000-step time: {big / mid:.1f}x,"
                         f" {verdict(big <= 12 * mid)}")
        rss = results[(10_000, LINTER)].peak_rss_mib
        lines.append(f"10,000 steps peak RSS <= 100 MiB: {rss:.0f} MiB, {verdict(rss <= 100)}")
    if many is not None:
        _, all_files, one_file = many
        ratio = all_files.median / one_file.median
        lines.append(f"all corpus files in one process < 2x one small file: {ratio:.2f}x,"
                     f" {verdict(ratio < 2)}")
    return lines


def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(str(s) for s in DEFAULT_SIZES),
                        help="comma-separated step counts (default: 10,1000,10000)")
    parser.add_argument("--runs", type=int, default=5, help="runs per tool and size (default: 5)")
    parser.add_argument("--out", help="directory for the generated files (default: a temporary"
                        " directory, removed afterwards)")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument("--corpus", default=DEFAULT_CORPUS,
                        help=f"directory of valohai.yaml files for the many-files measurement"
                        f" (default: {DEFAULT_CORPUS}); '' skips it")
    parser.add_argument("--python-files", type=int, default=5000,
                        help="Python files in the generated tree (default: 5000; 0 skips it)")
    parser.add_argument("--only", help="comma-separated tools to run (default: all):"
                        f" {LINTER}, yamllint, vh, python")
    args = parser.parse_args(argv)
    try:
        args.sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    except ValueError:
        parser.error("--sizes takes comma-separated whole numbers")
    if not args.sizes or min(args.sizes) < 1:
        parser.error("--sizes takes positive step counts")
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    command = shlex.join(["python", "bench/run.py", *(argv if argv is not None else sys.argv[1:])])
    tools, notes = available_tools()
    if args.only:
        wanted = {w.strip() for w in args.only.split(",")}
        keep = {LINTER: LINTER, "yamllint": "yamllint", "vh": "vh lint", "python": FLOOR}
        labels = {keep.get(w, w) for w in wanted} | {FLOOR, IMPORTS}
        tools = [t for t in tools if t.label in labels]
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="vil-bench-"))
    try:
        files: dict[int, Path] = {}
        for size in args.sizes:
            directory = out / f"steps-{size}"
            directory.mkdir(parents=True, exist_ok=True)
            path = directory / "valohai.yaml"
            path.write_text(generate(size), encoding="utf-8")
            (directory / ".valohai-image-lint.toml").write_text(CONFIG_TOML, encoding="utf-8")
            files[size] = path
        linter = next((t for t in tools if t.label == LINTER), None)
        corpus = Path(args.corpus) if args.corpus else None
        many_files: list[Path] = []
        if linter is not None and corpus is not None:
            if corpus.is_dir():
                many_files = corpus_files(corpus)
            if not many_files:
                notes.append(f"corpus {corpus} not found or empty; many-files measurement skipped")
        small_file = files[min(args.sizes)]
        if many_files and min(args.sizes) != 10:
            notes.append(f"the many-files baseline is the {min(args.sizes)}-step file")

        results: dict[tuple[int, str], Measurement] = {
            (size, tool.label): Measurement() for size in args.sizes for tool in tools
        }
        many_all, many_one = Measurement(), Measurement()
        python_runs: list[tuple[str, list[str], str, Measurement]] = []
        if linter is not None and args.python_files > 0:
            count = args.python_files
            tree = out / "python-tree"
            plain = out / "python-plain"
            kib = generate_python_tree(tree, count, PREPARE_FILES) / 1024
            generate_python_tree(plain, count, 0)
            names = sorted(str(p.relative_to(tree)) for p in tree.rglob("*.py"))
            python_runs = [
                (f"{count:,} .py files ({kib:,.0f} KiB), no valohai, directory walked",
                 [*linter.argv, "."], str(plain), Measurement()),
                (f"{count:,} .py files, {PREPARE_FILES} call valohai.prepare, directory walked",
                 [*linter.argv, "."], str(tree), Measurement()),
                (f"{count:,} .py files, {PREPARE_FILES} call valohai.prepare, passed by name",
                 [*linter.argv, *names], str(tree), Measurement()),
            ]
        env = child_environment()
        load_before = _load_average()
        # One untimed run of each tool first: bytecode caches and the page cache are warm for
        # every timed run, as they are for a hook that runs on every commit.
        for tool in tools:
            run_once(tool_argv(tool, small_file), str(small_file.parent), env)
        for run in range(args.runs):
            print(f"run {run + 1}/{args.runs}", file=sys.stderr, flush=True)
            for size in args.sizes:
                for tool in tools:
                    path = files[size]
                    sample = run_once(tool_argv(tool, path), str(path.parent), env)
                    results[(size, tool.label)].samples.append(sample)
            for _, argv, cwd, measurement in python_runs:
                measurement.samples.append(run_once(argv, cwd, env))
            if linter is not None and many_files:
                many_one.samples.append(run_once([*linter.argv, small_file.name],
                                                 str(small_file.parent), env))
                many_all.samples.append(run_once([*linter.argv, *map(str, many_files)],
                                                 str(small_file.parent), env))
        load = f"{load_before} before, {_load_average()} after"
        if linter is not None:
            for size in args.sizes:
                codes = {s.returncode for s in results[(size, LINTER)].samples}
                if codes - {0, 1}:
                    notes.append(f"{LINTER} exited with {sorted(codes)} on {size} steps;"
                                 " the timing is not of a normal run")
        many = (len(many_files), many_all, many_one) if many_files else None
        python = [(label, m) for label, _, _, m in python_runs]
        sys.stdout.write(report(args.sizes, tools, results, many, notes, args.runs, command,
                                load, python))
    finally:
        if not args.keep and not args.out:
            shutil.rmtree(out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
