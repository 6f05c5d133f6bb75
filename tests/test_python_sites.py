"""Python sources: ``valohai.prepare(image=...)`` as image sites, held against valohai-utils.

valohai-utils (in the test extra) is the oracle: its own parser
(``valohai.internals.parsing.parse``, what ``vh yaml step`` runs) must read from each source
exactly the step and image our sites say it reads, and its merge rule
(``valohai.internals.merge``) must keep the image our VIL008 message names.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Optional

import pytest
from valohai.consts import DEFAULT_DOCKER_IMAGE
from valohai.internals.parsing import parse as vh_parse

from valohai_image_lint import cli
from valohai_image_lint.config import config_from_table
from valohai_image_lint.linter import lint_bytes
from valohai_image_lint.rules import select_rules
from valohai_image_lint.sites import project as pairing
from valohai_image_lint.sites import python as pysites
from valohai_image_lint.source import SourceFile


@pytest.fixture(autouse=True)
def _fresh_yaml_state() -> Any:
    pairing.forget_yaml_texts()
    yield
    pairing.forget_yaml_texts()


def sites_of(text: str, path: str = "train.py") -> list[pysites.PythonImageSite]:
    return pysites.find_sites(SourceFile(path, text))


def read_by_vh(text: str) -> tuple[Optional[str], Optional[str]]:
    """(step, image) as our sites say vh yaml step reads them."""
    read = [s for s in sites_of(text) if s.read_by_vh]
    assert len(read) <= 1
    if not read:
        return None, None
    node = read[0].node
    return read[0].vh_step, None if node is None else node.value  # type: ignore[union-attr]


# Call shapes seen in public projects, and the ones valohai-utils' parser does not read.
SHAPES = {
    "plain": 'import valohai\nvalohai.prepare(step="train", image="python:3.12")\n',
    "multi-line single quotes": textwrap.dedent("""\
        import valohai

        valohai.prepare(
            step='preprocessing',
            image='python',
            default_parameters={
                'd': 30.0
            }
        )
        """),
    "in a function": textwrap.dedent("""\
        import valohai

        def main():
          valohai.prepare(
                step='train-model',
                image='valohai/sklearn:1.0',
                default_inputs={'dataset1': 'datum://0180'},
          )
        """),
    "in a with block": textwrap.dedent("""\
        import valohai
        with open("x") as m:
            valohai.prepare(step="test", image=u"python:3.10", default_parameters={})
        """),
    "after an assignment": textwrap.dedent("""\
        import valohai
        parameters = {"datarow_id": ""}
        valohai.prepare(step="train", image="drazend/labelbox", default_parameters=parameters,
                        environment="aws-eu-west-1-p2-xlarge")
        """),
    "no step": 'import valohai\nvalohai.prepare(image="python:3.12")\n',
    "no image": 'import valohai\nvalohai.prepare(step="train")\n',
    "image None": 'import valohai\nvalohai.prepare(step="train", image=None)\n',
    "triple quotes": 'import valohai\nvalohai.prepare(step="t", image="""python:3.9""")\n',
    "raw prefix": "import valohai\nvalohai.prepare(step='t', image=r'python:3.9')\n",
    "concatenated": 'import valohai\nvalohai.prepare(step="t", image="python" ":3.9")\n',
    "parenthesised": 'import valohai\nvalohai.prepare(step="t", image=("python:3.9"))\n',
    "two calls, image in the first": textwrap.dedent("""\
        import valohai
        valohai.prepare(step="a", image="python:3.8")
        valohai.prepare(step="b")
        """),
    "two calls, image in both": textwrap.dedent("""\
        import valohai
        valohai.prepare(step="a", image="python:3.8")
        valohai.prepare(step="b", image="python:3.9")
        """),
    "assigned result": 'import valohai\nx = valohai.prepare(step="t", image="python:3.9")\n',
    "annotated result": 'import valohai\nx: None = valohai.prepare(step="t", image="python:3.9")\n',
    "inside another call": 'import valohai\nprint(valohai.prepare(step="t", image="python:3.9"))\n',
    "alias import": 'import valohai as vh\nvh.prepare(step="t", image="python:3.9")\n',
    "from import": 'from valohai import prepare\nprepare(step="t", image="python:3.9")\n',
    "from import as": 'from valohai import prepare as p\np(step="t", image="python:3.9")\n',
    "no import at all": 'valohai.prepare(step="t", image="python:3.9")\n',
    "other module's prepare": 'import other\nother.prepare(step="t", image="python:3.9")\n',
    "comment only": '# valohai.prepare(step="t", image="python:3.9")\n',
    "in a string": 'X = "valohai.prepare(step=\'t\', image=\'python:3.9\')"\n',
    "keyword repeated by **": textwrap.dedent("""\
        import valohai
        valohai.prepare(step="t", image="python:3.9", **{"environment": "e"})
        """),
}


@pytest.mark.parametrize("name", SHAPES)
def test_sites_read_are_exactly_what_valohai_utils_reads(name: str) -> None:
    text = SHAPES[name]
    oracle = vh_parse(text)
    step, image = read_by_vh(text)
    assert image == oracle.image
    if image is not None:
        assert step == oracle.step


@pytest.mark.parametrize(("name", "count"), [
    ("alias import", 1), ("from import", 1), ("from import as", 1), ("assigned result", 1),
    ("inside another call", 1), ("two calls, image in both", 2), ("image None", 0),
    ("no image", 0), ("other module's prepare", 0), ("comment only", 0), ("in a string", 0),
])
def test_every_import_form_is_a_site_read_or_not(name: str, count: int) -> None:
    """Every import form is linted; those vh yaml step skips are marked as not read."""
    sites = sites_of(SHAPES[name])
    assert len(sites) == count
    if vh_parse(SHAPES[name]).image is None:
        assert not any(site.read_by_vh for site in sites)


def test_generated_sources_agree_with_valohai_utils() -> None:
    """Every mix of up to three statements in every context agrees with the oracle."""
    statements = [
        'valohai.prepare(step="a", image="python:3.8")',
        'valohai.prepare(step="b")',
        "valohai.prepare(image='python:3.9')",
        'vh.prepare(step="c", image="python:3.10")',
        'x = valohai.prepare(step="d", image="python:3.11")',
        'f(valohai.prepare(step="e", image="python:3.12"))',
        "valohai.prepare(step='f', image=None)",
    ]
    wrappers = ["{}", "def main():\n    {}", "if True:\n    {}", "class A:\n    {}",
                "for i in range(2):\n    {}"]
    checked = 0
    for count in (1, 2, 3):
        for chosen in itertools.permutations(statements, count):
            for wrapper in wrappers:
                body = "\n".join(wrapper.format(s) for s in chosen)
                text = f"import valohai\nimport valohai as vh\n{body}\n"
                oracle = vh_parse(text)
                step, image = read_by_vh(text)
                assert image == oracle.image, text
                if image is not None:
                    assert step == oracle.step, text
                checked += 1
    assert checked > 1000


@pytest.mark.parametrize("name", SHAPES)
def test_span_is_the_literal_as_written(name: str) -> None:
    text = SHAPES[name]
    for site in sites_of(text):
        node = site.node
        assert node is not None
        written = text[node.start : node.end]
        import ast

        assert ast.literal_eval(written) == node.value  # type: ignore[union-attr]
        assert site.yaml_path.startswith("train.py::prepare(step=")
        assert site.yaml_path.endswith(").image")


def test_location_and_owner() -> None:
    (site,) = sites_of(SHAPES["plain"], "src/train.py")
    assert site.yaml_path == "train.py::prepare(step='train').image"
    assert site.owner == "step 'train'"
    (site,) = sites_of(SHAPES["no step"])
    assert site.yaml_path == "train.py::prepare(step='default').image"


def lint(path: str, text: str, table: Optional[dict[str, Any]] = None,
         select: tuple[str, ...] = ("ALL",)) -> list[Any]:
    config = config_from_table(table or {}, "<test>", ".")
    rules = select_rules(select, (), config.ignore)
    _, diagnostics = lint_bytes(path, text.encode(), config, rules)
    return diagnostics


def test_positions_count_code_points_after_non_ascii_text() -> None:
    text = 'import valohai\nvalohai.prepare(step="ünï", image="python:latest")\n'
    (diagnostic,) = [d for d in lint("train.py", text) if d.code == "VIL002"]
    start = diagnostic.span.start
    assert (start.line, start.column) == (2, 1 + text.splitlines()[1].index('"python'))
    assert text[diagnostic.span.start.offset : diagnostic.span.end.offset] == '"python:latest"'


def test_unparseable_python_is_skipped_with_a_note(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "train.py"
    broken.write_text('import valohai\nvalohai.prepare(step="t", image="python"\n')
    latin = tmp_path / "latin.py"
    latin.write_bytes(b'# valohai.prepare\nx = "\xe9"\n')
    code = cli.main(["--format", "concise", str(broken), str(latin)])
    captured = capsys.readouterr()
    assert code == 0
    assert "VIL000" not in captured.out
    assert f"note: {broken}: skipped: not valid Python (line 2)" in captured.err
    assert f"note: {latin}: skipped: file is not valid UTF-8" in captured.err
    assert "Traceback" not in captured.err


def test_files_without_prepare_are_not_parsed(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[str] = []
    real = pysites._parse

    def counting(text: str) -> Any:
        parsed.append(text)
        return real(text)

    monkeypatch.setattr(pysites, "_parse", counting)
    for i in range(50):
        (tmp_path / f"m{i}.py").write_text(f"import os\nprint({i}, 'prepare')\n")
    (tmp_path / "train.py").write_text(SHAPES["plain"])
    (tmp_path / "broken.py").write_text("def (:\n")  # not valohai: never parsed, no note
    from valohai_image_lint.discovery import collect

    assert collect([str(tmp_path)]) == [str(tmp_path / "train.py")]
    assert cli.main(["--format", "concise", "--select", "VIL002", str(tmp_path)]) == 0
    assert parsed == [SHAPES["plain"]]


# ---------------------------------------------------------------------------------------------
# Fixes


FIX_CASES = [
    ("image='python:3.12'", "image='python:3.12-slim'"),
    ('image="python:3.12"', 'image="python:3.12-slim"'),
    ("image='''python:3.12'''", "image='''python:3.12-slim'''"),
    ('image="""python:3.12"""', 'image="""python:3.12-slim"""'),
    ("image=r'python:3.12'", "image=r'python:3.12-slim'"),
    ('image=U"python:3.12"', 'image=U"python:3.12-slim"'),
    ('image=Rb"python:3.12"', 'image=Rb"python:3.12"'),  # bytes: VIL009, no fix
    ('image="python:" "3.12"', 'image="python:" "3.12"'),  # concatenated: not rewritten
    ('image="python:3.12"  # noqa: VIL021', 'image="python:3.12"  # noqa: VIL021'),
    ('image=(\n    "python:3.12"  # the base\n)', 'image=(\n    "python:3.12-slim"  # the base\n)'),
]


@pytest.mark.parametrize(("before", "after"), FIX_CASES)
def test_fix_keeps_quotes_and_prefix(before: str, after: str, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / ".git").mkdir()
    path = tmp_path / "train.py"
    path.write_bytes(f"import valohai\r\nvalohai.prepare(step='t', {before})\r\n".encode())
    code = cli.main(["--fix", "--unsafe-fixes", "--select", "VIL021", "--exit-zero",
                     str(path)])
    assert code == 0
    fixed = path.read_bytes().decode()
    assert fixed == f"import valohai\r\nvalohai.prepare(step='t', {after})\r\n"
    if before != after:
        assert vh_parse(fixed).image == "python:3.12-slim"
    capsys.readouterr()


def test_requote_refuses_what_the_literal_cannot_hold() -> None:
    assert pysites.requote("r", "'", "a'b") is None
    assert pysites.requote("r", '"', "a\\b") is None
    assert pysites.requote("", "'", "a'b") == "'a\\'b'"
    assert pysites.requote("", '"', "a\nb") == '"a\\nb"'
    assert pysites.requote("b", '"', "a") is None
    assert pysites.requote("f", '"', "a") is None


def test_safe_fix_of_private_short_name(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "pyproject.toml").write_text(
        '[tool.valohai-image-lint]\nprivate-registries = ["docker.io/acme/*"]\n')
    path = tmp_path / "train.py"
    path.write_text("import valohai\nvalohai.prepare(step='t', image='acme/app:1.0')\n")
    code = cli.main(["--fix", "--config", str(tmp_path / "pyproject.toml"), str(path)])
    assert path.read_text() == (
        "import valohai\nvalohai.prepare(step='t', image='docker.io/acme/app:1.0')\n")
    assert code == 0


# ---------------------------------------------------------------------------------------------
# VIL008 and valohai-utils' merge rule


def project(tmp_path: Path, yaml_image: str, python: str) -> Path:
    (tmp_path / ".git").mkdir(exist_ok=True)
    (tmp_path / "valohai.yaml").write_text(
        f"- step:\n    name: train\n    image: {yaml_image}\n    command: python train.py\n")
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "src" / "train.py").write_text(python)
    return tmp_path / "src" / "train.py"


def vh_merged_image(yaml_image: str, python: str) -> str:
    """What `vh yaml step` leaves in valohai.yaml: valohai-utils' own merge of the two."""
    from valohai.internals.merge import python_to_yaml_merge_strategy
    from valohai_yaml.objs.config import Config

    parsed = vh_parse(python)
    original = Config.parse([{"step": {"name": "train", "image": yaml_image,
                                       "command": "python train.py"}}])
    generated = Config.parse([{"step": {"name": parsed.step,
                                        "image": parsed.image or DEFAULT_DOCKER_IMAGE,
                                        "command": "python train.py"}}])
    merged = original.merge_with(generated, python_to_yaml_merge_strategy)
    return str(merged.steps["train"].image)


