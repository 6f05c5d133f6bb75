"""Property tests: fixes change the image scalars and not one byte besides.

Configs are generated in many layouts (indentation, quoting, CRLF or LF, BOM, comments,
flow style, blank lines, anchors and aliases, a missing final newline). Each generated
config is a list of segments: literal text, and images with the text each must become.
The fixed file must be exactly the segments joined with the expected images.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Union

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import examples
from valohai_image_lint.config import Config
from valohai_image_lint.fixes import fix_source
from valohai_image_lint.linter import lint_source
from valohai_image_lint.model import find_image_sites
from valohai_image_lint.rules import quote_like, select_rules
from valohai_image_lint.source import SourceFile
from valohai_image_lint.yamltree import Scalar, Sequence, parse, scalar_type

DIGEST = "sha256:" + "4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945"

# (as written, after a safe fix, after safe and unsafe fixes)
IMAGES = [
    ("myorg/app:1", "docker.io/myorg/app:1", "docker.io/myorg/app:1"),
    ("index.docker.io/myorg/app:2-gpu", "docker.io/myorg/app:2-gpu",
     "docker.io/myorg/app:2-gpu"),
    (f"myorg/tools/x:3@{DIGEST}", f"docker.io/myorg/tools/x:3@{DIGEST}",
     f"docker.io/myorg/tools/x:3@{DIGEST}"),
    ("python:3.11", "python:3.11", "python:3.11-slim"),
    ("python:3-bookworm", "python:3-bookworm", "python:3-slim-bookworm"),
    ("nvidia/cuda:12.1.0-cudnn8-devel-ubuntu22.04", "nvidia/cuda:12.1.0-cudnn8-devel-ubuntu22.04",
     "nvidia/cuda:12.1.0-cudnn8-runtime-ubuntu22.04"),
    ("tensorflow/tensorflow:2.15.0-gpu-jupyter", "tensorflow/tensorflow:2.15.0-gpu-jupyter",
     "tensorflow/tensorflow:2.15.0-gpu"),
    ("docker.io/myorg/app:1", "docker.io/myorg/app:1", "docker.io/myorg/app:1"),
    ("ghcr.io/someone/app:1.2", "ghcr.io/someone/app:1.2", "ghcr.io/someone/app:1.2"),
    ("python:3.11-slim", "python:3.11-slim", "python:3.11-slim"),
]

CONFIG = Config(private_registries=("docker.io/myorg/*",))
RULES = select_rules(None, (), ())


@dataclass(frozen=True)
class Image:
    written: str
    safe: str
    unsafe: str
    quote: str  # "", "'" or '"'

    def text(self, value: str) -> str:
        return f"{self.quote}{value}{self.quote}"


Segment = Union[str, Image]

# Comment text: anything printable on one line, but never a noqa that would hide a finding.
comment_text = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"),
                  blacklist_characters="\ufeff\x85"),
    max_size=20,
).filter(lambda s: "noqa" not in s.lower())
names = st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True)


@st.composite
def comment(draw: st.DrawFn) -> str:
    return "#" + draw(comment_text)


@st.composite
def image(draw: st.DrawFn) -> Image:
    written, safe, unsafe = draw(st.sampled_from(IMAGES))
    return Image(written, safe, unsafe, draw(st.sampled_from(["", "'", '"'])))


@st.composite
def layout(draw: st.DrawFn) -> tuple[list[Segment], bool, bool]:
    """Segments of a config, whether it has a BOM, and whether unsafe fixes are on."""
    nl = draw(st.sampled_from(["\n", "\r\n"]))
    indent = " " * draw(st.sampled_from([3, 4, 6]))  # deeper than the item key at column 2
    segments: list[Segment] = []
    anchors: list[str] = []

    def line(*parts: Segment) -> None:
        segments.extend(parts)
        if draw(st.booleans()) and draw(st.integers(0, 3)) == 0:
            segments.append(" " * draw(st.integers(1, 3)) + draw(comment()))
        segments.append(nl)

    if draw(st.booleans()):
        line(draw(comment()))
    for index in range(draw(st.integers(1, 6))):
        for _ in range(draw(st.integers(0, 2))):
            segments.append(" " * draw(st.integers(0, 3)) + nl)  # blank lines, some with spaces
        if draw(st.integers(0, 4)) == 0:
            line(draw(comment()))
        # Unique: of two items with one name Valohai reads (and the linter fixes) the last.
        name = f"{draw(names)}-{index}"
        key = draw(st.sampled_from(["image", "'image'", '"image"']))
        anchor = ""
        if draw(st.integers(0, 3)) == 0:
            anchor = f"&img{index} "
        use_alias = anchors and draw(st.integers(0, 3)) == 0
        value: list[Segment] = [f"*{draw(st.sampled_from(anchors))}"] if use_alias else \
            [anchor, draw(image())]
        if anchor and not use_alias:
            anchors.append(f"img{index}")
        style = draw(st.sampled_from(["block", "flow", "flow-wrapped", "pipeline"]))
        if style == "block":
            line("- step:")
            line(f"{indent}name: {name}")
            line(f"{indent}{key}:", " " * draw(st.integers(1, 3)), *value)
            line(f"{indent}command: python train.py")
        elif style == "flow":
            line("- step: {", f"name: {name}, {key}: ", *value, ", command: [python, a.py]}")
        elif style == "flow-wrapped":
            line("- step:")
            line(f"{indent}{{name: {name},")
            line(f"{indent} {key}: ", *value, "}")
        else:
            line("- pipeline:")
            line(f"{indent}name: {name}")
            line(f"{indent}nodes:")
            line(f"{indent}- name: n")
            line(f"{indent}  type: execution")
            line(f"{indent}  step: s")
            line(f"{indent}  override: {{{key}: ", *value, "}")
    if draw(st.booleans()) and segments[-1] == nl:
        segments.pop()  # no final newline
    return segments, draw(st.booleans()), draw(st.booleans())


def render(segments: list[Segment], pick: Optional[str]) -> str:
    out = []
    for segment in segments:
        if isinstance(segment, Image):
            value = segment.written if pick is None else getattr(segment, pick)
            out.append(segment.text(value))
        else:
            out.append(segment)
    return "".join(out)


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layout())
def test_only_the_image_scalars_change(generated: tuple[list[Segment], bool, bool]) -> None:
    segments, bom, unsafe = generated
    original = render(segments, None)
    expected = render(segments, "unsafe" if unsafe else "safe")
    prefix = b"\xef\xbb\xbf" if bom else b""
    source = SourceFile.from_bytes("valohai.yaml", prefix + original.encode("utf-8"))
    outcome = fix_source(source, lambda s: lint_source(s, CONFIG, RULES), unsafe=unsafe)

    assert outcome.rejected == []
    assert outcome.converged
    assert outcome.fixed_bytes() == prefix + expected.encode("utf-8")
    # The result parses, and every image reads back as the value the fix meant.
    sites = find_image_sites(parse(outcome.fixed.text).root)
    wanted = [s for s in segments if isinstance(s, Image)]
    values = {site.node.value for site in sites if isinstance(site.node, Scalar)}
    assert values == {getattr(w, "unsafe" if unsafe else "safe") for w in wanted}
    # Nothing fixable is left that was meant to be fixed.
    assert not [d for d in outcome.remaining if d.fix is not None and
                (unsafe or d.fix.applicability.value == "safe")]


# ---------------------------------------------------------------------------------------------
# quote_like: whatever the value, the written text reads back as that string


def _node(text: str) -> Scalar:
    root = parse(text).root
    assert isinstance(root, Sequence)
    node = root.items[0]
    assert isinstance(node, Scalar)
    return node


PLAIN, SINGLE, DOUBLE = _node("- a\n"), _node("- 'a'\n"), _node('- "a"\n')

values = st.one_of(
    st.text(st.sampled_from("abc019:/@._-#' \",[]{}&*!|>%`?"), min_size=1, max_size=12),
    st.text(min_size=1, max_size=8).filter(lambda s: "\ufeff" not in s),
    st.sampled_from(["3.10", "yes", "null", "~", "1:20", "- x", "a: b", "a #b", "0x1f",
                     "python:3.11", "docker.io/myorg/app:1", " lead", "trail "]),
)


@settings(max_examples=examples(300), deadline=None)
@given(values, st.sampled_from([PLAIN, SINGLE, DOUBLE]))
def test_quote_like_reads_back_as_the_same_string(value: str, node: Scalar) -> None:
    content = quote_like(node, value)
    assert content is not None
    for wrapper in ("- {}\n", "[{}]\n", "k: {}  # comment\n", "{{k: {}}}\n"):
        root = parse(wrapper.format(content)).root
        read = root.items[0] if isinstance(root, Sequence) else root.pairs[0][1]  # type: ignore[union-attr]
        assert isinstance(read, Scalar)
        assert read.value == value
        assert scalar_type(read) == "str"
    if node is SINGLE and content.startswith('"'):
        # Only what single quotes cannot hold: line breaks and non-printable characters.
        assert any(c in "\n\r\x85\u2028\u2029" or not (
            0x20 <= ord(c) <= 0x7E or 0xA0 <= ord(c) <= 0xD7FF or 0xE000 <= ord(c) <= 0xFFFD
            or ord(c) >= 0x10000) for c in value)
    elif node is not PLAIN:
        assert content[0] == content[-1] == ('"' if node is DOUBLE else "'")


def test_quote_like_keeps_plain_when_plain_reads_back() -> None:
    assert quote_like(PLAIN, "docker.io/myorg/app:1") == "docker.io/myorg/app:1"
    assert quote_like(PLAIN, "3.10") == "'3.10'"
    assert quote_like(PLAIN, "it's #1") == "'it''s #1'"
    assert quote_like(SINGLE, "a\nb") == '"a\\nb"'
    assert quote_like(DOUBLE, 'say "hi" \\ \t') == '"say \\"hi\\" \\\\ \\t"'
    assert quote_like(_node("- |\n  a\n"), "b") is None
