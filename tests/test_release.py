"""Release tooling: the Python policy, the dist checks, `scripts/release`, the release
workflow, and pre-commit at a release tag.

`scripts/release` runs for real in temporary git repositories made from this checkout's files
(tracked and new, as ``git ls-files`` lists them), with git's identity given by environment
variables. The tag tests run real ``pre-commit try-repo`` and ``pre-commit run`` at a tag that
`scripts/release` made, with a later commit on top, so they show that the hook installs the
tagged version and not HEAD; when this repository itself has the README's tag, try-repo runs at
that tag too.
"""

from __future__ import annotations

import email.message
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "release.yml"
HOOK_ID = "valohai-image-lint"
UNTAGGED = "- step:\n    name: train\n    image: python\n    command: python train.py\n"

sys.path.insert(0, str(ROOT / "scripts"))
import check_dist  # noqa: E402

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def pyproject() -> dict[str, object]:
    return check_dist.pyproject(ROOT)  # tomllib, or tomli on Python 3.10


# --- supported Python ----------------------------------------------------------------------


def supported_minors() -> tuple[int, list[int]]:
    project = pyproject()["project"]
    assert isinstance(project, dict)
    floor = re.fullmatch(r">=3\.(\d+)", project["requires-python"])
    assert floor, project["requires-python"]
    minors = sorted(int(m.group(1)) for c in project["classifiers"]
                    if (m := re.fullmatch(r"Programming Language :: Python :: 3\.(\d+)", c)))
    return int(floor.group(1)), minors


def test_python_policy_is_stated_once_and_agrees() -> None:
    """requires-python, the classifiers (which .ci/run reads to pick its two interpreters) and
    the README say the same thing."""
    floor, minors = supported_minors()
    assert floor == 10, "Python 3.9 is end-of-life; README.md's Supported Python says why 3.10"
    assert minors == list(range(floor, minors[-1] + 1)), "classifiers skip a version"
    assert minors[0] == floor
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"Python 3.{floor} or newer" in readme
    assert f"Python 3.{floor} to 3.{minors[-1]}." in readme
    ruff = pyproject()["tool"]["ruff"]  # type: ignore[index]
    assert ruff["target-version"] == f"py3{floor}"


def test_the_test_extra_holds_no_linters() -> None:
    """The linters pin versions that need a recent Python; kept out of `test`, which must
    install on every supported Python."""
    project = pyproject()["project"]
    assert isinstance(project, dict)
    extras = project["optional-dependencies"]

    def names(extra: str) -> set[str]:
        return {re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0].lower() for r in extras[extra]}

    assert {"ruff", "mypy", "types-pyyaml"} <= names("lint")
    assert not names("test") & {"ruff", "mypy", "types-pyyaml", "build", "twine"}
    assert {"build", "twine"} <= names("release")


