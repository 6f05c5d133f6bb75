#!/usr/bin/env python3
"""Check the sdist and wheel that `python -m build` made, as users will get them.

    python scripts/check_dist.py contents DIST          # what the wheel and sdist hold
    python scripts/check_dist.py wheel-smoke DIST WORK  # the wheel in a fresh venv
    python scripts/check_dist.py sdist-smoke DIST WORK  # the README's quick start in the sdist

`contents` compares the wheel with the source tree (every file of the package, so a new module,
rule or data file cannot be left out unnoticed, and nothing else), checks its metadata against
pyproject.toml and `__version__`, and checks that the sdist holds what building and testing
need. `wheel-smoke` installs the wheel into a new virtual environment, outside the source tree,
and runs the commands a user runs first. `sdist-smoke` unpacks the sdist and runs the README's
quick-start command in it with a new virtual environment: pip builds a wheel from the sdist.

Used by .ci/run and scripts/release. Standard library only; Python 3.10 or newer.
"""

from __future__ import annotations

import ast
import email.parser
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "valohai_image_lint"
SCRIPT = "valohai-image-lint"
# Tracked files the sdist leaves out (MANIFEST.in): CI and GitHub configuration. Everything
# else must be in it, so a new top-level file or folder cannot be forgotten there.
SDIST_LEAVES_OUT = (".ci/", ".github/", ".gitignore")


class CheckFailed(Exception):
    pass


def fail(message: str) -> None:
    raise CheckFailed(message)


# --- the source tree ---------------------------------------------------------------------


def pyproject(root: Path) -> dict[str, object]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    with (root / "pyproject.toml").open("rb") as handle:
        data: dict[str, object] = tomllib.load(handle)
    return data


def project_table(root: Path) -> dict[str, object]:
    project = pyproject(root)["project"]
    assert isinstance(project, dict)
    return project


def source_version(root: Path) -> str:
    """`__version__` of the package, read without importing it."""
    tree = ast.parse((root / "src" / PACKAGE / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name) and node.targets[0].id == "__version__"
                and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)):
            return node.value.value
    fail(f"src/{PACKAGE}/__init__.py has no __version__ = '...'")
    raise AssertionError  # unreachable


def tracked_files(root: Path) -> list[str]:
    """The files of the source tree, as git tracks them (or on disk, without git)."""
    if (root / ".git").exists() and shutil.which("git"):
        listing = subprocess.run(["git", "ls-files", "-z"], cwd=root, check=True,
                                 capture_output=True, text=True).stdout
        return sorted(name for name in listing.split("\0") if name and (root / name).is_file())
    return sorted(path.relative_to(root).as_posix() for path in root.rglob("*")
                  if path.is_file() and "__pycache__" not in path.parts)


def package_files(root: Path) -> set[str]:
    """Every file of the import package, as a wheel names it (`valohai_image_lint/...`)."""
    prefix = f"src/{PACKAGE}/"
    return {name[len("src/"):] for name in tracked_files(root)
            if name.startswith(prefix) and not name.endswith((".pyc", ".pyo"))}


def rule_codes(root: Path) -> list[str]:
    rules = root / "src" / PACKAGE / "rules"
    return sorted(m.group(1).upper() for path in rules.glob("vil*.py")
                  if (m := re.match(r"(vil\d{3})_", path.name)))


def rule_summary(root: Path, code: str) -> str:
    """The first paragraph of a rule's "What it does" section: `rule CODE` must print it."""
    (path,) = (root / "src" / PACKAGE / "rules").glob(f"{code.lower()}_*.py")
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    match = re.search(r"## What it does\n(.+?)(?:\n\n|\Z)", doc, re.DOTALL)
    if not match:
        fail(f"{path.relative_to(root)}: the docstring has no '## What it does' section")
        raise AssertionError  # unreachable
    return match.group(1).strip()


def readme_block(root: Path, after: str, language: str = "sh") -> str:
    """The first fenced block of `language` after the heading or line `after` in README.md."""
    readme = (root / "README.md").read_text(encoding="utf-8")
    start = readme.find(after)
    if start < 0:
        fail(f"README.md has no {after!r}")
    match = re.compile(rf"```{language}\n(.*?)\n```", re.DOTALL).search(readme, start)
    if not match:
        fail(f"README.md has no ```{language} block after {after!r}")
        raise AssertionError  # unreachable
    return match.group(1)


def readme_example_output(root: Path) -> tuple[str, str]:
    """The command and the output the README's first console block shows."""
    block = readme_block(root, "# valohai-image-lint", "console")
    command, _, output = block.partition("\n")
    if not command.startswith("$ "):
        fail("README.md's first console block does not start with a '$ ' command")
    return command[2:], output


# --- contents ----------------------------------------------------------------------------


