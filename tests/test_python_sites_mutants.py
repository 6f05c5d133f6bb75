"""Python image sites, pinned exactly and in-process (issue 16's mutation score).

``test_python_sites.py`` holds the sites against valohai-utils and drives the command line,
much of it in a child process; here each behaviour of ``sites.python`` that a user (or a
library caller of ``find_sites``) can see is pinned by a direct call: every field of a site,
which calls are sites and in which order, the paths and owners shown, the VIL009 message for
each kind of non-literal, how literals are read back and rewritten (``requote``), the notes
for sources Python cannot parse, comments for noqa, and the fix verification values.
"""

from __future__ import annotations

import ast
import sys
from typing import Any

import pytest

from valohai_image_lint.config import config_from_table
from valohai_image_lint.linter import lint_bytes
from valohai_image_lint.rules import select_rules
from valohai_image_lint.sites import project as pairing
from valohai_image_lint.sites import python as pysites
from valohai_image_lint.source import SourceFile

HEAD = "import valohai\n"


@pytest.fixture(autouse=True)
def _fresh_yaml_state() -> Any:
    pairing.forget_yaml_texts()
    yield
    pairing.forget_yaml_texts()


def sites_of(text: str, path: str = "train.py") -> list[pysites.PythonImageSite]:
    return pysites.find_sites(SourceFile(path, text))


def one_site(text: str, path: str = "train.py") -> pysites.PythonImageSite:
    (site,) = sites_of(text, path)
    return site


def string_node(site: pysites.PythonImageSite) -> pysites.PythonString:
    assert isinstance(site.node, pysites.PythonString)
    return site.node


def lint(text: str, select: tuple[str, ...] = ("ALL",), path: str = "train.py") -> list[Any]:
    config = config_from_table({}, "<test>", ".")
    rules = select_rules(select, (), config.ignore)
    _, diagnostics = lint_bytes(path, text.encode(), config, rules)
    return diagnostics


# ---------------------------------------------------------------------------------------------
# The site record


def test_every_field_of_a_literal_site() -> None:
    text = HEAD + 'valohai.prepare(step="train", image="python:3.12")\n'
    site = one_site(text, "src/train.py")
    start = text.index('"python')
    assert (site.kind, site.yaml_path, site.owner) == (
        "step", "train.py::prepare(step='train').image", "step 'train'")
    assert (site.step, site.read_by_vh, site.vh_step, site.not_literal) == (
        "train", True, "train", None)
    assert (site.image_key, site.via_alias, site.required, site.version_dependent) == (
        None, False, False, False)
    assert (site.other_image, site.merge_key, site.written) == (None, None, None)
    node = string_node(site)
    assert site.anchor_node is node
    assert (node.start, node.end, node.value) == (start, start + len('"python:3.12"'),
                                                 "python:3.12")
    assert (node.prefix, node.quote, node.simple, node.style) == ("", '"', True, '"')
    assert (node.tag, node.anchor, node.plain) == (None, None, False)


def test_a_site_vh_yaml_step_does_not_read_has_no_vh_step() -> None:
    site = one_site('import valohai as vh\nvh.prepare(step="train", image="python:3.12")\n')
    assert (site.step, site.read_by_vh, site.vh_step) == ("train", False, None)
    assert site.owner == "step 'train'"


def test_every_field_of_a_non_literal_site() -> None:
    text = HEAD + 'valohai.prepare(step="train", image=IMAGE)\n'
    site = one_site(text)
    start = text.index("IMAGE")
    assert site.node is None
    anchor = site.anchor_node
    assert isinstance(anchor, pysites.Scalar)
    assert (anchor.start, anchor.end, anchor.value) == (start, start + 5, "IMAGE")
    assert (anchor.tag, anchor.anchor) == (None, None)
    assert (site.kind, site.yaml_path, site.not_literal, site.required, site.via_alias) == (
        "step", "train.py::prepare(step='train').image", "a variable", False, False)
    assert (site.read_by_vh, site.vh_step) == (True, "train")


def test_a_python_string_is_a_string_whatever_it_says() -> None:
    """Quoted: "null" or "1.5" is not read as a YAML null or float (no VIL005)."""
    for image in ('"null"', "'1.5'", '"""true"""', "'''~'''", 'r"0x10"'):
        text = HEAD + f'valohai.prepare(step="train", image={image})\n'
        assert [d.code for d in lint(text, select=("VIL005",))] == [], image
        assert string_node(one_site(text)).style == image.lstrip("r")[0]