def test_ci_runs_the_readme_test_command() -> None:
    """.ci/run takes the command from the README's marked block; the marker must stay on it."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- ci: test-command -->\n```sh\n(.*)\n```", readme)
    assert match, "README.md lost the <!-- ci: test-command --> marker"
    assert "pytest" in match.group(1)
    assert "ci: test-command" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


# --- the dist checks can fail ----------------------------------------------------------------


def fake_wheel(path: Path, version: str, drop: str = "", add: str = "") -> Path:
    """A wheel as setuptools would build it from this source tree, less `drop`, plus `add`."""
    project = pyproject()["project"]
    assert isinstance(project, dict)
    metadata = email.message.Message()
    metadata["Metadata-Version"] = "2.4"
    metadata["Name"] = "valohai-image-lint"
    metadata["Version"] = version
    metadata["License-Expression"] = str(project["license"])
    metadata["Requires-Python"] = str(project["requires-python"])
    for dependency in project["dependencies"]:
        metadata["Requires-Dist"] = dependency
    info = f"valohai_image_lint-{version}.dist-info/"
    wheel = path / f"valohai_image_lint-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name in sorted(check_dist.package_files(ROOT) - {drop}):
            archive.writestr(name, (ROOT / "src" / name).read_bytes())
        if add:
            archive.writestr(add, "")
        archive.writestr(info + "METADATA", metadata.as_string())
        archive.writestr(info + "entry_points.txt",
                         "[console_scripts]\nvalohai-image-lint = valohai_image_lint.cli:main\n")
        archive.writestr(info + "licenses/LICENSE", (ROOT / "LICENSE").read_text())
    return wheel


def test_a_complete_wheel_passes(tmp_path: Path) -> None:
    version = check_dist.source_version(ROOT)
    assert check_dist.check_wheel(fake_wheel(tmp_path, version), ROOT, version) == []


@pytest.mark.parametrize(("drop", "add", "problem"), [
    ("valohai_image_lint/py.typed", "", "missing valohai_image_lint/py.typed"),
    ("valohai_image_lint/data/lighter_variants.py", "",
     "missing valohai_image_lint/data/lighter_variants.py"),
    ("valohai_image_lint/rules/vil010_private_image_short_name.py", "",
     "missing valohai_image_lint/rules/vil010_private_image_short_name.py"),
    ("", "valohai_image_lint/stray.py", "holds valohai_image_lint/stray.py"),
])
def test_a_wheel_that_differs_from_src_fails(tmp_path: Path, drop: str, add: str,
                                              problem: str) -> None:
    version = check_dist.source_version(ROOT)
    problems = check_dist.check_wheel(fake_wheel(tmp_path, version, drop, add), ROOT, version)
    assert any(problem in p for p in problems), problems


def test_every_rule_module_is_expected_in_the_wheel() -> None:
    """The wheel is compared with src/, not with a list: a new rule module is expected too."""
    expected = check_dist.package_files(ROOT)
    for module in (ROOT / "src" / "valohai_image_lint" / "rules").glob("*.py"):
        assert f"valohai_image_lint/rules/{module.name}" in expected


# --- shell scripts and the workflow ---------------------------------------------------------


def tool(name: str) -> str:
    """A tool from this interpreter's environment (pip installs actionlint beside it) or PATH."""
    found = shutil.which(name, path=f"{Path(sys.executable).parent}{os.pathsep}"
                                    f"{os.environ.get('PATH', '')}")
    if found is None:
        pytest.skip(f"{name} is not installed (scripts/install-system-deps, the test extra)")
    return found