@pytest.mark.parametrize(("yaml_image", "python_line", "kept"), [
    ("python:latest", 'valohai.prepare(step="train", image="python:3.12")', "this one"),
    ("python:3.12", f'valohai.prepare(step="train", image="{DEFAULT_DOCKER_IMAGE}")',
     "the YAML's"),
    ("python:3.12", 'vh.prepare(step="train", image="python:3.10")', "the YAML's"),
    ("python:3.12", 'x = valohai.prepare(step="train", image="python:3.10")', "the YAML's"),
])
def test_vil008_names_the_image_vh_yaml_step_keeps(tmp_path: Path, yaml_image: str,
                                                   python_line: str, kept: str) -> None:
    text = f"import valohai\nimport valohai as vh\n{python_line}\n"
    path = project(tmp_path, yaml_image, text)
    (diagnostic,) = lint(str(path), text, select=("VIL008",))
    python_image = diagnostic.image
    assert diagnostic.message.endswith(f"valohai.yaml:3 ({yaml_image!r})")
    assert diagnostic.help.startswith(f"`vh yaml step` keeps {kept};")
    merged = vh_merged_image(yaml_image, text)
    assert merged == (python_image if kept == "this one" else yaml_image)


def test_vil008_same_image_is_silent_and_nearest_yaml_wins(tmp_path: Path) -> None:
    text = 'import valohai\nvalohai.prepare(step="train", image="python:3.12")\n'
    path = project(tmp_path, "python:3.12", text)
    assert lint(str(path), text, select=("VIL008",)) == []
    (tmp_path / "src" / "valohai.yml").write_text(
        "- step:\n    name: train\n    image: python:3.13\n    command: x\n")
    (diagnostic,) = lint(str(path), text, select=("VIL008",))
    assert "valohai.yml:3 ('python:3.13')" in diagnostic.message