# ---------------------------------------------------------------------------------------------
# Which calls are sites


@pytest.mark.parametrize("text", [
    "from valohai.prepare_impl import prepare\nprepare(step='t', image='python:3.12')\n",
    "from valohai import prepare\nprepare(step='t', image='python:3.12')\n",
    "from valohai import x, prepare as p\np(step='t', image='python:3.12')\n",
    "import os, valohai as v\nv.prepare(step='t', image='python:3.12')\n",
    "valohai.prepare(step='t', image='python:3.12')\n",  # no import: the name is enough
])
def test_calls_that_are_sites(text: str) -> None:
    site = one_site(text)
    assert string_node(site).value == "python:3.12"
    assert site.yaml_path == "train.py::prepare(step='t').image"


@pytest.mark.parametrize("text", [
    "from other import prepare\nprepare(step='t', image='python:3.12')\n",
    "from .valohai import prepare\nprepare(step='t', image='python:3.12')\n",
    "from . import prepare\nprepare(step='t', image='python:3.12')\n",
    "from valohai import prepare_all\nprepare_all(step='t', image='python:3.12')\n",
    "from valohai import prepare as p\nprepare(step='t', image='python:3.12')\n",
    "import numpy as np, valohai\nnp.prepare(step='t', image='python:3.12')\n",
    "import valohai.utils as vu\nvu.prepare(step='t', image='python:3.12')\n",
    "import valohai\nx.valohai.prepare(step='t', image='python:3.12')\n",
    "import valohai\nvalohai.other(step='t', image='python:3.12')\n",
    "import valohai\nvalohai.prepare.x(step='t', image='python:3.12')\n",
    "from valohai import prepare\nprepares[0](step='t', image='python:3.12')\n",
    "from valohai import prepare\nother(step='t', image='python:3.12')\n",
    "import valohai\nvalohai.prepare('python:3.12')\n",
    "import valohai\nvalohai.prepare(step='t')\n",
    "import valohai\nvalohai.prepare(step='t', image=None)\n",
    "import valohai\nvalohai.prepare(step='t', image=(None))\n",
    "import valohai\nvalohai.prepare(step='t', images='python:3.12')\n",
    "import valohai\n# valohai.prepare(step='t', image='python:3.12')\n",
])
def test_calls_that_are_not_sites(text: str) -> None:
    assert sites_of(text) == []


def test_sites_come_in_file_order_whatever_the_nesting() -> None:
    text = HEAD + (
        "def main():\n"
        "    valohai.prepare(step='a', image='python:3.1')\n"
        "f(valohai.prepare(step='b', image='python:3.2')); "
        "valohai.prepare(step='c', image='python:3.3')\n"
        "valohai.prepare(step='d', image='python:3.4')\n")
    assert [s.step for s in sites_of(text)] == ["a", "b", "c", "d"]
    assert [s.read_by_vh for s in sites_of(text)] == [False, False, False, True]


def test_repeated_step_names_are_numbered() -> None:
    text = HEAD + "".join(f"valohai.prepare(step='t', image='python:3.{i}')\n" for i in range(3))
    text += "valohai.prepare(step='u', image='python:3.9')\n"
    assert [s.yaml_path for s in sites_of(text)] == [
        "train.py::prepare(step='t').image", "train.py::prepare(step='t')[2].image",
        "train.py::prepare(step='t')[3].image", "train.py::prepare(step='u').image"]


@pytest.mark.parametrize(("step", "shown", "owner"), [
    ("STEP", "STEP", "step"),
    ("1", "1", "step"),
    ("'a' * 70", "'a' * 70", "step"),
    ("'t'.upper()", "'t'.upper()", "step"),
    (repr("s" * 60), repr("s" * 60), f"step {'s' * 60!r}"),
    (repr("s" * 61), repr("s" * 61), f"step {'s' * 40 + '...(61 characters)'!r}"),
])
def test_step_names_as_shown(step: str, shown: str, owner: str) -> None:
    site = one_site(HEAD + f"valohai.prepare(step={step}, image='python:3.12')\n", "a/b/run.py")
    assert site.yaml_path == f"run.py::prepare(step={shown}).image"
    assert site.owner == owner
    assert site.step == (None if owner == "step" else ast.literal_eval(step))
    assert site.vh_step == site.step  # read by vh yaml step, under a string name only