def test_shell_scripts_pass_shellcheck() -> None:
    """.ci/run and every shell script in scripts/ (found by its #! line)."""
    scripts = [ROOT / ".ci" / "run"] + [
        path for path in sorted((ROOT / "scripts").iterdir())
        if path.is_file() and path.read_bytes().startswith((b"#!/usr/bin/env bash", b"#!/bin/"))]
    assert ROOT / "scripts" / "release" in scripts
    result = subprocess.run([tool("shellcheck"), *map(str, scripts)], capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def actionlint(path: Path) -> subprocess.CompletedProcess[str]:
    """actionlint on `path`, run in the repository that holds it (.github/workflows/...)."""
    return subprocess.run([tool("actionlint"), "-no-color", str(path)], cwd=path.parents[2],
                          capture_output=True, text=True, check=False)


def test_release_workflow_passes_actionlint() -> None:
    result = actionlint(WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("old", "new", "complaint"), [
    ("      id-token: write", "      id-token: writ", "writ"),
    ("      id-token: write", "      id-tokens: write", "id-tokens"),
    ("needs: build", "needs: bild", "bild"),
    ('TAG: ${{ github.ref_name }}', 'TAG: ${{ github.ref_nam }}', "ref_nam"),
    ("name: dist\n          path: dist/\n          if-no", "nme: dist\n          path: dist/\n"
     "          if-no", "nme"),
])
def test_actionlint_catches_a_broken_release_workflow(tmp_path: Path, old: str, new: str,
                                                      complaint: str) -> None:
    """The check above can fail: the same workflow with one mistake does not pass."""
    text = WORKFLOW.read_text(encoding="utf-8")
    assert old in text
    broken = tmp_path / ".github" / "workflows" / "release.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(text.replace(old, new, 1), encoding="utf-8")
    result = actionlint(broken)
    assert result.returncode == 1
    assert complaint in result.stdout, result.stdout


def test_release_workflow_publishes_with_trusted_publishing_only() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    trigger = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert list(trigger) == ["push"]
    (pattern,) = trigger["push"]["tags"]
    assert pattern.startswith("v")
    assert workflow["permissions"] == {"contents": "read"}
    build, publish = workflow["jobs"]["build"], workflow["jobs"]["publish"]
    assert "permissions" not in build
    assert publish["needs"] == "build"
    assert publish["permissions"] == {"id-token": "write"}
    assert publish["environment"]["name"] == "pypi"
    uses = [step.get("uses", "") for step in publish["steps"]]
    assert uses[-1] == "pypa/gh-action-pypi-publish@release/v1"
    assert all("with" not in step or "password" not in step["with"]
               for step in publish["steps"]), "trusted publishing needs no token"
    assert "secrets." not in WORKFLOW.read_text(encoding="utf-8")
    # The publish job runs no code from the repository; the build job checks the tag.
    assert not any("run" in step for step in publish["steps"])
    scripts = "\n".join(step.get("run", "") for step in build["steps"])
    assert '"$TAG" != "v$version"' in scripts
    assert "check_dist.py contents" in scripts


# --- scripts/release in temporary repositories ----------------------------------------------


def git_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("GIT_") and k not in ("PRE_COMMIT",)}
    env.update({
        "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_AUTHOR_NAME": "release test", "GIT_AUTHOR_EMAIL": "release@example.invalid",
        "GIT_COMMITTER_NAME": "release test", "GIT_COMMITTER_EMAIL": "release@example.invalid",
        "RELEASE_DATE": "2026-12-01",
    })
    return env


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false",
                           "-c", "tag.gpgsign=false", *args], cwd=cwd, env=git_env(),
                          capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-commit repository holding this checkout's files (tracked and new)."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path_factory.mktemp("template")
    listing = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                              "--exclude-standard"], cwd=ROOT, env=git_env(),
                             capture_output=True, text=True, check=True).stdout
    for name in sorted(set(filter(None, listing.split("\0")))):
        source = ROOT / name
        if source.is_file():
            target = repo / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    git("init", "-q", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "the checkout", cwd=repo)
    return repo


@pytest.fixture
def repo(template: Path, tmp_path: Path) -> Path:
    clone = tmp_path / "repo"
    git("clone", "-q", str(template), str(clone), cwd=tmp_path)
    return clone


def release(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(repo / "scripts" / "release"), *args], cwd=repo,
                          env={**git_env(), "PYTHON": sys.executable}, capture_output=True,
                          text=True, check=False)


def set_changelog(repo: Path, text: str) -> None:
    (repo / "CHANGELOG.md").write_text(text, encoding="utf-8")
    git("commit", "-q", "-am", "changelog for the test", cwd=repo)


def tags(repo: Path) -> list[str]:
    return git("tag", "--list", cwd=repo).split()


def version_in(repo: Path, rev: str = "HEAD") -> str:
    text = git("show", f"{rev}:src/valohai_image_lint/__init__.py", cwd=repo)
    match = re.search(r'^__version__ = "(.*)"$', text, re.MULTILINE)
    assert match
    return match.group(1)


CHANGELOG = """# Changelog

## Unreleased

### Added

- Something new.

## 0.1.0 - 2026-11-30

- The first release.
"""


