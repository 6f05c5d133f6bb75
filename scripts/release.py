#!/usr/bin/env python3
"""Cut a release: `scripts/release VERSION` (see "Releasing" in README.md).

1. The working tree must be clean (no changes, no untracked files) and `vVERSION` must not be
   a tag yet.
2. The version is written once, `__version__` in src/valohai_image_lint/__init__.py, and
   pyproject.toml reads it from there; that is checked.
3. CHANGELOG.md needs a `## VERSION` section. When it has none, its `## Unreleased` section
   (which must list something) becomes `## VERSION - YYYY-MM-DD` under a new empty
   `## Unreleased`; `__version__` is set to VERSION; both are committed as "Release VERSION".
4. The sdist and wheel are built into dist/ and checked (twine check, check_dist.py), unless
   `--no-build` is given.
5. The release commit is tagged `vVERSION` (annotated). Nothing is pushed.

Exit status 0 when the tag was made, 1 when a check failed (one line says which), 2 on a usage
error.
"""

from __future__ import annotations

import datetime
import os
import re
import shutil
import subprocess
import sys

import check_dist

ROOT = check_dist.ROOT
INIT = ROOT / "src" / check_dist.PACKAGE / "__init__.py"
CHANGELOG = ROOT / "CHANGELOG.md"
VERSION_RE = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+(?:(?:a|b|rc)[0-9]+)?")
USAGE = "usage: scripts/release VERSION [--no-build]   (VERSION like 0.2.0 or 1.0.0rc1)"


class ReleaseError(Exception):
    pass


