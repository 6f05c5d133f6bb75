"""Image sites written in Python: the ``image=`` of ``valohai.prepare(...)`` (valohai-utils).

With valohai-utils a script calls ``valohai.prepare(step="train", image="python:3.12", ...)``
and ``vh yaml step train.py`` writes that step into valohai.yaml. The image is read with
``ast.literal_eval``, so only a literal counts; here each literal ``image=`` string is an
``ImageSite`` like a YAML one, with its span the literal as written (prefix and quotes
included) and a fix that keeps its prefix and quotes.

Calls are found in every import form (``import valohai``, ``import valohai as vh``,
``from valohai import prepare``). valohai-utils' own parser reads fewer: only calls written
``valohai.prepare(...)`` that its ``ast.NodeVisitor`` reaches (not inside another call or an
assignment), and of several calls only the last step name and the last image. Each site says
whether ``vh yaml step`` reads it (``read_by_vh``) and as which step (``vh_step``).

Files are screened by bytes (``may_hold_sites``) before any text is decoded or parsed, so a
tree of Python files without valohai costs a read each.
"""

from __future__ import annotations

import ast
import os
import re
from bisect import bisect_left
from typing import Optional, Union

from valohai_image_lint._record import set_field
from valohai_image_lint.model import ImageSite
from valohai_image_lint.source import SourceFile
from valohai_image_lint.yamltree import AnyNode, Scalar

PYTHON_SUFFIXES = (".py",)
CONFIG_NAMES = ("valohai.yaml", "valohai.yml")
# valohai-utils' valohai.consts.DEFAULT_DOCKER_IMAGE: `vh yaml step` keeps the YAML's image
# when the Python one is this (or unset).
DEFAULT_DOCKER_IMAGE = "python:3.11-slim"
# The step name valohai-utils' parser gives a call without ``step=``.
DEFAULT_STEP = "default"
_MODULES = ("valohai", "valohai.prepare_impl")


def is_python_path(path: str) -> bool:
    return path.endswith(PYTHON_SUFFIXES)


def may_hold_sites(data: Union[bytes, str]) -> bool:
    """Cheap screen before decoding and parsing: a file without both words has no site."""
    if isinstance(data, str):
        return "prepare" in data and "valohai" in data
    return b"prepare" in data and b"valohai" in data


