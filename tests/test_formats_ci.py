"""The CI recipes: the composite GitHub Action (action.yml) and the README's GitLab CI job.

GitHub and GitLab are not reachable from the tests, so their own parts (setup-python, the
runner, the artifact upload) are not run; the scripts the recipes run are, with bash, on a
temporary project, in the environment the runner would give them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
ACTION = ROOT / "action.yml"
README = ROOT / "README.md"
SARIF_SCHEMA = Path(__file__).parent / "data" / "sarif-2.1.0.json"

BAD = "- step:\n    name: train\n    image: python\n    command: python train.py\n"
WARNING_ONLY = ("- step:\n    name: train\n    image: otherteam.azurecr.io/train:1.0\n"
                "    command: python train.py\n")
CLEAN = "- step:\n    name: train\n    image: python:3.11.9-slim\n    command: python train.py\n"


def load_action() -> dict[str, Any]:
    action: dict[str, Any] = yaml.safe_load(ACTION.read_text("utf-8"))
    return action


def step(action: dict[str, Any], step_id: str) -> dict[str, Any]:
    (found,) = [s for s in action["runs"]["steps"] if s.get("id") == step_id]
    assert isinstance(found, dict)
    return found


def test_action_shape() -> None:
    action = load_action()
    assert action["runs"]["using"] == "composite"
    assert set(action["inputs"]) == {"paths", "args", "sarif-file", "python-version"}
    assert action["inputs"]["paths"]["default"] == "."
    setup = step(action, "python")
    assert re.fullmatch(r"actions/setup-python@v\d+", setup["uses"])
    # The workflow's own Python and PATH are left alone.
    assert setup["with"]["update-environment"] is False
    install = step(action, "install")
    assert '"$GITHUB_ACTION_PATH"' in install["run"]
    for s in action["runs"]["steps"]:
        if "run" in s:
            assert s["shell"] == "bash"
            # Inputs go through env: an expression inside a script is a script injection.
            assert "${{" not in s["run"]
    assert "--format github" in step(action, "lint")["run"]


def run_lint_step(project: Path, tmp_path: Path, *, paths: str = ".", args: str = "",
                  sarif: str = "") -> tuple[int, str, str, str]:
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    script = tmp_path / "lint-step.sh"
    script.write_text(step(load_action(), "lint")["run"], "utf-8")
    output_file = tmp_path / "github-output"
    output_file.write_text("", "utf-8")
    env = dict(os.environ)
    env.update({
        "VIL_PYTHON": sys.executable,
        "INPUT_PATHS": paths,
        "INPUT_ARGS": args,
        "INPUT_SARIF_FILE": sarif,
        "GITHUB_OUTPUT": str(output_file),
    })
    # How GitHub runs a `shell: bash` step.
    result = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                            cwd=project, env=env, capture_output=True, text=True, timeout=60,
                            check=False)
    return result.returncode, result.stdout, result.stderr, output_file.read_text("utf-8")


def make_project(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, "utf-8")
    return root


def test_action_annotates_and_fails(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", {"valohai.yaml": BAD, "b/valohai.yml": CLEAN})
    code, out, err, outputs = run_lint_step(project, tmp_path)
    assert code == 1, err
    assert out.startswith("::error file=valohai.yaml,line=3,col=12,endLine=3,endColumn=18,"
                          "title=VIL001::image 'python' has no tag")
    assert outputs == ""


def test_action_paths_args_and_sarif(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", {
        "a/valohai.yaml": WARNING_ONLY,
        "b/valohai.yaml": BAD,
        "lint.toml": 'private-registries = ["myteam.azurecr.io/*"]\n',
    })
    # Only a/ is checked; its warning does not fail at --fail-level error.
    code, out, err, outputs = run_lint_step(
        project, tmp_path, paths="a", args="--config lint.toml --fail-level error",
        sarif="report.sarif")
    assert code == 0, err
    assert out.startswith("::warning file=a/valohai.yaml,line=3,col=12,")
    assert "b/valohai.yaml" not in out
    assert outputs == "sarif-file=report.sarif\n"
    log = json.loads((project / "report.sarif").read_text("utf-8"))
    validator = jsonschema.Draft4Validator(json.loads(SARIF_SCHEMA.read_text("utf-8")))
    assert not list(validator.iter_errors(log))
    (result,) = log["runs"][0]["results"]
    assert result["ruleId"] == "VIL011" and result["level"] == "warning"


def test_action_sarif_is_written_when_the_run_fails(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", {"valohai.yaml": BAD})
    code, out, err, _ = run_lint_step(project, tmp_path, sarif="out.sarif")
    assert code == 1, err
    assert out.startswith("::error file=valohai.yaml,line=3,")
    log = json.loads((project / "out.sarif").read_text("utf-8"))
    assert [r["ruleId"] for r in log["runs"][0]["results"]] == ["VIL001"]


def test_action_bad_option_is_a_usage_error(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", {"valohai.yaml": CLEAN})
    code, _, err, _ = run_lint_step(project, tmp_path, args="--no-such-option")
    assert code == 2
    assert "error:" in err and "Traceback" not in err


def gitlab_job() -> dict[str, Any]:
    match = re.search(r"<!-- tested: gitlab-ci -->\n```yaml\n(.*?)\n```",
                      README.read_text("utf-8"), re.DOTALL)
    assert match, "README.md has no GitLab CI job marked <!-- tested: gitlab-ci -->"
    jobs: dict[str, Any] = yaml.safe_load(match.group(1))
    (job,) = jobs.values()
    assert isinstance(job, dict)
    return job


def test_gitlab_job_writes_the_code_quality_report(tmp_path: Path) -> None:
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    job = gitlab_job()
    report = job["artifacts"]["reports"]["codequality"]
    assert job["artifacts"]["when"] == "always"
    # The install line needs the network; this checkout's linter is the one under test.
    commands = [c for c in job["script"] if not c.startswith("pip install")]
    assert len(commands) == len(job["script"]) - 1
    project = make_project(tmp_path / "p", {"valohai.yaml": BAD, "sub/valohai.yml": CLEAN})
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "valohai-image-lint"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m valohai_image_lint "$@"\n', "utf-8")
    shim.chmod(0o755)
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    # GitLab runs the script lines in one shell that stops at the first failing line.
    script = "set -e\n" + "\n".join(commands) + "\n"
    result = subprocess.run(["bash", "-c", script], cwd=project, env=env, capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 1, result.stderr
    assert "valohai.yaml:3:12: VIL001 [error]" in result.stdout  # the log
    (issue,) = json.loads((project / report).read_text("utf-8"))
    assert issue["check_name"] == "VIL001"
    assert issue["location"] == {"path": "valohai.yaml", "lines": {"begin": 3}}