def test_a_call_without_step_is_the_default_step() -> None:
    site = one_site(HEAD + "valohai.prepare(image='python:3.12')\n")
    assert (site.yaml_path, site.owner) == ("train.py::prepare(step='default').image",
                                           "step 'default'")
    assert (site.step, site.vh_step) == ("default", "default")


def test_calls_without_an_image_before_one_with_an_image() -> None:
    text = HEAD + ("valohai.prepare(step='a')\n"
                   "valohai.prepare(step='b', image=None)\n"
                   "valohai.prepare(step='c', image='python:3.12')\n")
    site = one_site(text)
    assert (site.step, site.read_by_vh, site.vh_step) == ("c", True, "c")


def test_vh_step_is_the_last_step_name_of_the_calls_vh_yaml_step_reads() -> None:
    text = HEAD + ("valohai.prepare(step='a', image='python:3.1')\n"
                   "valohai.prepare(step='b', default_parameters={})\n"
                   "valohai.prepare(default_parameters={})\n")
    site = one_site(text)
    assert (site.step, site.read_by_vh, site.vh_step) == ("a", True, "default")


def test_no_call_vh_yaml_step_reads_leaves_every_site_unread() -> None:
    text = ("import valohai as vh\nvh.prepare(step='a', image='python:3.1')\n"
            "valohai.prepare(step='b')\n")
    site = one_site(text)
    assert (site.read_by_vh, site.vh_step) == (False, None)


# ---------------------------------------------------------------------------------------------
# Non-literal images: VIL009


@pytest.mark.parametrize(("image", "message"), [
    ("IMAGE", "IMAGE is a variable, not a literal string"),
    ("f'py{X}'", "f'py{X}' is an f-string, not a literal string"),
    ("cfg.image", "cfg.image is an attribute, not a literal string"),
    ("get()", "get() is a call, not a literal string"),
    ("'a' + X", "'a' + X is an expression, not a literal string"),
    ("images[0]", "images[0] is a subscript, not a literal string"),
    ("lambda: 'x'", "lambda: 'x' is an expression, not a literal string"),
    ("('a' if X else 'b')", "'a' if X else 'b' is an expression, not a literal string"),
    ("3", "3 is an int literal, not a string"),
    ("3.5", "3.5 is a float literal, not a string"),
    ("b'x'", "b'x' is a bytes literal, not a string"),
    ("('a', 'b')", "('a', 'b') is a tuple literal, not a string"),
    ("...", "... is an ellipsis literal, not a string"),
])
def test_vil009_says_what_the_image_is(image: str, message: str) -> None:
    text = HEAD + f"valohai.prepare(step='t', image={image})\n"
    (diagnostic,) = lint(text, select=("VIL009",))
    assert diagnostic.message == message
    written = image[1:-1] if image.startswith("('a' if") else image
    start = text.index(written)
    assert (diagnostic.span.start.offset, diagnostic.span.end.offset) == (
        start, start + len(written))
    assert diagnostic.yaml_path == "train.py::prepare(step='t').image"
    assert lint(text, select=("VIL005",)) == []  # not required: no "has no image"


# ---------------------------------------------------------------------------------------------
# Positions


def test_positions_after_non_ascii_text_on_the_last_line_without_a_newline() -> None:
    text = HEAD + 'valohai.prepare(step="ünï", image="python:latest")'
    node = string_node(one_site(text))
    start = text.index('"python')
    assert (node.start, node.end) == (start, start + len('"python:latest"'))


def test_positions_of_a_literal_over_several_lines_after_non_ascii_text() -> None:
    text = HEAD + 'valohai.prepare(step="ü", image="""python:\nlatest""", x="é")\n'
    node = string_node(one_site(text))
    start = text.index('"""')
    assert (node.start, node.end) == (start, text.index(', x='))
    assert node.value == "python:\nlatest"


def test_python_line_starts() -> None:
    assert pysites.python_line_starts("a\nb\r\nc\rd\u2028e\x85f") == [0, 2, 5, 7]
    assert pysites.python_line_starts("") == [0]


# ---------------------------------------------------------------------------------------------
# Sources Python cannot read