def test_vil008_does_not_look_past_the_git_work_tree(tmp_path: Path) -> None:
    (tmp_path / "valohai.yaml").write_text(
        "- step:\n    name: train\n    image: python:3.13\n    command: x\n")
    inner = tmp_path / "repo"
    (inner / ".git").mkdir(parents=True)
    text = 'import valohai\nvalohai.prepare(step="train", image="python:3.12")\n'
    (inner / "train.py").write_text(text)
    assert lint(str(inner / "train.py"), text, select=("VIL008",)) == []


def run_cli(args: list[str], cwd: Path, stdin: Optional[str] = None) -> \
        subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "valohai_image_lint", *args], cwd=cwd,
                          input=stdin, capture_output=True, text=True, timeout=120,
                          check=False)


def test_stdin_with_a_python_filename(tmp_path: Path) -> None:
    text = 'import valohai\nvalohai.prepare(step="train", image="python:latest")\n'
    project(tmp_path, "python:3.12", "")
    result = run_cli(["--format", "json", "--stdin-filename", "src/train.py", "-"], tmp_path,
                     text)
    items = json.loads(result.stdout)
    assert {(i["code"], i["path"], i["line"], i["column"]) for i in items} >= {
        ("VIL002", "src/train.py", 2, 37), ("VIL008", "src/train.py", 2, 37)}
    assert result.returncode == 1
    result = run_cli(["--fix", "--unsafe-fixes", "--select", "VIL021", "--stdin-filename",
                      "other.py", "-"], tmp_path, text.replace("latest", "3.11"))
    assert result.stdout == text.replace("latest", "3.11-slim")