@needs_git
def test_release_turns_unreleased_into_the_version_commits_and_tags(repo: Path) -> None:
    set_changelog(repo, CHANGELOG)
    before = git("rev-parse", "HEAD", cwd=repo).strip()
    result = release(repo, "0.2.0", "--no-build")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "tagged v0.2.0" in result.stdout
    assert (repo / "CHANGELOG.md").read_text(encoding="utf-8") == CHANGELOG.replace(
        "## Unreleased\n", "## Unreleased\n\n## 0.2.0 - 2026-12-01\n")
    assert version_in(repo) == "0.2.0"
    assert git("rev-parse", "HEAD^", cwd=repo).strip() == before
    assert git("log", "-1", "--format=%s", cwd=repo).strip() == "Release 0.2.0"
    assert git("rev-parse", "v0.2.0^{commit}", cwd=repo) == git("rev-parse", "HEAD", cwd=repo)
    assert git("cat-file", "-t", "v0.2.0", cwd=repo).strip() == "tag"  # annotated
    assert git("status", "--porcelain", cwd=repo) == ""


@needs_git
def test_release_of_a_prepared_version_only_tags(repo: Path) -> None:
    """CHANGELOG and __version__ already say the version: nothing to commit, only the tag."""
    version = version_in(repo)
    set_changelog(repo, f"# Changelog\n\n## Unreleased\n\n## {version} - 2026-11-30\n\n- It.\n")
    head = git("rev-parse", "HEAD", cwd=repo)
    result = release(repo, version, "--no-build")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "committed" not in result.stdout
    assert git("rev-parse", "HEAD", cwd=repo) == head
    assert tags(repo) == [f"v{version}"]


@needs_git
@pytest.mark.parametrize(("changelog", "version", "message"), [
    (CHANGELOG.replace("- Something new.\n", ""), "0.2.0",
     "## Unreleased lists nothing to release as 0.2.0"),
    ("# Changelog\n\n## 0.1.0\n\n- The first release.\n", "0.2.0",
     "neither a ## 0.2.0 nor a ## Unreleased section"),
    (CHANGELOG, "0.1.0", "entries under ## Unreleased as well as a ## 0.1.0 section"),
    (CHANGELOG.replace("- The first release.\n", ""), "0.1.0",
     "the ## 0.1.0 section lists nothing"),
])
def test_release_refuses_without_a_changelog_section(repo: Path, changelog: str, version: str,
                                                    message: str) -> None:
    set_changelog(repo, changelog)
    head = git("rev-parse", "HEAD", cwd=repo)
    result = release(repo, version, "--no-build")
    assert result.returncode == 1
    assert result.stderr.startswith("release: error: CHANGELOG.md"), result.stderr
    assert message in result.stderr
    assert tags(repo) == []
    assert git("rev-parse", "HEAD", cwd=repo) == head
    assert git("status", "--porcelain", cwd=repo) == ""


@needs_git
def test_release_refuses_a_dirty_tree(repo: Path) -> None:
    set_changelog(repo, CHANGELOG)
    (repo / "notes.txt").write_text("not committed\n", encoding="utf-8")
    result = release(repo, "0.2.0", "--no-build")
    assert result.returncode == 1
    assert "the working tree is not clean (notes.txt)" in result.stderr
    assert tags(repo) == []
    assert version_in(repo) != "0.2.0"


@needs_git
def test_release_refuses_an_existing_tag(repo: Path) -> None:
    set_changelog(repo, CHANGELOG)
    git("tag", "v0.2.0", cwd=repo)
    result = release(repo, "0.2.0", "--no-build")
    assert result.returncode == 1
    assert "tag v0.2.0 exists already" in result.stderr


