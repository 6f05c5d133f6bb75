"""The pre-commit hook, as pre-commit itself runs it.

The manifest is read and its ``files`` regex checked against sample paths; then real
``pre-commit try-repo`` installs this repository into a hook environment (a virtualenv with
the package and its dependencies from PyPI) and runs it in temporary git repositories.

try-repo takes HEAD of the hook repository plus changes to *tracked* files, so a working tree
with new, uncommitted files (a developer's, before the commit) is first copied into a
temporary repository of its own; a clean checkout (CI) is used as it is. The hook environment
is built once per test session under a temporary ``PRE_COMMIT_HOME``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / ".pre-commit-hooks.yaml"
HOOK_ID = "valohai-image-lint"
ONLINE_HOOK_ID = "valohai-image-lint-online"

CLEAN = "- step:\n    name: train\n    image: python:3.11.9-slim\n    command: python train.py\n"
UNTAGGED = "- step:\n    name: train\n    image: python\n    command: python train.py\n"

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def load_hook(hook_id: str = HOOK_ID) -> dict[str, object]:
    hooks = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    assert isinstance(hooks, list)
    (hook,) = [h for h in hooks if h["id"] == hook_id]
    assert isinstance(hook, dict)
    return hook


def test_manifest() -> None:
    hook = load_hook()
    assert hook["language"] == "python"
    assert hook["entry"] == "valohai-image-lint"
    assert "types" not in hook
    assert hook["types_or"] == ["yaml", "python"]
    assert hook["files"] == r"(^|/)valohai\.ya?ml$|\.py$"
    # The entry is the console script the package installs.
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'^valohai-image-lint = "valohai_image_lint\.cli:main"$', pyproject,
                     re.MULTILINE)


def test_online_hook_is_the_same_hook_with_online() -> None:
    offline, online = load_hook(), load_hook(ONLINE_HOOK_ID)
    assert online["entry"] == "valohai-image-lint --online"
    same = ("language", "files", "types_or")
    assert {k: online[k] for k in same} == {k: offline[k] for k in same}


def test_manifest_is_valid_for_pre_commit() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pre_commit", "validate-manifest", str(MANIFEST)],
        capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("path", "matches"), [
    ("valohai.yaml", True),
    ("valohai.yml", True),
    ("sub/valohai.yml", True),
    ("deep/er/valohai.yaml", True),
    ("myvalohai.yaml", False),
    ("sub/myvalohai.yaml", False),
    ("valohai.yaml.bak", False),
    ("valohai.yamll", False),
    ("valohai-yaml", False),
    ("other.yaml", False),
    ("valohai.yaml/other.yaml", False),
    ("train.py", True),
    ("src/pkg/train.py", True),
    ("train.pyc", False),
    ("train.py.orig", False),
])
def test_files_regex(path: str, matches: bool) -> None:
    # pre-commit applies `files` with re.search to paths relative to the repository root.
    pattern = re.compile(str(load_hook()["files"]))
    assert bool(pattern.search(path)) is matches


def git(*args: str, cwd: Path) -> str:
    result = subprocess.run(
        ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid",
         "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main", *args],
        cwd=cwd, capture_output=True, text=True, check=True, env=_git_env())
    return result.stdout


def _git_env() -> dict[str, str]:
    # Running inside a git hook sets these; they would point git at the outer repository.
    env = {k: v for k, v in os.environ.items()
           if k not in ("GIT_DIR", "GIT_INDEX_FILE", "GIT_WORK_TREE", "GIT_OBJECT_DIRECTORY")}
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    return env


def _is_clean_checkout(root: Path) -> bool:
    try:
        status = git("status", "--porcelain", "--untracked-files=all", cwd=root)
    except (subprocess.CalledProcessError, OSError):
        return False
    return status == "" and (root / ".git").exists()


@pytest.fixture(scope="session")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This repository as try-repo should see it: the checkout itself when it is clean,
    otherwise a one-commit copy of its files (tracked and new, minus what git ignores)."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    if _is_clean_checkout(ROOT):
        return ROOT
    snapshot = tmp_path_factory.mktemp("hook-repo")
    listing = git("ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=ROOT)
    for name in sorted(set(filter(None, listing.split("\0")))):
        source = ROOT / name
        if source.is_file():
            target = snapshot / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    git("init", "-q", cwd=snapshot)
    git("add", "-A", cwd=snapshot)
    git("commit", "-q", "-m", "snapshot of the working tree", cwd=snapshot)
    return snapshot


@pytest.fixture(scope="session")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-home")


def make_project(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    git("init", "-q", cwd=root)
    git("add", "-A", cwd=root)
    return root


def _pre_commit_env(home: Path) -> dict[str, str]:
    env = _git_env()
    env["PRE_COMMIT_HOME"] = str(home)
    env["PRE_COMMIT_COLOR"] = "never"
    env.pop("PRE_COMMIT", None)
    return env


class Started:
    """A pre-commit command running in the background; ``result()`` waits for it."""

    def __init__(self, args: list[str], project: Path, home: Path) -> None:
        self.args = [sys.executable, "-m", "pre_commit", *args]
        self.seconds = 0.0
        self._result: subprocess.CompletedProcess[str] | None = None
        started = time.monotonic()
        process = subprocess.Popen(self.args, cwd=project, env=_pre_commit_env(home),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        def wait() -> None:
            try:
                out, err = process.communicate(timeout=600)
            except subprocess.TimeoutExpired:
                process.kill()
                out, err = process.communicate()
            self.seconds = time.monotonic() - started
            self._result = subprocess.CompletedProcess(self.args, process.returncode, out, err)

        self._waiter = threading.Thread(target=wait, daemon=True)
        self._waiter.start()

    def result(self) -> subprocess.CompletedProcess[str]:
        self._waiter.join()
        assert self._result is not None
        return self._result


def pre_commit(args: list[str], project: Path, home: Path) -> subprocess.CompletedProcess[str]:
    return Started(args, project, home).result()


def config_for(repo: Path, args: tuple[str, ...] = (), hook_id: str = HOOK_ID) -> str:
    """A .pre-commit-config.yaml as the README shows it, pointing at ``repo``'s HEAD."""
    rev = git("rev-parse", "HEAD", cwd=repo).strip()
    text = (
        "repos:\n"
        f"  - repo: {repo.as_posix()}\n"
        f"    rev: {rev}\n"
        "    hooks:\n"
        f"      - id: {hook_id}\n"
    )
    if args:
        text += f"        args: [{', '.join(args)}]\n"
    return text