def test_fix_keeps_python_and_yaml_in_step(tmp_path: Path) -> None:
    text = 'import valohai\nvalohai.prepare(step="train", image="python:3.12")\n'
    path = project(tmp_path, "python:3.12", text)
    args = ["--fix", "--unsafe-fixes", "--select", "VIL021,VIL008"]
    # Only the Python file: its fix would leave valohai.yaml behind, so it is not applied.
    result = run_cli([*args, "src/train.py"], tmp_path)
    assert path.read_text() == text
    assert ("not applied: valohai.yaml:3 names the same image for step 'train' and would not"
            " change with it; fix both files in one run") in result.stderr
    # --diff of both: both change alike, nothing is written.
    result = run_cli([*args[1:], "--diff", "."], tmp_path)
    assert result.stdout.count("+    image: python:3.12-slim") == 1
    assert result.stdout.count('image="python:3.12-slim"') == 1
    assert path.read_text() == text
    # Both files: both change alike, and no VIL008 is left behind.
    result = run_cli([*args, "."], tmp_path)
    assert path.read_text() == text.replace("3.12", "3.12-slim")
    assert "image: python:3.12-slim" in (tmp_path / "valohai.yaml").read_text()
    assert "VIL008" not in result.stdout
    assert result.returncode == 0, result.stdout + result.stderr