class NotPython(Exception):
    """The text is not Python that ``ast.parse`` reads; the file is skipped, not reported."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PythonString(Scalar):
    """A Python string literal as written: ``prefix`` (``r``, ``u``, ...), ``quote`` (one of
    ``'``, ``"``, ``'''``, ``\"\"\"``); ``simple`` is False for implicitly concatenated
    literals, which are not rewritten."""

    __slots__ = ("prefix", "quote", "simple")

    def __init__(self, start: int, end: int, value: str, prefix: str, quote: str,
                 simple: bool) -> None:
        super().__init__(start, end, None, None, value, quote[:1] or '"')
        self.prefix = prefix
        self.quote = quote
        self.simple = simple

    def rewrite(self, value: str) -> Optional[str]:
        """``value`` written with this literal's prefix and quotes, or None if it cannot be."""
        if not self.simple:
            return None
        return requote(self.prefix, self.quote, value)


class PythonImageSite(ImageSite):
    __slots__ = ("step", "read_by_vh", "vh_step", "not_literal")
    # The step name as written (``step=`` literal, "default" without one), None if not literal.
    step: Optional[str]
    # Whether ``vh yaml step`` reads this image, and as which step.
    read_by_vh: bool
    vh_step: Optional[str]
    # What the ``image=`` is when it is not a literal string: "f-string", "name", "bytes", ...
    not_literal: Optional[str]

    def __init__(self, kind: str, yaml_path: str, owner: str, node: Optional[AnyNode],
                 anchor_node: AnyNode, image_key: Optional[AnyNode], via_alias: bool,
                 required: bool, version_dependent: bool = False,
                 other_image: Optional[AnyNode] = None, merge_key: Optional[AnyNode] = None,
                 written: Optional[AnyNode] = None, step: Optional[str] = None,
                 read_by_vh: bool = False, vh_step: Optional[str] = None,
                 not_literal: Optional[str] = None) -> None:
        super().__init__(kind, yaml_path, owner, node, anchor_node, image_key, via_alias,
                         required, version_dependent, other_image, merge_key, written)
        set_field(self, "step", step)
        set_field(self, "read_by_vh", read_by_vh)
        set_field(self, "vh_step", vh_step)
        set_field(self, "not_literal", not_literal)


_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\0": "\\0"}


def requote(prefix: str, quote: str, value: str) -> Optional[str]:
    """``value`` as a literal with ``prefix`` and ``quote``; None when that literal cannot hold
    it (a raw string with a backslash or the quote character) or is not a plain string."""
    # A bytes, f- or t-string literal and a raw one-quote literal holding a line break are
    # written as asked and then refused by the read-back below (a bytes value is no str; the
    # others do not evaluate).
    if "r" in prefix.lower():
        if "\\" in value or quote[0] in value:
            return None
        body = value
    else:
        parts = []
        for char in value:
            if char in _ESCAPES:
                parts.append(_ESCAPES[char])
            elif char == quote[0]:
                parts.append("\\" + char)
            elif not char.isprintable():
                code = ord(char)
                parts.append(f"\\x{code:02x}" if code <= 0xFF else
                             f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
            else:
                parts.append(char)
        body = "".join(parts)
    text = f"{prefix}{quote}{body}{quote}"
    try:
        read = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return None
    return text if isinstance(read, str) and read == value else None


# Python's line breaks (not YAML's: U+2028 and NEL are ordinary characters in Python).
_PY_LINE_BREAK_RE = re.compile(r"\r\n|\r|\n")
_STRING_TOKEN_RE = re.compile(r"(?P<prefix>[A-Za-z]{0,2})(?P<quote>'''|\"\"\"|'|\")")


def python_line_starts(text: str) -> list[int]:
    """The offsets at which Python's lines start (after LF, CRLF or CR only)."""
    return [0] + [m.end() for m in _PY_LINE_BREAK_RE.finditer(text)]


class _Offsets:
    """ast's (1-based line, UTF-8 byte column) to offsets into the text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = python_line_starts(text)

    def __call__(self, line: int, byte_column: int) -> int:
        start = self.starts[line - 1]
        head = self.text[start : start + byte_column]
        if head.isascii():
            return start + byte_column
        end = self.starts[line] if line < len(self.starts) else len(self.text)
        encoded = self.text[start:end].encode("utf-8")
        return start + len(encoded[:byte_column].decode("utf-8", "replace"))


def _parse(text: str) -> ast.Module:
    try:
        return ast.parse(text)
    except SyntaxError as exc:
        where = f" (line {exc.lineno})" if exc.lineno else ""
        raise NotPython(f"not valid Python{where}: {exc.msg}") from None
    except (RecursionError, MemoryError):
        # CPython's parser reports a too deep nesting as either (MemoryError: its stack).
        raise NotPython("nested too deeply for Python's parser") from None
    except ValueError as exc:  # a NUL byte, for one
        raise NotPython(f"not Python that can be parsed: {str(exc) or 'ValueError'}") from None


def _prepare_calls(tree: ast.Module) -> list[ast.Call]:
    """Every call of valohai's prepare in file order, through the names imports bind to the
    module and to the function (one walk of the tree)."""
    modules = {"valohai"}
    functions: set[str] = set()
    calls: list[ast.Call] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if node.keywords:  # prepare takes keyword arguments only
                calls.append(node)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "valohai" and alias.asname:
                    modules.add(alias.asname)
        elif isinstance(node, ast.ImportFrom) and node.module in _MODULES and not node.level:
            for alias in node.names:
                if alias.name == "prepare":
                    functions.add(alias.asname or alias.name)
    found = [call for call in calls if _is_prepare(call, modules, functions)]
    found.sort(key=lambda call: (call.lineno, call.col_offset))
    return found


def _is_prepare(call: ast.Call, modules: set[str], functions: set[str]) -> bool:
    func = call.func
    if isinstance(func, ast.Attribute):
        return (func.attr == "prepare" and isinstance(func.value, ast.Name)
                and func.value.id in modules)
    return isinstance(func, ast.Name) and func.id in functions


class _VhReach(ast.NodeVisitor):
    """The calls valohai-utils' PrepareParser processes, visiting as it does: it matches only
    ``valohai.prepare`` and does not descend into calls or assignments."""

    def __init__(self) -> None:
        self.calls: list[ast.Call] = []

    def visit_Assign(self, node: ast.Assign) -> None:
        return

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        return

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if (isinstance(func, ast.Attribute) and func.attr == "prepare"
                and isinstance(func.value, ast.Name) and func.value.id == "valohai"):
            self.calls.append(node)


def _keyword(call: ast.Call, name: str) -> Optional[ast.keyword]:
    found = None
    for keyword in call.keywords:
        if keyword.arg == name:
            found = keyword
    return found


def _literal(node: ast.expr) -> tuple[bool, object]:
    try:
        return True, ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False, None


def _vh_view(tree: ast.Module) -> tuple[Optional[ast.Call], Optional[str]]:
    """The call whose image ``vh yaml step`` takes and the step name it gives it."""
    reach = _VhReach()
    reach.visit(tree)
    step: Optional[str] = None
    image_call: Optional[ast.Call] = None
    for call in reach.calls:
        step = DEFAULT_STEP
        step_keyword = _keyword(call, "step")
        if step_keyword is not None:
            ok, value = _literal(step_keyword.value)
            step = value if ok and isinstance(value, str) else None
        image_keyword = _keyword(call, "image")
        if image_keyword is not None:
            image_call = call
    return image_call, step


_KINDS: dict[type, str] = {ast.JoinedStr: "an f-string", ast.Name: "a variable",
                           ast.Attribute: "an attribute", ast.Call: "a call",
                           ast.BinOp: "an expression", ast.Subscript: "a subscript"}
_NAME_SHOWN = 60
# The types ast.literal_eval gives (other than str and None) whose names take "an".
_AN = ("int", "ellipsis")


def _owner(step: Optional[str]) -> str:
    if step is None:
        return "step"
    if len(step) > _NAME_SHOWN:
        step = f"{step[: _NAME_SHOWN - 20]}...({len(step)} characters)"
    return f"step {step!r}"


def find_sites(source: SourceFile) -> list[PythonImageSite]:
    """Every ``image=`` of a ``prepare`` call in ``source``, in file order.

    Raises ``NotPython`` when the text does not parse.
    """
    text = source.text
    if not may_hold_sites(text):
        return []
    tree = _parse(text)
    calls = _prepare_calls(tree)
    if not calls:
        return []
    offsets = _Offsets(text)
    try:
        image_call, vh_step = _vh_view(tree)
    except RecursionError:  # valohai-utils' recursive visitor would fail on it too
        raise NotPython("nested too deeply for Python's parser") from None
    base = os.path.basename(source.path) or source.path
    sites: list[PythonImageSite] = []
    seen: dict[str, int] = {}
    for call in calls:
        image_keyword = _keyword(call, "image")
        if image_keyword is None:
            continue
        value_node = image_keyword.value
        ok, value = _literal(value_node)
        if ok and value is None:
            continue  # image=None: no image, valohai-utils' default
        step_keyword = _keyword(call, "step")
        step: Optional[str] = DEFAULT_STEP
        step_text = repr(DEFAULT_STEP)
        if step_keyword is not None:
            step_ok, step_value = _literal(step_keyword.value)
            step = step_value if step_ok and isinstance(step_value, str) else None
            step_text = repr(step) if step is not None else (
                ast.get_source_segment(text, step_keyword.value) or "?")
        where = f"{base}::prepare(step={step_text})"
        seen[where] = seen.get(where, 0) + 1
        if seen[where] > 1:
            where += f"[{seen[where]}]"
        start = offsets(value_node.lineno, value_node.col_offset)
        end_line = value_node.end_lineno or value_node.lineno
        end_column = (value_node.end_col_offset if value_node.end_col_offset is not None
                      else value_node.col_offset)
        end = offsets(end_line, end_column)
        node: Optional[Scalar] = None
        not_literal: Optional[str] = None
        if ok and isinstance(value, str):
            node = _string(text, start, end, value)
        elif ok:
            type_name = type(value).__name__
            not_literal = f"{'an' if type_name in _AN else 'a'} {type_name} literal"
        else:
            not_literal = _KINDS.get(type(value_node), "an expression")
        anchor = node or Scalar(start, end, None, None, text[start:end], "")
        read = call is image_call
        sites.append(PythonImageSite(
            kind="step",
            yaml_path=f"{where}.image",
            owner=_owner(step),
            node=node,
            anchor_node=anchor,
            image_key=None,
            via_alias=False,
            required=False,
            step=step,
            read_by_vh=read,
            vh_step=vh_step if read else None,
            not_literal=not_literal,
        ))
    return sites


def _string(text: str, start: int, end: int, value: str) -> PythonString:
    written = text[start:end]
    # ast read a str literal here: it starts with its prefix and quote (the first literal's,
    # when several are concatenated).
    match = _STRING_TOKEN_RE.match(written)
    assert match is not None
    prefix, quote = match.group("prefix"), match.group("quote")
    simple = _one_token(written, written[match.end() : -len(quote)], quote)
    return PythonString(start, end, value, prefix, quote, simple)


def _one_token(written: str, body: str, quote: str) -> bool:
    """Is ``written`` a single string token (not ``'a' 'b'``)? ``body`` is what lies between
    its first opening and its last closing quote."""
    import io
    import tokenize

    if quote[0] not in body:
        # No quote character inside: the first literal can only end at the last quote.
        return True
    try:
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(written).readline)
                  if t.type not in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER)]
    except (tokenize.TokenError, SyntaxError):
        return False
    return len(tokens) == 1 and tokens[0].type == tokenize.STRING


# ---------------------------------------------------------------------------------------------
# Comments, for noqa suppressions


_COMMENT_CACHE: dict[str, tuple[list[int], list[str]]] = {}


def comments(text: str) -> tuple[list[int], list[str]]:
    """The offsets and texts of every comment, in order; none when the text does not
    tokenize."""
    cached = _COMMENT_CACHE.get(text)
    if cached is not None:
        return cached
    import io
    import tokenize

    starts = python_line_starts(text)
    offsets: list[int] = []
    texts: list[str] = []
    try:
        # Lines as Python's (and python_line_starts') are: a bare CR ends one too, and a
        # tokenizer fed whole CR-joined lines would count lines, and read comments, wrongly.
        for token in tokenize.generate_tokens(io.StringIO(text, newline=None).readline):
            if token.type == tokenize.COMMENT:
                line, column = token.start
                offsets.append(starts[line - 1] + column)
                texts.append(token.string)
    except (tokenize.TokenError, SyntaxError):
        pass
    if len(_COMMENT_CACHE) > 64:
        _COMMENT_CACHE.clear()
    _COMMENT_CACHE[text] = (offsets, texts)
    return offsets, texts


def comment_between(text: str, start: int, end: int) -> Optional[str]:
    """The comment that starts in ``[start, end)``, if any."""
    if "#" not in text[start:end]:
        return None  # no comment can start there: the file is not tokenized
    offsets, texts = comments(text)
    i = bisect_left(offsets, start)
    if i < len(offsets) and offsets[i] < end:
        return texts[i]
    return None


# ---------------------------------------------------------------------------------------------
# Fix verification


_SiteValue = Optional[tuple[str, str]]


def site_values(text: str, path: str) -> tuple[dict[str, tuple[_SiteValue, int, int]],
                                                Optional[str]]:
    """As ``fixes._site_values`` for YAML: each site's path -> (value, start, end)."""
    try:
        sites = find_sites(SourceFile(path, text))
    except NotPython as exc:
        return {}, f"the result is {exc.message}"
    values: dict[str, tuple[_SiteValue, int, int]] = {}
    for site in sites:
        node = site.node
        if isinstance(node, Scalar):
            values[site.yaml_path] = (("str", node.value), node.start, node.end)
        else:
            values[site.yaml_path] = (None, -1, -1)
    return values, None