def run_hook(project: Path, home: Path) -> subprocess.CompletedProcess[str]:
    return pre_commit(["run", "--all-files", "--color", "never"], project, home)


# try-repo builds its hook environment in a store of its own that it deletes afterwards
# (PRE_COMMIT_HOME does not apply to it), so each try-repo run installs the package again.
# The two try-repo runs cover what the hook must do; the other cases go through
# `pre-commit run` with a .pre-commit-config.yaml, whose environment is built once per session
# under PRE_COMMIT_HOME. The three runs that build an environment start together, since most
# of their time is spent waiting on pip.


@pytest.fixture(scope="session")
def environment_builds(hook_repo: Path, pre_commit_home: Path,
                       tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Started]]:
    base = tmp_path_factory.mktemp("builds")
    projects = {
        "try-repo bad": make_project(base / "bad", {"valohai.yaml": UNTAGGED,
                                                    "README.md": "hi\n"}),
        "try-repo clean": make_project(base / "clean", {
            "valohai.yaml": CLEAN,
            # Each would fail VIL001 if the hook were given it.
            "other.yaml": UNTAGGED,
            "myvalohai.yaml": UNTAGGED,
            "valohai.yaml.bak": UNTAGGED,
        }),
        "run warm-up": make_project(base / "warm-up", {
            ".pre-commit-config.yaml": config_for(hook_repo),
            "valohai.yaml": CLEAN,
        }),
    }
    started = time.monotonic()
    builds = {}
    for name, project in projects.items():
        if name.startswith("try-repo"):
            args = ["try-repo", str(hook_repo), HOOK_ID, "--all-files", "--color", "never"]
        else:
            args = ["run", "--all-files", "--color", "never"]
        builds[name] = Started(args, project, pre_commit_home)
    yield builds
    for build in builds.values():
        build.result()
    timings = ", ".join(f"{name} {build.seconds:.1f} s" for name, build in builds.items())
    sys.stderr.write(f"\npre-commit environment builds ({timings}) took"
                     f" {time.monotonic() - started:.1f} s together\n")