@pytest.mark.parametrize(("text", "message"), [
    (HEAD + "valohai.prepare(step='t', image='p'\n",
     "not valid Python (line 2): '(' was never closed"),
    # Python 3.10's parser raises ValueError for a NUL byte; 3.11 and later SyntaxError.
    (HEAD + "valohai.prepare(\0)\n",
     ("not valid Python" if sys.version_info >= (3, 11) else "not Python that can be parsed")
     + ": source code string cannot contain null bytes"),
    (HEAD + "valohai.prepare(image='\ud800')\n",
     "not Python that can be parsed: 'utf-8' codec can't encode character '\\ud800' in"
     " position 38: surrogates not allowed"),
    # Deeper than CPython's parser goes (3.11), or than valohai-utils' recursive visitor goes
    # when the parser builds it: the same note either way.
    (HEAD + "valohai.prepare(image='p')\n" + "+".join(["a"] * 5000) + "\n",
     "nested too deeply for Python's parser"),
    (HEAD + "valohai.prepare(image='p')\n" + "+".join(["a"] * 1000) + "\n",
     "nested too deeply for Python's parser"),
])
def test_unreadable_python_raises_not_python(text: str, message: str) -> None:
    with pytest.raises(pysites.NotPython) as caught:
        sites_of(text)
    assert caught.value.message == message
    assert str(caught.value) == message


def test_unreadable_python_without_valohai_is_not_parsed() -> None:
    for text in ("prepare(\n", "valohai(\n", "def (:\n", "x = valohai + \0"):
        assert sites_of(text) == []


def test_may_hold_sites_needs_both_words_in_text_and_bytes() -> None:
    for data in ("valohai.prepare", "import valohai\nprepare()", "prepare valohai"):
        assert pysites.may_hold_sites(data)
        assert pysites.may_hold_sites(data.encode())
    for data in ("", "valohai", "prepare", "Valohai.prepare", "valohai.Prepare"):
        assert not pysites.may_hold_sites(data)
        assert not pysites.may_hold_sites(data.encode())


def test_is_python_path() -> None:
    assert pysites.is_python_path("src/train.py")
    assert not pysites.is_python_path("train.pyc")
    assert not pysites.is_python_path("valohai.yaml")
    assert not pysites.is_python_path("train.PY")


# ---------------------------------------------------------------------------------------------
# Literals as written, and rewritten


@pytest.mark.parametrize(("image", "prefix", "quote", "simple"), [
    ("'python:3.12'", "", "'", True),
    ('"python:3.12"', "", '"', True),
    ("'''python:3.12'''", "", "'''", True),
    ('"""python:3.12"""', "", '"""', True),
    ("r'python:3.12'", "r", "'", True),
    ('U"python:3.12"', "U", '"', True),
    ("''", "", "'", True),
    ('""""""', "", '"""', True),
    ("'''py\nthon'''", "", "'''", True),
    ("'py\\'thon'", "", "'", True),
    ('"py\\\\thon"', "", '"', True),
    ("'''py'thon'''", "", "'''", True),
    ('"python" ":3.12"', "", '"', False),
    ('"python" \':3.12\'', "", '"', False),
    ("'''py''' ''':3'''", "", "'''", False),
    ('("python"\n ":3.12")', "", '"', False),
    ('("python"\n      ":3"\n   ".12")', "", '"', False),  # tokenize: a bad dedent
    ("r'py' r'thon'", "r", "'", False),
    ("'''python:3.12'''''", "", "'''", False),  # and '': concatenated, though it looks one
    ('"""python:3.12"""""', "", '"""', False),
])
def test_literal_as_written(image: str, prefix: str, quote: str, simple: bool) -> None:
    text = HEAD + f"valohai.prepare(step='t', image={image})\n"
    node = string_node(one_site(text))
    written = image[1:-1] if image.startswith("(") else image
    assert text[node.start : node.end] == written
    assert (node.prefix, node.quote, node.simple, node.style) == (prefix, quote, simple,
                                                                   quote[0])
    assert node.value == ast.literal_eval(f"({written})")
    rewritten = node.rewrite("python:3.12-slim")
    if simple:
        assert rewritten == f"{prefix}{quote}python:3.12-slim{quote}"
    else:
        assert rewritten is None