def git(*args: str, check: bool = True) -> str:
    result = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                            check=False)
    if check and result.returncode != 0:
        raise ReleaseError(f"git {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def check_clean() -> None:
    status = git("status", "--porcelain", "--untracked-files=all")
    if status:
        names = ", ".join(line[3:] for line in status.splitlines()[:5])
        more = " ..." if len(status.splitlines()) > 5 else ""
        raise ReleaseError(f"the working tree is not clean ({names}{more}); commit or remove"
                           " the changes first")


def check_no_tag(tag: str) -> None:
    if git("rev-parse", "-q", "--verify", f"refs/tags/{tag}", check=False).strip():
        raise ReleaseError(f"tag {tag} exists already")


def check_single_source() -> None:
    """The version is `__version__` in __init__.py, and pyproject.toml takes it from there."""
    data = check_dist.pyproject(ROOT)
    project = data["project"]
    assert isinstance(project, dict)
    if "version" in project or "version" not in project.get("dynamic", []):
        raise ReleaseError("pyproject.toml must not write the version: [project] needs"
                           ' dynamic = ["version"] and no version key')
    tool = data.get("tool", {})
    assert isinstance(tool, dict)
    attr = tool.get("setuptools", {}).get("dynamic", {}).get("version", {}).get("attr")
    if attr != f"{check_dist.PACKAGE}.__version__":
        raise ReleaseError("pyproject.toml must read the version from"
                           f" {check_dist.PACKAGE}.__version__ ([tool.setuptools.dynamic])")
    writers = [path.relative_to(ROOT).as_posix()
               for path in sorted((ROOT / "src").rglob("*.py"))
               if re.search(r"^__version__\s*=", path.read_text(encoding="utf-8"), re.MULTILINE)]
    if writers != [INIT.relative_to(ROOT).as_posix()]:
        raise ReleaseError(f"__version__ must be assigned only in {INIT.relative_to(ROOT)};"
                           f" found in {writers}")


def section(text: str, heading: str) -> str | None:
    """The body of `## heading` (up to the next `## `), or None when there is none."""
    match = re.search(rf"^## \[?{re.escape(heading)}\]?(?: [^\n]*)?\n(.*?)(?=^## |\Z)", text,
                      re.MULTILINE | re.DOTALL)
    return match.group(1) if match else None


def lists_something(body: str) -> bool:
    return re.search(r"^\s*[-*] \S", body, re.MULTILINE) is not None


def prepare_changelog(text: str, version: str, today: datetime.date) -> str | None:
    """The CHANGELOG with `## Unreleased` turned into `## VERSION - date`; None when it
    already has a section for VERSION."""
    released = section(text, version)
    unreleased = section(text, "Unreleased")
    if released is not None:
        if not lists_something(released):
            raise ReleaseError(f"CHANGELOG.md: the ## {version} section lists nothing")
        if unreleased is not None and lists_something(unreleased):
            raise ReleaseError(f"CHANGELOG.md has entries under ## Unreleased as well as a"
                               f" ## {version} section; move them into one of them")
        return None
    if unreleased is None:
        raise ReleaseError(f"CHANGELOG.md has neither a ## {version} nor a ## Unreleased"
                           " section")
    if not lists_something(unreleased):
        raise ReleaseError(f"CHANGELOG.md: ## Unreleased lists nothing to release as {version}")
    return re.sub(r"^## Unreleased[^\n]*\n", f"## Unreleased\n\n## {version} - {today}\n", text,
                  count=1, flags=re.MULTILINE)


def set_version(version: str) -> bool:
    text = INIT.read_text(encoding="utf-8")
    new = re.sub(r'^__version__\s*=\s*"[^"]*"', f'__version__ = "{version}"', text,
                 count=1, flags=re.MULTILINE)
    if new == text:
        return False
    INIT.write_text(new, encoding="utf-8")
    return True


def run(command: list[str]) -> None:
    print(f"release: $ {' '.join(command)}", flush=True)
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise ReleaseError(f"{' '.join(command[1:3])} failed")


def build() -> None:
    """The sdist and wheel in a fresh dist/, checked as CI checks them."""
    python = sys.executable
    for module in ("build", "twine"):
        probe = subprocess.run([python, "-m", module, "--version"], capture_output=True,
                               check=False)
        if probe.returncode != 0:
            raise ReleaseError(f"{python} has no {module}: pip install -e '.[release]'")
    dist = ROOT / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    run([python, "-m", "build", "--outdir", str(dist), str(ROOT)])
    run([python, "-m", "twine", "check", "--strict", *sorted(str(p) for p in dist.iterdir())])
    try:
        check_dist.contents(dist, ROOT)
    except check_dist.CheckFailed as error:
        raise ReleaseError(f"the built artefacts are wrong:\n{error}") from None


def release(version: str, *, build_artefacts: bool, today: datetime.date) -> None:
    tag = f"v{version}"
    check_clean()
    check_no_tag(tag)
    check_single_source()
    changelog = prepare_changelog(CHANGELOG.read_text(encoding="utf-8"), version, today)
    if changelog is not None:
        CHANGELOG.write_text(changelog, encoding="utf-8")
    version_changed = set_version(version)
    if changelog is not None or version_changed:
        done = [what for what, changed in (("CHANGELOG.md: ## Unreleased is now"
                                            f" ## {version}", changelog is not None),
                                           (f"__version__ = {version!r}", version_changed))
                if changed]
        git("add", str(CHANGELOG), str(INIT))
        git("commit", "-q", "-m", f"Release {version}", "-m",
            "scripts/release: " + "; ".join(done) + ".")
        print(f"release: committed 'Release {version}' ({'; '.join(done)})")
    if check_dist.source_version(ROOT) != version:
        raise ReleaseError(f"__version__ is {check_dist.source_version(ROOT)!r}, not {version!r}")
    if build_artefacts:
        build()
    git("tag", "-a", tag, "-m", f"valohai-image-lint {version}")
    commit = git("rev-parse", "--short", f"{tag}^{{commit}}").strip()
    built = " and built dist/" if build_artefacts else ""
    print(f"release: tagged {tag} at {commit}{built}. To publish: git push origin HEAD {tag}"
          " (the tag starts .github/workflows/release.yml)")


def main(argv: list[str]) -> int:
    args = [a for a in argv if a != "--no-build"]
    if len(args) != 1 or args[0].startswith("-"):
        print(USAGE, file=sys.stderr)
        return 2
    version = args[0]
    if not VERSION_RE.fullmatch(version):
        print(f"release: {version!r} is not a version like 0.2.0 or 1.0.0rc1\n{USAGE}",
              file=sys.stderr)
        return 2
    date = os.environ.get("RELEASE_DATE")  # for reproducible tests
    today = datetime.date.fromisoformat(date) if date else datetime.date.today()
    try:
        release(version, build_artefacts="--no-build" not in argv, today=today)
    except (ReleaseError, check_dist.CheckFailed) as error:
        print(f"release: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
