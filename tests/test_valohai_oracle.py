"""valohai-yaml as the oracle: the linter sees the images Valohai runs and rejects what it rejects.

For every corpus file and for generated files (steps, endpoints, pipelines with overrides,
anchors, aliases, merges at every level, several kind keys, duplicate keys and names, tabs,
tags and other text only libyaml accepts), the linter's image sites (YAML path, owner, image
string) must be exactly the images ``valohai_yaml.parse`` gives, and VIL000 must be reported
exactly when valohai-yaml cannot load the file.

valohai-yaml loads with the installed PyYAML's ``yaml.safe_load``. The linter follows the YAML
spec's merge order (PyYAML <= 6.0.3), so the oracle runs under ``spec_merges()``; on a PyYAML
that regressed it (6.0.4), the images it really gives must be the ones VIL006 announces.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Union

import pytest
import valohai_yaml
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from valohai_yaml.objs import Config

from conftest import examples
from valohai_image_lint.config import Config as LintConfig
from valohai_image_lint.linter import check_sites
from valohai_image_lint.rules import select_rules
from valohai_image_lint.source import SourceError, SourceFile
from yaml_reference import spec_merges

CORPUS = next(
    (
        candidate
        for candidate in (
            Path(__file__).resolve().parents[i] / "shared" / "corpus" / "real-world"
            for i in (2, 3)
        )
        if candidate.is_dir()
    ),
    None,
)
CORPUS_FILES = sorted(CORPUS.glob("*valohai*")) if CORPUS is not None else []

ORDER = ("step", "task", "endpoint", "pipeline", "blueprint", "deployment")
REJECTED = "rejected"
Sites = Union[str, list[tuple[str, str, str]]]

_REGRESSED = tuple(int(p) for p in yaml.__version__.split(".")[:3]) >= (6, 0, 4)


def _owner(kind: str, name: object) -> str:
    return f"{kind} {name!r}" if isinstance(name, str) else kind


def valohai_sites(text: str, spec: bool = True) -> Sites:
    """(yaml_path, owner, image) of each string image Valohai runs, or REJECTED.

    Read from the list that valohai-yaml's loader gives, with valohai-yaml's rules (first kind
    key, last of a name); where ``Config.parse`` accepts the file (it also checks the schema
    of steps and nodes, which is not VIL000's business) its objects must say the same.
    """
    with spec_merges() if spec else _nothing():
        try:
            data = valohai_yaml.utils.read_yaml(text)  # yaml.safe_load
        except (yaml.YAMLError, RecursionError, ValueError, OverflowError):
            return REJECTED
        if data is None:
            return []
        if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
            # Config.parse raises InvalidType (or TypeError for a number at the top level).
            with pytest.raises(TypeError):
                Config.parse(data)
            return REJECTED
        try:
            config: Optional[Config] = valohai_yaml.parse(text, validate=False)
        except (TypeError, KeyError, ValueError, AttributeError):
            config = None  # a schema problem of some step or node
    # Where each kept item is: the last item of a kind and name wins.
    kept: dict[tuple[str, object], tuple[int, str, Any]] = {}
    for index, datum in enumerate(data):
        kind = next((k for k in ORDER if k in datum), None)
        if kind is not None and isinstance(datum[kind], dict):
            namespace = "pipeline" if kind == "blueprint" else kind
            kept[(namespace, datum[kind].get("name"))] = (index, kind, datum[kind])
    sites: list[tuple[str, str, str]] = []
    for (namespace, name), (index, kind, value) in kept.items():
        if namespace in ("step", "endpoint") and isinstance(value.get("image"), str):
            sites.append((f"[{index}].{kind}.image", _owner(namespace, name), value["image"]))
        nodes = value.get("nodes") if namespace == "pipeline" else None
        for j, node in enumerate(nodes if isinstance(nodes, list) else []):
            override = node.get("override") if isinstance(node, dict) else None
            if isinstance(override, dict) and isinstance(override.get("image"), str):
                owner = f"{_owner('pipeline', name)} {_owner('node', node.get('name'))}"
                path = f"[{index}].{kind}.nodes[{j}].override.image"
                sites.append((path, owner, override["image"]))
    if config is not None:
        objects = [(_owner("step", n), s.image) for n, s in config.steps.items()]
        objects += [(_owner("endpoint", n), e.image) for n, e in config.endpoints.items()]
        objects += [
            (f"{_owner('pipeline', n)} {_owner('node', node.name)}", node.override.image)
            for n, p in config.pipelines.items()
            for node in p.nodes
            if getattr(node, "override", None) is not None
        ]
        assert sorted((o, i) for o, i in objects if isinstance(i, str)) == sorted(
            (owner, image) for _, owner, image in sites
        )
    return sorted(sites)


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *args: object) -> None:
        return None


_RULES = select_rules(("ALL",), (), ())


def linter_sites(text: str, regressed: bool = False) -> Sites:
    """The linter's view: its image sites, or REJECTED when it reports VIL000.

    With ``regressed``, each image is the one VIL006 says PyYAML 6.0.4 gives.
    """
    source = SourceFile.from_bytes("valohai.yaml", text.encode("utf-8"))
    diagnostics, checked = check_sites(source, LintConfig(), _RULES)
    if any(d.code == "VIL000" for d in diagnostics):
        return REJECTED
    sites = []
    for c in checked:
        site = c.site
        node: Any = site.other_image if regressed and site.version_dependent else site.node
        if node is not None and node.__class__.__name__ == "Scalar":
            from valohai_image_lint.yamltree import scalar_type

            if scalar_type(node) == "str":
                sites.append((site.yaml_path, site.owner, node.value))
    return sorted(sites)


def assert_agrees(text: str) -> None:
    expected = valohai_sites(text)
    assert linter_sites(text) == expected, text
    if _REGRESSED and expected != REJECTED:
        # The images PyYAML 6.0.4 really gives are the ones VIL006 names.
        real = valohai_sites(text, spec=False)
        assert real != REJECTED
        ours = {path: image for path, _, image in linter_sites(text, regressed=True)}
        for path, _, image in real:
            if path in ours:
                assert ours[path] == image, (path, text)


# --- the corpus ------------------------------------------------------------------------------


@pytest.mark.skipif(not CORPUS_FILES, reason="the real-world corpus is not present")
def test_corpus_agrees_with_valohai_yaml() -> None:
    assert len(CORPUS_FILES) == 152
    images = 0
    for path in CORPUS_FILES:
        text = path.read_bytes().decode("utf-8-sig")
        expected = valohai_sites(text)
        assert linter_sites(text) == expected, path.name
        images += 0 if expected == REJECTED else len(expected)
    # The issue's count of image sites in the corpus, all seen by both.
    assert images >= 440


# --- generated files ------------------------------------------------------------------------

IMAGES = ["python:3.10", "python:3.11-slim", "ubuntu:22.04", "busybox:1.36", "myorg/app:1.0"]
NAMES = ["a", "b", "train"]


@st.composite
def valohai_files(draw: st.DrawFn) -> str:
    """A valohai.yaml built from the features Valohai and the linter may read differently."""
    images = st.sampled_from(IMAGES)
    names = st.sampled_from(NAMES)
    lines: list[str] = ["- defs:"]
    n_img = draw(st.integers(0, 2))
    for k in range(n_img):
        lines.append(f"    img{k}: &img{k} {draw(images)}")
    # Merge sources: each with an image, some merging earlier ones.
    n_src = draw(st.integers(0, 3))
    for k in range(n_src):
        parts = [f"image: {draw(images)}"]
        if k and draw(st.booleans()):
            parts.insert(draw(st.integers(0, 1)), f"<<: *src{draw(st.integers(0, k - 1))}")
        lines.append(f"    src{k}: &src{k} {{{', '.join(parts)}}}")
    # Whole items to merge in at the item level.
    n_item = draw(st.integers(0, 2))
    for k in range(n_item):
        kind = draw(st.sampled_from(["step", "endpoint"]))
        body = _body(kind, draw(names), f"image: {draw(images)}")
        lines.append(f"    item{k}: &item{k} {{{kind}: {{{body}}}}}")
    if len(lines) == 1:
        lines.append("    nothing: 0")

    def image_part() -> str:
        choices = ["literal"]
        if n_img:
            choices.append("alias")
        if n_src:
            choices += ["merge", "merge-list", "merge-list", "merge-list", "merge-and-own"]
        how = draw(st.sampled_from(choices))
        if how == "alias":
            return f"image: *img{draw(st.integers(0, n_img - 1))}"
        if how == "merge":
            return f"<<: *src{draw(st.integers(0, n_src - 1))}"
        if how == "merge-list":
            picks = draw(st.lists(st.integers(0, n_src - 1), min_size=1, max_size=3))
            return "<<: [" + ", ".join(f"*src{p}" for p in picks) + "]"
        if how == "merge-and-own":
            return f"<<: *src{draw(st.integers(0, n_src - 1))}, image: {draw(images)}"
        return f"image: {draw(images)}"

    for _ in range(draw(st.integers(1, 6))):
        shape = draw(st.sampled_from(
            ["step", "step", "endpoint", "pipeline", "two-kinds", "duplicate-key",
             "item-merge", "block-step"]
        ))
        if shape in ("step", "endpoint"):
            lines.append(f"- {shape}: {{{_body(shape, draw(names), image_part())}}}")
        elif shape == "block-step":
            lines.append("- step:")
            lines.append(f"    name: {draw(names)}")
            for part in image_part().split(", "):
                lines.append(f"    {part}")
            lines.append("    command: x")
        elif shape == "pipeline":
            kind = draw(st.sampled_from(["pipeline", "blueprint"]))
            nodes = []
            for j in range(draw(st.integers(0, 3))):
                override = f", override: {{{image_part()}}}" if draw(st.booleans()) else ""
                nodes.append(f"{{name: n{j}, type: execution, step: a{override}}}")
            lines.append(f"- {kind}: {{name: {draw(names)}, nodes: [{', '.join(nodes)}]}}")
        elif shape == "two-kinds":
            first, second = draw(st.permutations(["step", "endpoint"]))
            lines.append(f"- {first}: {{{_body(first, draw(names), image_part())}}}")
            lines.append(f"  {second}: {{{_body(second, draw(names), image_part())}}}")
        elif shape == "duplicate-key":
            lines.append(f"- step: {{{_body('step', draw(names), image_part())}}}")
            lines.append(f"  step: {{{_body('step', draw(names), image_part())}}}")
        elif n_item:
            picks = draw(st.lists(st.integers(0, n_item - 1), min_size=1, max_size=2))
            value = (f"*item{picks[0]}" if len(picks) == 1
                     else "[" + ", ".join(f"*item{p}" for p in picks) + "]")
            lines.append(f"- <<: {value}")
    # Text that only libyaml accepts, now and then.
    noise = draw(st.sampled_from([None] * 25 + list(_NOISE)))
    if noise is not None:
        at = draw(st.integers(1, len(lines)))
        lines = _NOISE[noise](lines, at)
    return "\n".join(lines) + "\n"


def _body(kind: str, name: str, image: str) -> str:
    command = ", command: x" if kind == "step" else ""
    return f"name: {name}, {image}{command}"


def _append(suffix: str) -> Any:
    def apply(lines: list[str], at: int) -> list[str]:
        return [*lines[:at - 1], lines[at - 1] + suffix, *lines[at:]]
    return apply


def _insert(line: str) -> Any:
    def apply(lines: list[str], at: int) -> list[str]:
        return [*lines[:at], line, *lines[at:]]
    return apply


def _tab_after_comma(lines: list[str], at: int) -> list[str]:
    return [*lines[:at - 1], lines[at - 1].replace(", ", ",\t", 1), *lines[at:]]


_NOISE = {
    "trailing-tab": _append("\t"),
    "tab-after-comma": _tab_after_comma,
    "tab-comment": _append(" \t# note"),
    "unknown-tag": _insert("- deployment: {name: d, defaults: !ref x}"),
    "str-tag": _insert("- step: {name: tagged, image: !!str python:3.12-slim, command: x}"),
    "bare-tag": _insert("- step: {name: bare, image: ! 'python:3.12-slim', command: x}"),
    "merge-tag": _insert("- step: {name: mt, !!merge '<<': {image: python:3.9}, command: x}"),
    "str-merge": _insert("- step: {name: sm, image: x:1, !!str <<: {image: y:1}, command: x}"),
    "bad-merge": _insert("- step: {name: bm, image: x:1, command: x, <<: 5}"),
    "string-item": _insert("- just a string"),
    "list-item": _insert("- [a, b]"),
    "null-item": _insert("-"),
    "bad-date": _insert("- deployment: {name: d, defaults: {when: 2024-02-30}}"),
    "good-date": _insert("- deployment: {name: d, defaults: {when: 2024-02-28}}"),
    "value-tag": _insert("- deployment: {name: d, defaults: {x: =}}"),
    "duplicate-anchor": _insert("- deployment: {name: d, defaults: {a: &img0 x, b: &img0 y}}"),
    "unhashable": _insert("- deployment: {name: d, defaults: {[a]: 1}}"),
}


@settings(max_examples=examples(500), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valohai_files())
def test_generated_files_agree_with_valohai_yaml(text: str) -> None:
    assert_agrees(text)


# --- each case of the issue, spelled out -------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "- <<: {step: {name: s, image: python:3.10, command: x}}\n",
        "- <<: {pipeline: {name: p, nodes: [{name: n, type: execution, step: s,"
        " override: {image: python:3.9}}]}}\n",
        "- {endpoint: {name: e, image: python:3.9}, step: {name: s, image: python:3.8,"
        " command: x}}\n",
        "- step: {name: a, image: python:3.8, command: x}\n  step: {name: b, image: x:1,"
        " command: x}\n",
        "- step: {name: a, image: python:3.8, command: x}\n- step: {name: a, image: x:1,"
        " command: x}\n",
        "- d: {a: &a {image: a:1}, b: &b {image: b:1}}\n- step: {name: s, <<: [*a, *b],"
        " command: x}\n",
        "- step: {name: s, !!merge '<<': {image: python:3.9}, command: x}\n",
        "- step: {name: s, image: x:1, !!str <<: {image: y:1}, command: x}\n",
        "- step: {name: s, image: python:3.11\t, command: x}\n",
        "- step: {name: s,\timage: python:3.11, command: x}\n",
        "- step: {name: s, image: python:3.11, command: !ref x}\n",
        "- step: {name: s, image: python:3.11, command: x, <<: 5}\n",
        "- just a string\n",
        "- step: {name: s, image: python:3.11, command: x}\n- step: " + "[" * 495
        + "]" * 495 + "\n",
    ],
)
def test_issue_cases_agree_with_valohai_yaml(text: str) -> None:
    assert_agrees(text)


def test_generated_files_exercise_every_answer() -> None:
    """The generator is not vacuous: it makes files Valohai rejects, files it loads, and
    files with version-dependent merges and ignored parts."""
    found = {REJECTED: 0, "loaded": 0, "VIL006": 0, "VIL007": 0}
    for text in _samples():
        found[REJECTED if valohai_sites(text) == REJECTED else "loaded"] += 1
        source = SourceFile.from_bytes("valohai.yaml", text.encode("utf-8"))
        for diagnostic in check_sites(source, LintConfig(), _RULES)[0]:
            if diagnostic.code in found:
                found[diagnostic.code] += 1
    assert found[REJECTED] >= 3 and found["loaded"] >= 20, found
    assert found["VIL006"] >= 2 and found["VIL007"] >= 5, found


def _samples() -> list[str]:
    samples: list[str] = []

    @settings(max_examples=100, deadline=None, database=None, derandomize=True)
    @given(valohai_files())
    def collect(text: str) -> None:
        samples.append(text)

    collect()
    return samples


def test_tabs_outside_values_are_not_rejected() -> None:
    # A tab inside a quoted value or a comment is fine for both loaders: no VIL000.
    text = "- step: {name: s, image: 'python:3.11', command: 'a\tb'}  # x\ty\n"
    assert linter_sites(text) == valohai_sites(text) != REJECTED


# --- the trigger: the pure-Python loader runs only when it can disagree -----------------------

_BASE = (
    "- defs:\n    img: &img python:3.11-slim\n    src: &src {image: 'busybox:1.36', x: [1, 2]}\n"
    "- step:\n    name: train\n    image: *img\n    command:\n      - python train.py\n"
    "    parameters:\n      - {name: lr, default: 0.1}\n"
    "- endpoint: {name: serve, <<: *src, description: \"a b\"}\n"
    "- pipeline:\n    name: p\n    nodes:\n      - name: n\n        type: execution\n"
    "        step: train\n        override: {image: 'python:3.12-slim'}\n"
)
_BASE_BLOCKS = (
    "# a comment: with ? and ! and = in it\n"
    "- step:\n    name: b\n    image: 'python:3.11-slim'\n    command: |\n"
    "      echo \"hi\"  # not a comment\n      python x.py\n"
    "    description: >-\n      folded text\n    parameters:\n      - name: p\n"
    "        default: [1,\n          2]\n        description: \"quoted # text\"\n"
    "- endpoint:\n    name: e\n    image: \"python:3.12-slim\"  # comment\n"
)
_ALPHABET = "\t !&*%?=:[]{}<>-#|'\",0b_x2024-13-45\n"


@st.composite
def mutated(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from([_BASE, _BASE_BLOCKS]))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        chunk = draw(st.text(st.sampled_from(_ALPHABET), min_size=1, max_size=4))
        text = text[:at] + chunk + text[at:]
    return text


@settings(max_examples=examples(500), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_linter_rejects_exactly_what_pure_python_pyyaml_rejects(text: str) -> None:
    """On mutations of a valid file: VIL000 whenever, and only when, Valohai's loader fails
    (or libyaml does), so the trigger never lets a file Valohai rejects through."""
    try:
        with spec_merges():
            yaml.safe_load(text)
            rejected = False
    except (yaml.YAMLError, RecursionError, ValueError, OverflowError, TypeError):
        rejected = True
    try:
        source = SourceFile.from_bytes("valohai.yaml", text.encode("utf-8"))
    except SourceError:  # a NUL byte: VIL000 before any YAML is read
        return
    diagnostics, _ = check_sites(source, LintConfig(), _RULES)
    vil000 = [d for d in diagnostics if d.code == "VIL000"]
    if rejected:
        assert vil000, text
    elif vil000:
        # Only what valohai-yaml rejects after loading: a top level or item that is not a
        # mapping; or what libyaml rejects and PyYAML accepts.
        message = vil000[0].message
        assert not message.startswith("Valohai cannot load this"), (message, text)