@pytest.mark.parametrize(("prefix", "quote", "value", "written"), [
    ("", '"', "a\\b\nc\rd\te\0", '"a\\\\b\\nc\\rd\\te\\0"'),
    ("", "'", "a'b\"c", "'a\\'b\"c'"),
    ("", '"', "a'b\"c", '"a\'b\\"c"'),
    ("", "'''", "a'b\nc", "'''a\\'b\\nc'''"),
    ("", '"""', 'a"', '"""a\\""""'),
    ("u", "'", "ü\x01\xad", "u'ü\\x01\\xad'"),
    ("", "'", "\u200b\uffff", "'\\u200b\\uffff'"),
    ("", "'", "\U000e0001", "'\\U000e0001'"),
    ("r", "'", 'a"b', "r'a\"b'"),
    ("R", '"', "a'b", "R\"a'b\""),
    ("r", "'''", "a\nb", "r'''a\nb'''"),
    ("r", '"""', "a'b", "r\"\"\"a'b\"\"\""),
])
def test_requote_writes_the_value_with_the_prefix_and_quotes(prefix: str, quote: str,
                                                             value: str, written: str) -> None:
    assert pysites.requote(prefix, quote, value) == written
    assert ast.literal_eval(written) == value


@pytest.mark.parametrize(("prefix", "quote", "value"), [
    ("r", "'", "a'b"), ("R", '"', 'a"b'), ("r", "'''", "a'b"), ("r", '"""', 'a"'),
    ("r", "'", "a\\b"), ("R", "'''", "a\\b"), ("r", "'", "a\nb"), ("r", '"', "a\rb"),
    ("b", '"', "a"), ("B", '"', "a"), ("rb", "'", "a"), ("bR", "'", "a"),
    ("f", '"', "a"), ("F", '"', "a"), ("fr", "'", "a"), ("Rf", "'", "a"), ("t", '"', "a"),
    ("", "'", "\x001"),  # "\\01" would read back as "\x01"
])
def test_requote_refuses_what_the_literal_cannot_hold(prefix: str, quote: str,
                                                      value: str) -> None:
    assert pysites.requote(prefix, quote, value) is None


# ---------------------------------------------------------------------------------------------
# Comments (noqa)


def test_comments_are_what_python_tokenizes_as_comments() -> None:
    text = "x = '#'  # a\r\n# b\ry = 1 # c\n"
    assert pysites.comments(text) == ([9, 14, 24], ["# a", "# b", "# c"])
    assert pysites.comments("x = '# not'\n") == ([], [])
    assert pysites.comments("# a\nx = '''\n# b\n") == ([0], ["# a"])  # stops at the error


def test_comment_between_start_and_end() -> None:
    text = "x = '#' # c\n"
    assert pysites.comment_between(text, 0, 11) == "# c"
    assert pysites.comment_between(text, 8, 11) == "# c"
    assert pysites.comment_between(text, 0, 8) is None  # starts at the end: not between
    assert pysites.comment_between(text, 9, 11) is None
    assert pysites.comment_between("x = 1  # c\n", 0, 5) is None
    # A "#" in a string after the last comment: the tokenized file has none there.
    assert pysites.comment_between("x = 1  # c\ny = '#'\n", 11, 18) is None


def test_noqa_after_bare_cr_line_breaks() -> None:
    """Old Mac line ends mixed with LF: the comment is found on Python's line."""
    text = HEAD.replace("\n", "\r#\r#\r#\n# x\n")
    text += 'valohai.prepare(step="t", image="python:latest")  # noqa\n'
    assert lint(text) == []
    assert [d.code for d in lint(text.replace("  # noqa", ""))] == ["VIL002"]


def test_noqa_in_a_string_does_not_suppress() -> None:
    text = HEAD + "valohai.prepare(step='t', image='python:latest', note='# noqa')\n"
    assert "VIL002" in [d.code for d in lint(text)]
    assert lint(text.replace("')\n", "')  # noqa\n")) == []


# ---------------------------------------------------------------------------------------------
# Fix verification


def test_site_values_for_fix_verification() -> None:
    text = HEAD + ("valohai.prepare(step='a', image='python:3.12')\n"
                   "valohai.prepare(step='b', image=IMAGE)\n")
    start = text.index("'python")
    assert pysites.site_values(text, "src/train.py") == ({
        "train.py::prepare(step='a').image": (("str", "python:3.12"), start, start + 13),
        "train.py::prepare(step='b').image": (None, -1, -1),
    }, None)
    assert pysites.site_values(HEAD + "valohai.prepare(\n", "train.py") == (
        {}, "the result is not valid Python (line 2): '(' was never closed")
    assert pysites.site_values("x = 1\n", "train.py") == ({}, None)