def test_fix_refused_when_the_yaml_side_is_suppressed(tmp_path: Path) -> None:
    text = 'import valohai\nvalohai.prepare(step="train", image="python:3.12")\n'
    path = project(tmp_path, "python:3.12", text)
    yaml_path = tmp_path / "valohai.yaml"
    yaml_path.write_text(yaml_path.read_text().replace("python:3.12", "python:3.12  # noqa"))
    result = run_cli(["--fix", "--unsafe-fixes", "--select", "VIL021", "."], tmp_path)
    assert path.read_text() == text
    assert "fix both files in one run" in result.stderr


@pytest.mark.parametrize("fmt", ["full", "concise", "json", "sarif", "github", "gitlab",
                                 "junit", "rdjson", "rdjsonl"])
def test_every_format_reports_python_sites(fmt: str, tmp_path: Path) -> None:
    text = 'import valohai\n\nvalohai.prepare(step="train", image="python:latest")\n'
    project(tmp_path, "python:3.12", text)
    result = run_cli(["--format", fmt, "--color", "never", "src/train.py"], tmp_path)
    assert result.returncode == 1, result.stderr
    out = result.stdout
    assert "src/train.py" in out
    assert "VIL002" in out and "VIL008" in out
    if fmt == "full":
        assert '^^^^^^^^^^^^^^^' in out
    if fmt == "github":
        assert "::error file=src/train.py,line=3,col=37,endLine=3,endColumn=52" in out
    if fmt == "sarif":
        import jsonschema

        schema = json.loads((Path(__file__).parent / "data" / "sarif-2.1.0.json").read_text())
        document = json.loads(out)
        jsonschema.validate(document, schema)
        regions = [r["locations"][0]["physicalLocation"]["region"]
                   for r in document["runs"][0]["results"]]
        assert {"startLine": 3, "startColumn": 37, "endLine": 3, "endColumn": 52} in [
            {k: r[k] for k in ("startLine", "startColumn", "endLine", "endColumn")}
            for r in regions]