@needs_git
def test_release_refuses_a_version_written_twice(repo: Path) -> None:
    set_changelog(repo, CHANGELOG)
    (repo / "pyproject.toml").write_text(
        (repo / "pyproject.toml").read_text(encoding="utf-8").replace(
            'name = "valohai-image-lint"\n', 'name = "valohai-image-lint"\nversion = "0.2.0"\n'),
        encoding="utf-8")
    git("commit", "-q", "-am", "a second version", cwd=repo)
    result = release(repo, "0.2.0", "--no-build")
    assert result.returncode == 1
    assert "pyproject.toml must not write the version" in result.stderr
    assert tags(repo) == []


@needs_git
@pytest.mark.parametrize("args", [[], ["v0.2.0"], ["0.2"], ["0.2.0", "0.3.0"], ["--help"]])
def test_release_usage(repo: Path, args: list[str]) -> None:
    result = release(repo, *args)
    assert result.returncode == 2
    assert "usage: scripts/release VERSION" in result.stderr
    assert "Traceback" not in result.stderr


# --- pre-commit at a release tag ------------------------------------------------------------


def readme_rev() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- tested: pre-commit-config -->\n```yaml\n(.*?)\n```", readme,
                      re.DOTALL)
    assert match
    (entry,) = yaml.safe_load(match.group(1))["repos"]
    rev = entry["rev"]
    assert isinstance(rev, str)
    return rev