def find_dist(dist: Path, version: str) -> tuple[Path, Path]:
    wheels = sorted(dist.glob("*.whl"))
    sdists = sorted(dist.glob("*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        fail(f"{dist}: expected one wheel and one sdist, found {[p.name for p in wheels]}"
             f" and {[p.name for p in sdists]}")
    wheel, sdist = wheels[0], sdists[0]
    if wheel.name != f"{PACKAGE}-{version}-py3-none-any.whl":
        fail(f"{wheel.name}: expected {PACKAGE}-{version}-py3-none-any.whl (a pure-Python wheel"
             f" of version {version})")
    if sdist.name != f"{PACKAGE}-{version}.tar.gz":
        fail(f"{sdist.name}: expected {PACKAGE}-{version}.tar.gz")
    return wheel, sdist


def check_wheel(wheel: Path, root: Path, version: str) -> list[str]:
    problems: list[str] = []
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        info = f"{PACKAGE}-{version}.dist-info/"
        package = {n for n in names if not n.startswith(info)}
        expected = package_files(root)
        for name in sorted(expected - package):
            problems.append(f"{wheel.name}: missing {name}")
        for name in sorted(package - expected):
            problems.append(f"{wheel.name}: holds {name}, which is not in src/")
        for needed in (f"{PACKAGE}/py.typed", f"{PACKAGE}/data/__init__.py"):
            if needed not in names:
                problems.append(f"{wheel.name}: missing {needed}")
        if f"{info}licenses/LICENSE" not in names:
            problems.append(f"{wheel.name}: missing {info}licenses/LICENSE")
        try:
            metadata = email.parser.Parser().parsestr(archive.read(f"{info}METADATA").decode())
            entry_points = archive.read(f"{info}entry_points.txt").decode()
        except KeyError as error:
            return [*problems, f"{wheel.name}: {error}"]
    project = project_table(root)
    if metadata["Version"] != version:
        problems.append(f"{wheel.name}: METADATA Version {metadata['Version']}, not {version}")
    if metadata["Requires-Python"] != project["requires-python"]:
        problems.append(f"{wheel.name}: Requires-Python {metadata['Requires-Python']!r},"
                        f" pyproject.toml says {project['requires-python']!r}")
    if metadata["License-Expression"] != project["license"]:
        problems.append(f"{wheel.name}: License-Expression {metadata['License-Expression']!r}")
    requires = set(metadata.get_all("Requires-Dist") or [])
    dependencies = project["dependencies"]
    assert isinstance(dependencies, list)
    for dependency in dependencies:
        name = re.split(r"[<>=!~;\[ ]", dependency, maxsplit=1)[0]
        if not any(r.lower().startswith(name.lower()) for r in requires):
            problems.append(f"{wheel.name}: Requires-Dist lacks {dependency}")
    if f"{SCRIPT} = {PACKAGE}.cli:main" not in entry_points:
        problems.append(f"{wheel.name}: no console script {SCRIPT} = {PACKAGE}.cli:main")
    return problems


def check_sdist(sdist: Path, root: Path, version: str) -> list[str]:
    problems: list[str] = []
    top = f"{PACKAGE}-{version}/"
    with tarfile.open(sdist) as archive:
        members = archive.getnames()
    if not all(name == top.rstrip("/") or name.startswith(top) for name in members):
        problems.append(f"{sdist.name}: not everything is under {top}")
    names = {name[len(top):] for name in members}
    expected = [name for name in tracked_files(root) if not name.startswith(SDIST_LEAVES_OUT)]
    for name in expected:
        if name not in names:
            problems.append(f"{sdist.name}: missing {name}")
    for name in sorted(names):
        if "__pycache__" in name or name.endswith((".pyc", ".pyo")):
            problems.append(f"{sdist.name}: holds {name}")
    return problems


def contents(dist: Path, root: Path = ROOT) -> None:
    version = source_version(root)
    wheel, sdist = find_dist(dist, version)
    problems = check_wheel(wheel, root, version) + check_sdist(sdist, root, version)
    if problems:
        fail("\n".join(problems))
    print(f"check_dist: {wheel.name} holds the {len(package_files(root))} files of src/{PACKAGE}"
          f" and its metadata matches pyproject.toml; {sdist.name} holds every tracked file"
          f" but {', '.join(SDIST_LEAVES_OUT)}")


# --- smoke tests -------------------------------------------------------------------------


def new_venv(where: Path) -> Path:
    """A fresh virtual environment made by the interpreter running this script."""
    venv.EnvBuilder(with_pip=True, clear=True).create(where)
    return where / "bin"


def user_env(bin_dir: Path) -> dict[str, str]:
    """The environment a user's shell would have with the venv activated: nothing of the
    source tree on the path."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(bin_dir.parent)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["NO_COLOR"] = "1"
    env.pop("FORCE_COLOR", None)
    return env


def run(args: list[str] | str, cwd: Path, env: dict[str, str], expect: int,
        shell: bool = False) -> str:
    shown = args if isinstance(args, str) else " ".join(args)
    print(f"check_dist: $ {shown}", flush=True)
    result = subprocess.run(args, cwd=cwd, env=env, shell=shell, capture_output=True, text=True,
                            check=False, executable="/bin/bash" if shell else None)
    if result.returncode != expect:
        fail(f"`{shown}` in {cwd} exited {result.returncode}, expected {expect}\n"
             f"--- stdout\n{result.stdout}--- stderr\n{result.stderr}")
    return result.stdout


def check_commands(bin_dir: Path, project: Path, root: Path, version: str) -> None:
    """What a user runs first, from an installed copy: every rule listed, a rule's
    documentation, the bundled example with the README's output and exit code 1."""
    env = user_env(bin_dir)
    python = str(bin_dir / "python")
    where = run([python, "-c", f"import {PACKAGE}; print({PACKAGE}.__file__)"], project, env, 0)
    installed = Path(where.strip()).resolve()
    if not installed.is_relative_to(bin_dir.parent.resolve()):
        fail(f"{PACKAGE} was imported from {installed}, not from the virtual environment")
    out = run([SCRIPT, "--version"], project, env, 0)
    if out.strip() != f"{SCRIPT} {version}":
        fail(f"--version printed {out.strip()!r}, expected '{SCRIPT} {version}'")
    out = run([SCRIPT, "rules"], project, env, 0)
    listed = re.findall(r"^(VIL\d{3})\b", out, re.MULTILINE)
    if listed != rule_codes(root):
        fail(f"`rules` listed {listed}, the source has {rule_codes(root)}")
    out = run([SCRIPT, "rule", "VIL010"], project, env, 0)
    summary = rule_summary(root, "VIL010")
    if "private-image-short-name" not in out or summary not in out:
        fail(f"`rule VIL010` did not print the rule's documentation:\n{out}")
    command, expected_output = readme_example_output(root)
    out = run(command, project, env, 1, shell=True)
    if not out.startswith(expected_output + "\n"):
        fail(f"`{command}` printed\n{out}\nbut README.md shows\n{expected_output}")
    out = run([python, "-m", PACKAGE, "--format", "json", "examples/valohai.yaml"], project, env,
              1)
    codes = [d["code"] for d in json.loads(out)]
    if "VIL001" not in codes:
        fail(f"--format json on the example reported {codes}, without VIL001")
    clean = project / "clean" / "valohai.yaml"
    clean.parent.mkdir()
    clean.write_text("- step:\n    name: train\n    image: python:3.11.9-slim\n"
                     "    command: python train.py\n", encoding="utf-8")
    run([SCRIPT, "clean"], project, env, 0)


def wheel_smoke(dist: Path, work: Path, root: Path = ROOT) -> None:
    version = source_version(root)
    wheel, _ = find_dist(dist, version)
    work.mkdir(parents=True, exist_ok=True)
    bin_dir = new_venv(work / "wheel-venv")
    project = work / "wheel-project"
    shutil.rmtree(project, ignore_errors=True)
    shutil.copytree(root / "examples", project / "examples")
    run([str(bin_dir / "python"), "-m", "pip", "install", "-q", str(wheel)], project,
        user_env(bin_dir), 0)
    check_commands(bin_dir, project, root, version)
    print(f"check_dist: {wheel.name} installs into a fresh venv and runs")


def sdist_smoke(dist: Path, work: Path, root: Path = ROOT) -> None:
    version = source_version(root)
    _, sdist = find_dist(dist, version)
    work.mkdir(parents=True, exist_ok=True)
    unpacked = work / "sdist"
    shutil.rmtree(unpacked, ignore_errors=True)
    with tarfile.open(sdist) as archive:
        archive.extractall(unpacked, filter="data")
    tree = unpacked / f"{PACKAGE}-{version}"
    bin_dir = new_venv(work / "sdist-venv")
    quick_start = readme_block(root, "## Quick start")
    # Exit 1: the example has problems, as the README says.
    run(quick_start, tree, user_env(bin_dir), 1, shell=True)
    check_commands(bin_dir, tree, root, version)
    print(f"check_dist: the README's quick start works in {sdist.name} (its wheel built by pip)")


def main(argv: list[str]) -> int:
    commands = {"contents": 1, "wheel-smoke": 2, "sdist-smoke": 2}
    if len(argv) < 2 or argv[0] not in commands or len(argv) != commands[argv[0]] + 1:
        print(__doc__.strip().splitlines()[2] if __doc__ else "", file=sys.stderr)
        print("usage: check_dist.py contents DIST | wheel-smoke DIST WORK"
              " | sdist-smoke DIST WORK", file=sys.stderr)
        return 2
    try:
        if argv[0] == "contents":
            contents(Path(argv[1]))
        elif argv[0] == "wheel-smoke":
            wheel_smoke(Path(argv[1]), Path(argv[2]).resolve())
        else:
            sdist_smoke(Path(argv[1]), Path(argv[2]).resolve())
    except CheckFailed as error:
        print(f"check_dist: FAILED\n{error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