def test_configuration_applies_to_python_sources(tmp_path: Path) -> None:
    text = 'import valohai\nvalohai.prepare(step="train", image="python:latest")\n'
    project(tmp_path, "python:latest", text)
    (tmp_path / "pyproject.toml").write_text(
        '[tool.valohai-image-lint]\nper-file-ignores = {"src/*.py" = ["VIL002"]}\n')
    result = run_cli(["--format", "concise", "."], tmp_path)
    lines = result.stdout.splitlines()
    assert any(line.startswith("valohai.yaml:3:12: VIL002") for line in lines)
    assert not any(line.startswith("src/train.py") for line in lines)
    assert os.path.exists(tmp_path / "src" / "train.py")


def test_yaml_fix_waits_for_its_python_partner(tmp_path: Path) -> None:
    """pre-commit with only valohai.yaml changed: fixing it alone would leave train.py behind."""
    text = 'import valohai\nvalohai.prepare(step="train", image="python:3.12")\n'
    path = project(tmp_path, "python:3.12", text)
    yaml_path = tmp_path / "valohai.yaml"
    before = yaml_path.read_text()
    args = ["--fix", "--unsafe-fixes", "--select", "VIL021"]
    result = run_cli([*args, "valohai.yaml"], tmp_path)
    assert yaml_path.read_text() == before
    assert ("not applied: src/train.py names the same image for step 'train' and is not fixed"
            " in this run; fix both files in one run") in result.stderr
    # With both named, both change.
    run_cli([*args, "valohai.yaml", "src/train.py"], tmp_path)
    assert "image: python:3.12-slim" in yaml_path.read_text()
    assert path.read_text() == text.replace("3.12", "3.12-slim")


def test_yaml_fix_is_free_when_python_names_another_image(tmp_path: Path) -> None:
    text = 'import valohai\nvalohai.prepare(step="train", image="python:3.13-slim")\n'
    project(tmp_path, "python:3.12", text)
    run_cli(["--fix", "--unsafe-fixes", "--select", "VIL021", "valohai.yaml"], tmp_path)
    assert "image: python:3.12-slim" in (tmp_path / "valohai.yaml").read_text()