@needs_git
def test_try_repo_fails_on_a_bad_valohai_yaml(environment_builds: dict[str, Started]) -> None:
    result = environment_builds["try-repo bad"].result()
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert re.search(r"valohai-image-lint\.+Failed", output), output
    assert "valohai.yaml:3:12: VIL001" in output


@needs_git
def test_try_repo_passes_a_clean_file_and_ignores_other_yaml(
        environment_builds: dict[str, Started]) -> None:
    result = environment_builds["try-repo clean"].result()
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert re.search(r"valohai-image-lint\.+Passed", output), output
    assert "VIL001" not in output


@pytest.fixture(scope="session")
def built_environment(hook_repo: Path, environment_builds: dict[str, Started]) -> Path:
    """The hook environment under PRE_COMMIT_HOME, built by the warm-up run."""
    result = environment_builds["run warm-up"].result()
    assert result.returncode == 0, result.stdout + result.stderr
    return hook_repo


@needs_git
def test_run_checks_nested_valohai_yml_only(built_environment: Path, pre_commit_home: Path,
                                            tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", {
        ".pre-commit-config.yaml": config_for(built_environment),
        "sub/valohai.yml": UNTAGGED,
        "other.yaml": UNTAGGED,
    })
    result = run_hook(project, pre_commit_home)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "sub/valohai.yml:3:12: VIL001" in output
    assert "other.yaml" not in output


@needs_git
def test_run_skips_when_there_is_no_valohai_yaml(built_environment: Path,
                                                 pre_commit_home: Path,
                                                 tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", {
        ".pre-commit-config.yaml": config_for(built_environment),
        "other.yaml": UNTAGGED,
    })
    result = run_hook(project, pre_commit_home)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert re.search(r"valohai-image-lint\.+\(no files to check\)Skipped", output), output


def readme_config(repo: Path) -> str:
    """The README's .pre-commit-config.yaml, pointed at ``repo``'s HEAD instead of GitHub."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- tested: pre-commit-config -->\n```yaml\n(.*?)\n```", readme,
                      re.DOTALL)
    assert match, "README.md has no .pre-commit-config.yaml marked tested: pre-commit-config"
    config = yaml.safe_load(match.group(1))
    (entry,) = config["repos"]
    assert entry["repo"].startswith("https://")
    assert re.fullmatch(r"v\d+\.\d+\.\d+", entry["rev"])
    assert [hook["id"] for hook in entry["hooks"]] == [HOOK_ID]
    entry["repo"] = repo.as_posix()
    entry["rev"] = git("rev-parse", "HEAD", cwd=repo).strip()
    return str(yaml.safe_dump(config))


@needs_git
def test_readme_config_fixes_then_passes(built_environment: Path, pre_commit_home: Path,
                                         tmp_path: Path) -> None:
    """The README's snippet as written (``--fix`` and ``--config``): the first run rewrites
    the file and fails, as pre-commit does for fixers; the second passes."""
    config = readme_config(built_environment)
    assert "--fix" in config and "--config" in config
    project = make_project(tmp_path / "p", {
        ".pre-commit-config.yaml": config,
        "ci/valohai-image-lint.toml": 'private-registries = ["docker.io/myorg/*"]\n',
        "valohai.yaml": CLEAN.replace("python:3.11.9-slim", "myorg/app:1.0"),
    })
    first = run_hook(project, pre_commit_home)
    output = first.stdout + first.stderr
    assert first.returncode == 1, output
    assert "files were modified by this hook" in output
    assert (project / "valohai.yaml").read_text(encoding="utf-8") == CLEAN.replace(
        "python:3.11.9-slim", "docker.io/myorg/app:1.0")
    second = run_hook(project, pre_commit_home)
    assert second.returncode == 0, second.stdout + second.stderr


@needs_git
def test_run_passes_args_from_the_config(built_environment: Path, pre_commit_home: Path,
                                         tmp_path: Path) -> None:
    """``args`` reach the linter: ``--config`` makes a clean file fail VIL012."""
    project = make_project(tmp_path / "p", {
        ".pre-commit-config.yaml": config_for(
            built_environment, ("--config", "lint/valohai-image-lint.toml")),
        "lint/valohai-image-lint.toml": 'allowed-registries = ["ghcr.io/myorg/*"]\n',
        "valohai.yaml": CLEAN,
    })
    result = run_hook(project, pre_commit_home)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "valohai.yaml:3:12: VIL012" in output


@needs_git
def test_run_checks_a_changed_python_file(built_environment: Path, pre_commit_home: Path,
                                          tmp_path: Path) -> None:
    """A commit that changes train.py runs the hook on it (and on the unrelated Python file,
    which costs a byte search); the unchanged valohai.yaml is not passed but is compared."""
    project = make_project(tmp_path / "p", {
        ".pre-commit-config.yaml": config_for(built_environment),
        "valohai.yaml": CLEAN,
        "train.py": 'import valohai\nvalohai.prepare(step="train", image="python:3.11.9-slim")\n',
        "util.py": "def helper():\n    return 1\n",
    })
    git("commit", "-q", "-m", "start", cwd=project)
    (project / "train.py").write_text(
        'import valohai\nvalohai.prepare(step="train", image="python:latest")\n',
        encoding="utf-8")
    (project / "util.py").write_text("def helper(:\n", encoding="utf-8")
    git("add", "train.py", "util.py", cwd=project)
    result = pre_commit(["run", "--color", "never"], project, pre_commit_home)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert re.search(r"valohai-image-lint\.+Failed", output), output
    assert "train.py:2:37: VIL002" in output
    assert "train.py:2:37: VIL008" in output
    assert "valohai.yaml:3" in output  # named by VIL008, not linted itself
    assert "util.py" not in output


@needs_git
def test_run_from_the_root_of_a_monorepo_uses_each_project_configuration(
        built_environment: Path, pre_commit_home: Path, tmp_path: Path) -> None:
    """pre-commit runs from the repository root; the configuration of projects/vision (its
    private registry) must apply to projects/vision/valohai.yaml, the root's elsewhere."""
    short = CLEAN.replace("python:3.11.9-slim", "myorg/app:1.0")
    project = make_project(tmp_path / "mono", {
        ".pre-commit-config.yaml": config_for(built_environment),
        ".valohai-image-lint.toml": 'ignore = ["VIL021"]\n',
        "projects/vision/.valohai-image-lint.toml": 'private-registries = ["docker.io/myorg/*"]\n',
        "projects/vision/valohai.yaml": short,
        # No configuration of its own: the root's, which has no private registries.
        "projects/nlp/valohai.yaml": short,
    })
    result = run_hook(project, pre_commit_home)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "projects/vision/valohai.yaml:3:12: VIL010" in output
    assert "projects/nlp/valohai.yaml" not in output