def make_project(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    git("init", "-q", cwd=root)
    git("add", "-A", cwd=root)
    return root


def pre_commit(args: list[str], project: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = git_env()
    env.update({"PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never"})
    return subprocess.run([sys.executable, "-m", "pre_commit", *args], cwd=project, env=env,
                          capture_output=True, text=True, check=False, timeout=600)


def readme_try_repo() -> list[str]:
    """The README's `pre-commit try-repo URL ...` command, after the URL."""
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    match = re.search(r"`pre-commit try-repo https://\S+ ([^`]*)`", readme)
    assert match, "README.md shows no pre-commit try-repo command"
    return match.group(1).split()


def try_repo(repo: Path, project: Path, home: Path) -> subprocess.CompletedProcess[str]:
    """The README's try-repo command, with `repo` for the URL."""
    return pre_commit(["try-repo", str(repo), *readme_try_repo(), "--color", "never"], project,
                      home)


def readme_pip_url() -> str:
    """The `git+https://...@vX.Y.Z` the README's GitLab CI snippet installs."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r'pip install "valohai-image-lint @ (git\+https://\S+@v[0-9.]+)"', readme)
    assert match, "README.md has no pip install of a tagged git URL"
    return match.group(1)


def pip_install_at_tag(repo: Path, rev: str, where: Path) -> subprocess.CompletedProcess[str]:
    """The README's GitLab CI install, `pip install "valohai-image-lint @ git+URL@TAG"`, with
    `repo` for the URL, into a fresh venv; then the installed linter's --version."""
    url = readme_pip_url()
    assert url.endswith(f"@{rev}")
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
    # file://localhost/...: older pip rejects a git+file URL without a host
    local = f"git+file://localhost{repo.as_posix()}@{rev}"
    installed = subprocess.run([str(where / "bin" / "pip"), "install", "-q",
                                f"valohai-image-lint @ {local}"], env=git_env(),
                               capture_output=True, text=True, check=False)
    if installed.returncode != 0:
        return installed
    return subprocess.run([str(where / "bin" / "valohai-image-lint"), "--version"],
                          capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def released(template: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A repository released with scripts/release as the README's tag, then moved on: HEAD
    says another version, so a hook that installed HEAD would say so."""
    rev = readme_rev()
    version = rev.removeprefix("v")
    repo = tmp_path_factory.mktemp("released") / "repo"
    git("clone", "-q", str(template), str(repo), cwd=repo.parent)
    set_changelog(repo, "# Changelog\n\n## Unreleased\n\n- The first release.\n")
    result = release(repo, version, "--no-build")
    assert result.returncode == 0, result.stdout + result.stderr
    init = repo / "src" / "valohai_image_lint" / "__init__.py"
    init.write_text(re.sub(r'__version__ = ".*"', '__version__ = "99.0.0.dev0"',
                           init.read_text(encoding="utf-8")), encoding="utf-8")
    git("commit", "-q", "-am", "development after the release", cwd=repo)
    return repo, rev


@pytest.fixture(scope="module")
def tag_runs(released: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[dict[str, Future[subprocess.CompletedProcess[str]]]]:
    """The pre-commit runs at the tag, started together (most of their time is pip's)."""
    repo, rev = released
    base = tmp_path_factory.mktemp("tag-projects")
    home = base / "home"
    version_config = yaml.safe_dump({"repos": [{
        "repo": repo.as_posix(), "rev": rev,
        "hooks": [{"id": HOOK_ID, "args": ["--version"], "verbose": True}]}]})
    projects = {
        "try-repo": make_project(base / "try", {"valohai.yaml": UNTAGGED}),
        "version": make_project(base / "version", {".pre-commit-config.yaml": version_config,
                                                   "valohai.yaml": UNTAGGED}),
    }
    with ThreadPoolExecutor(max_workers=4) as pool:
        runs = {
            "try-repo": pool.submit(try_repo, repo, projects["try-repo"], base / "h1"),
            "version": pool.submit(pre_commit, ["run", "--all-files"], projects["version"],
                                   home),
            "pip": pool.submit(pip_install_at_tag, repo, rev, base / "pip-venv"),
        }
        if git("tag", "--list", rev, cwd=ROOT).strip():
            project = make_project(base / "this", {"valohai.yaml": UNTAGGED})
            runs["this repository"] = pool.submit(try_repo, ROOT, project, base / "h2")
        yield runs


@needs_git
def test_try_repo_at_the_release_tag_runs_the_hook(
        tag_runs: dict[str, Future[subprocess.CompletedProcess[str]]]) -> None:
    """The README's try-repo command (`--ref` the README's tag) at a released repository."""
    assert readme_try_repo()[:3] == [HOOK_ID, "--ref", readme_rev()]
    result = tag_runs["try-repo"].result()
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert re.search(r"valohai-image-lint\.+Failed", output), output
    assert "valohai.yaml:3:12: VIL001" in output


@needs_git
def test_the_hook_environment_installs_the_tagged_version(
        released: tuple[Path, str],
        tag_runs: dict[str, Future[subprocess.CompletedProcess[str]]]) -> None:
    repo, rev = released
    assert version_in(repo) == "99.0.0.dev0"
    result = tag_runs["version"].result()
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert f"valohai-image-lint {rev.removeprefix('v')}\n" in output, output
    assert "99.0.0.dev0" not in output


@needs_git
def test_pip_install_at_the_release_tag_installs_that_version(
        released: tuple[Path, str],
        tag_runs: dict[str, Future[subprocess.CompletedProcess[str]]]) -> None:
    """The README's GitLab CI snippet installs the package from a git URL at the tag."""
    _, rev = released
    result = tag_runs["pip"].result()
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == f"valohai-image-lint {rev.removeprefix('v')}\n"


@needs_git
def test_the_readme_tag_is_in_this_repository(
        tag_runs: dict[str, Future[subprocess.CompletedProcess[str]]]) -> None:
    """The tag the README names, made by scripts/release: at it, the version and CHANGELOG
    agree and try-repo runs the hook. Tags do not always travel with a clone; then this says
    so and skips."""
    rev = readme_rev()
    if "this repository" not in tag_runs:
        pytest.skip(f"this clone has no tag {rev} (scripts/release {rev[1:]} makes it; see"
                    " Releasing in README.md)")
    assert version_in(ROOT, rev) == rev[1:]
    changelog = git("show", f"{rev}:CHANGELOG.md", cwd=ROOT)
    assert re.search(rf"^## {re.escape(rev[1:])}( |$)", changelog, re.MULTILINE)
    result = tag_runs["this repository"].result()
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "valohai.yaml:3:12: VIL001" in output