def test_yaml_edited_between_runs_in_one_process(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """An editor or language server lints again after the YAML changed on disk."""
    text = 'import valohai\nvalohai.prepare(step="train", image="python:3.12")\n'
    path = project(tmp_path, "python:3.12", text)
    assert lint(str(path), text, select=("VIL008",)) == []
    (tmp_path / "valohai.yaml").write_text(
        "- step:\n    name: train\n    image: python:3.13\n    command: python train.py\n")
    (diagnostic,) = lint(str(path), text, select=("VIL008",))
    assert "('python:3.13')" in diagnostic.message


def test_lookups_read_stdin_as_python_when_named_so(tmp_path: Path) -> None:
    """The registry pass names stdin as the linting pass does (--verbose shows its wants)."""
    text = 'import valohai\nvalohai.prepare(step="train", image="python:3.12")\n'
    result = run_cli(["--verbose", "--select", "VIL020", "--stdin-filename", "train.py", "-"],
                     tmp_path, text)
    assert "size of python:3.12 unknown" in result.stderr
    assert "VIL000" not in result.stdout


def test_lines_are_python_lines_not_yaml_lines() -> None:
    """U+2028 and NEL inside a string or comment break no Python line."""
    text = ('import valohai\n# a\u2028b\x85c\nX = "d\u2029e"\n'
            'valohai.prepare(step="t", image="python:latest")  # noqa: VIL021\n')
    (diagnostic,) = [d for d in lint("train.py", text) if d.code == "VIL002"]
    start, end = diagnostic.span.start, diagnostic.span.end
    assert (start.line, start.column, end.line, end.column) == (4, 33, 4, 48)
    result = lint("train.py", text.replace("# noqa: VIL021", "# noqa"))
    assert result == []


def _python_builds_the_tree_of(text: str) -> bool:
    """Whether this interpreter's ``ast.parse`` reads the text (in a child process: a
    failure may be a crash of the recursion kind)."""
    script = "import ast, sys; ast.parse(sys.stdin.read())"
    child = subprocess.run([sys.executable, "-c", script], input=text, text=True,
                           capture_output=True, timeout=120)
    return child.returncode == 0


@pytest.mark.parametrize("tail", [
    "x = " + "+".join(["a"] * 100_000) + "\n",  # deeper than the AST builder goes
    "x = " + "lambda: " * 3000 + "1\n",
    "x = " + "f(" * 5000 + ")" * 5000 + "\n",  # past the tokenizer's nesting limit
], ids=["long-sum", "nested-lambdas", "nested-calls"])  # short: pytest puts the id in the
# environment of every child (PYTEST_CURRENT_TEST), where one string may not pass 128 KiB
def test_hostile_python_is_a_note_not_a_crash(tail: str, tmp_path: Path) -> None:
    path = tmp_path / "train.py"
    text = 'import valohai\nvalohai.prepare(step="t", image="python:latest")\n' + tail
    path.write_text(text)
    result = run_cli(["--format", "concise", str(path)], tmp_path)
    assert "Traceback" not in result.stderr
    if _python_builds_the_tree_of(text):
        # Some interpreters go deeper than others (3.10 builds the 100 000-term sum): then
        # the file is linted like any other.
        assert result.returncode == 1, result.stderr
        assert result.stdout.startswith(f"{path}:2:33: VIL002 "), result.stdout
        return
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("note:")]
    assert line.startswith(f"note: {path}: skipped: ")
    assert line.rstrip().endswith(tuple("abcdefghijklmnopqrstuvwxyz)")), line
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("fixture", "kept"), [
    ("mismatch.py", {4: "this one"}),
    ("yaml-kept.py", {6: "the YAML's", 8: "the YAML's", 12: "the YAML's", 14: "the YAML's",
                      17: "the YAML's"}),
])
def test_vil008_fixtures_say_which_image_is_kept(fixture: str, kept: dict[int, str]) -> None:
    """The help of each VIL008 finding of the rule fixtures (which check messages only)."""
    path = Path(__file__).resolve().parent.parent / "fixtures" / "rules" / "VIL008" / fixture
    found = lint(str(path), path.read_text(encoding="utf-8"), select=("VIL008",))
    assert {d.span.start.line: d.help.split(";")[0] for d in found} == {
        line: f"`vh yaml step` keeps {which}" for line, which in kept.items()}