@needs_git
def test_a_hook_narrowed_to_one_rule_still_stops_broken_yaml(
        built_environment: Path, pre_commit_home: Path, tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", {
        ".pre-commit-config.yaml": config_for(built_environment, ("--select", "VIL002")),
        "valohai.yaml": "- step:\n    name: train\n   image: python:3.11\n",
    })
    result = run_hook(project, pre_commit_home)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "valohai.yaml:3:4: VIL000" in output
class _NoSuchTag(BaseHTTPRequestHandler):
    """A registry on loopback whose repository `app` has only the tag 1.0."""

    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        if self.path.startswith("/v2/app/tags/list"):
            status, body = 200, b'{"name": "app", "tags": ["1.0"]}'
        else:
            status, body = 404, b'{"errors": [{"code": "MANIFEST_UNKNOWN"}]}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@needs_git
def test_online_hook_asks_the_registry_and_the_default_hook_does_not(
        built_environment: Path, pre_commit_home: Path, tmp_path: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NoSuchTag)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        image = f"127.0.0.1:{server.server_address[1]}/app:1.1"
        files = {"valohai.yaml": CLEAN.replace("python:3.11.9-slim", image),
                 ".valohai-image-lint.toml": f'cache-dir = "{tmp_path / "cache"}"\n'}
        offline = make_project(tmp_path / "offline", {
            ".pre-commit-config.yaml": config_for(built_environment), **files})
        result = run_hook(offline, pre_commit_home)
        assert result.returncode == 0, result.stdout + result.stderr
        online = make_project(tmp_path / "online", {
            ".pre-commit-config.yaml": config_for(built_environment, hook_id=ONLINE_HOOK_ID),
            **files})
        result = run_hook(online, pre_commit_home)
        output = result.stdout + result.stderr
        assert result.returncode == 1, output
        assert re.search(r"valohai-image-lint \(online\)\.+Failed", output), output
        assert f"valohai.yaml:3:12: VIL013 [error] tag '1.1' of {image[:-4]} does not exist" in (
            output)
    finally:
        server.shutdown()
        server.server_close()
