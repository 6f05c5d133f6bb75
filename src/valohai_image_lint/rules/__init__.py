"""Rules: one module each, found by subclassing ``Rule``.

A rule module holds one ``Rule`` subclass; its module docstring is the user documentation that
``valohai-image-lint rule CODE`` prints (sections: What it does, Why is this bad?, Example,
Use instead, Options, Fix). Adding a rule is adding a module: the index a run selects rules
from (``_index.py``) is generated from the modules (``python -m
valohai_image_lint.rules._make_index``), and a test fails while it is out of date.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING, ClassVar, Optional

from valohai_image_lint._record import FrozenRecord, set_field
from valohai_image_lint.diagnostic import Applicability, Diagnostic, Edit, Fix, Severity
from valohai_image_lint.model import ImageSite, ValohaiConfig
from valohai_image_lint.reference import ImageReference
from valohai_image_lint.rules import _index
from valohai_image_lint.yamltree import (
    Alias,
    Document,
    Mapping,
    Node,
    Scalar,
    Sequence,
    key_is,
    mapping_get,
    resolve,
)

if TYPE_CHECKING:
    from valohai_image_lint.config import Config
    from valohai_image_lint.source import SourceFile


class CheckedSite(FrozenRecord):
    """An image site with its value read and its reference parsed, once for all rules."""

    __slots__ = ("site", "image", "reference", "reference_error")
    site: ImageSite
    # The image string as written, or None when missing or not a string.
    image: Optional[str]
    reference: Optional[ImageReference]
    reference_error: Optional[str]

    def __init__(self, site: ImageSite, image: Optional[str],
                 reference: Optional[ImageReference], reference_error: Optional[str]) -> None:
        set_field(self, "site", site)
        set_field(self, "image", image)
        set_field(self, "reference", reference)
        set_field(self, "reference_error", reference_error)


class Rule:
    """Base of every rule. Subclasses set the class attributes and implement ``check``."""

    code: ClassVar[str]
    name: ClassVar[str]
    severity: ClassVar[Severity]
    summary: ClassVar[str]
    default_enabled: ClassVar[bool] = True
    fix_applicability: ClassVar[Optional[Applicability]] = None
    # A fix that needs registry answers is offered only online.
    fix_needs_online: ClassVar[bool] = False
    # A rule that reports only from registry answers (--online, or the cache with --offline).
    needs_online: ClassVar[bool] = False
    # A rule that reports only on images named in Python sources (valohai.prepare calls).
    python_only: ClassVar[bool] = False
    # Configuration fields a rule needs to report anything: while all of them are empty it
    # reports nothing, unless it has registry answers (VIL020 reads sizes from either).
    needs_config: ClassVar[tuple[str, ...]] = ()

    registry: ClassVar[dict[str, type[Rule]]] = {}

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if cls.code in Rule.registry:
            raise RuntimeError(f"duplicate rule code {cls.code}")
        Rule.registry[cls.code] = cls

    @classmethod
    def documentation(cls) -> str:
        module = sys.modules[cls.__module__]
        return (module.__doc__ or "").strip()

    def check(self, site: CheckedSite, ctx: RuleContext) -> None:
        """Report problems of one image site through ``ctx.report``."""

    def check_config(self, config: ValohaiConfig, ctx: RuleContext) -> None:
        """Report problems of the file as a whole (once per file) through ``ctx.report_at``."""


class RuleContext:
    """What a rule sees of the file being linted, and how it reports."""

    def __init__(
        self,
        source: SourceFile,
        config: Config,
        lookups: Optional[object] = None,
        document: Optional[Document] = None,
    ):
        self.source = source
        self.config = config
        # Registry answers keyed by reference string (online mode); None offline.
        self.lookups = lookups
        self.diagnostics: list[Diagnostic] = []
        # The parsed file, for fixes that must know where an anchored image is used.
        self.document = document
        self._anchor_uses: Optional[AnchorUses] = None

    def report(
        self,
        rule: Rule,
        site: CheckedSite,
        message: str,
        fix: Optional[Fix] = None,
        node: Optional[Node] = None,
        help: Optional[str] = None,
    ) -> None:
        """Report a problem of ``site``: ``message`` is one short sentence that names the
        image (aim at 80 characters), ``help`` what to do about it."""
        target = node or site.site.node or site.site.anchor_node
        owner = site.site.owner
        if site.site.via_alias and target is site.site.node and owner not in message:
            # Several sites share the anchored scalar: say which one this report is for.
            message = f"{message} (in {owner}, through an alias)"
        self._add(rule, target, message, site.site.yaml_path, help, site.image, fix)

    def report_at(
        self, rule: Rule, node: Node, message: str, yaml_path: str, help: Optional[str] = None
    ) -> None:
        """Report on a node that is not an image site's (VIL007's ignored parts)."""
        self._add(rule, node, message, yaml_path, help)

    def _add(self, rule: Rule, node: Node, message: str, yaml_path: str,
             help: Optional[str], image: Optional[str] = None, fix: Optional[Fix] = None
             ) -> None:
        self.diagnostics.append(
            Diagnostic(
                code=rule.code,
                name=rule.name,
                severity=rule.severity,
                message=message,
                path=self.source.path,
                span=self.source.span(node.start, written_end(self.source.text, node)),
                yaml_path=yaml_path,
                image=image,
                fix=fix,
                help=help,
            )
        )

    def replace_image(
        self, site: CheckedSite, new_image: str, title: str, applicability: Applicability
    ) -> Optional[Fix]:
        """A fix that rewrites the image scalar, keeping its quoting style.

        An anchored image is edited once, where it is written, when every use of the anchor
        is an image. When the anchor is also used for something else (``default: *img``), the
        alias at this site becomes the new image written out instead, and a site that holds
        the anchored scalar itself gets no fix: the other value must not change.
        """
        node = site.site.node
        if not isinstance(node, Scalar):
            return None
        target: Node = node
        rewrite = getattr(node, "rewrite", None)
        if rewrite is not None:  # a Python literal (sites.python) rewrites itself
            content = rewrite(new_image)
        elif node.anchor is not None and self._shared_with_non_image(node):
            written = site.site.written
            if not isinstance(written, Alias):
                return None
            target = written
            content = quote_like(Scalar(0, 0, None, None, "", None), new_image)
        else:
            content = quote_like(node, new_image)
        if content is None:
            return None
        edit = Edit(self.source.span(target.start, target.end), content)
        return Fix(title, (edit,), applicability)

    def _shared_with_non_image(self, node: Scalar) -> bool:
        if self.document is None:
            return True  # cannot tell: do not edit what may be shared
        if self._anchor_uses is None:
            self._anchor_uses = AnchorUses(self.source.text, self.document)
        return self._anchor_uses.shared_with_non_image(node)


class AnchorUses:
    """Where the anchors of a file are used: at image keys, or (possibly) elsewhere.

    The tree may be built without the values the linter does not read, so aliases are also
    counted in the text: an ``*name`` the tree does not show at an image key counts as a use
    for something else (a ``*name`` inside a string or comment too: then the fix edits the
    image sites, which is always safe).
    """

    def __init__(self, text: str, document: Document) -> None:
        self.text = text
        self.at_image: set[int] = set()  # ids of nodes that are the value of an image key
        self.image_aliases: dict[str, int] = {}
        self.read_spans: list[tuple[int, int]] = []
        seen: set[int] = set()
        stack: list[Node] = [n for n in [document.root, *document.anchored] if n is not None]
        while stack:
            node = stack.pop()
            if id(node) in seen or not isinstance(node, (Mapping, Sequence)):
                continue
            seen.add(id(node))
            if isinstance(node, Sequence):
                stack.extend(node.items)
                continue
            for key, value in node.pairs:
                if key_is(key, "image"):
                    self.at_image.add(id(value))
                    if isinstance(value, Alias) and value.anchor is not None:
                        self.image_aliases[value.anchor] = (
                            self.image_aliases.get(value.anchor, 0) + 1
                        )
                stack.append(value)
        # The text of the items Valohai reads (those with a kind key).
        from valohai_image_lint.model import ITEM_KINDS

        root = resolve(document.root)
        if isinstance(root, Sequence):
            for raw_item in root.items:
                item = resolve(raw_item)
                if isinstance(item, Mapping) and any(
                    mapping_get(item, kind)[0] is not None for kind in ITEM_KINDS
                ):
                    self.read_spans.append((raw_item.start, raw_item.end))

    def shared_with_non_image(self, node: Scalar) -> bool:
        import re

        name = node.anchor
        assert name is not None
        # libyaml's anchor names are [0-9A-Za-z_-]: ``*img`` is not a use of ``&im``.
        pattern = re.compile(r"\*" + re.escape(name) + r"(?![0-9A-Za-z_-])")
        aliases = len(pattern.findall(self.text))
        if aliases > self.image_aliases.get(name, 0):
            return True
        # Written where Valohai reads it, and not as an image (``default: &img ...``).
        return id(node) not in self.at_image and any(
            start <= node.start < end for start, end in self.read_spans
        )


SHOWN_IMAGE_CHARS = 50


def shown(text: Optional[str], limit: int = SHOWN_IMAGE_CHARS) -> str:
    """``text`` quoted for a message, its middle elided when it is long, so that a message
    stays one short sentence; the whole image is in the snippet and in JSON's ``image``."""
    if text is not None and len(text) > limit:
        head = (limit - 1) // 2
        text = f"{text[:head]}…{text[len(text) - (limit - 1 - head):]}"
    return repr(text)


_TRAILING_SPACE = " \t\r\n\x85\u2028\u2029"


def written_end(text: str, node: Node) -> int:
    """Where the node's own text ends.

    libyaml ends a block collection where the next token starts (often the next key's line)
    and a block scalar after its trailing line breaks. A span must stop at the node's last
    character, or it would underline the next line and a `# noqa` there would silence it.
    """
    # Trimmed from the text, not taken from the last child: the tree may be built without
    # the children the linter does not read (yamltree.parse's keep_keys).
    end = node.end
    if isinstance(node, Scalar) and node.style in ("|", ">"):
        while end > node.start and text[end - 1] in _TRAILING_SPACE:
            end -= 1
    elif isinstance(node, (Sequence, Mapping)) and not node.flow:
        # Also step back over whole-line comments between the collection and the next key.
        while True:
            while end > node.start and text[end - 1] in _TRAILING_SPACE:
                end -= 1
            # Every YAML line break: libyaml also ends a line at NEL, LS and PS.
            line_start = max(text.rfind(brk, 0, end) for brk in _LINE_BREAKS) + 1
            if line_start <= node.start or not text[line_start:end].lstrip(" \t").startswith("#"):
                break
            end = line_start
    return end


def quote_like(node: Scalar, value: str) -> Optional[str]:
    """``value`` written in the same quoting style as ``node``; None for block scalars.

    The text must read back as exactly ``value``, a string: a plain value that would not
    (``3.10``, ``yes``, ``a #b``, a flow indicator) is single-quoted, and a value that single
    quotes cannot hold (line breaks, control characters) is double-quoted.
    """
    if node.style == '"':
        return _double_quoted(value)
    if node.style == "'" or (node.plain and not _reads_back_plain(value)):
        if all(_yaml_printable(c) and c not in _LINE_BREAKS for c in value):
            return "'" + value.replace("'", "''") + "'"
        return _double_quoted(value)
    if node.plain:
        return value
    return None  # block scalars (| >) are left alone


_LINE_BREAKS = "\n\r\x85\u2028\u2029"
_DOUBLE_QUOTE_ESCAPES = {
    "\\": "\\\\", '"': '\\"', "\0": "\\0", "\a": "\\a", "\b": "\\b", "\t": "\\t",
    "\n": "\\n", "\v": "\\v", "\f": "\\f", "\r": "\\r", "\x1b": "\\e", "\x85": "\\N",
    "\xa0": "\\_", "\u2028": "\\L", "\u2029": "\\P",
}


def _yaml_printable(char: str) -> bool:
    code = ord(char)
    return (0x20 <= code <= 0x7E or code == 0x85 or 0xA0 <= code <= 0xD7FF
            or (0xE000 <= code <= 0xFFFD and code != 0xFEFF) or 0x10000 <= code <= 0x10FFFF)


def _double_quoted(value: str) -> str:
    out = []
    for char in value:
        escape = _DOUBLE_QUOTE_ESCAPES.get(char)
        if escape is not None:
            out.append(escape)
        elif _yaml_printable(char):
            out.append(char)
        elif ord(char) <= 0xFF:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) <= 0xFFFF:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return '"' + "".join(out) + '"'


# Asked once per image string: a large file repeats the same few images.
@lru_cache(maxsize=1024)
def _reads_back_plain(value: str) -> bool:
    """Does ``value`` written plain read back as the same string, in block and in flow
    context alike? Asking the parser is the only sure answer (``1:20``, ``- x``, ``a: b``)."""
    from valohai_image_lint.yamltree import Sequence, YamlError, parse, scalar_type

    if not value or any(c in _LINE_BREAKS or not _yaml_printable(c) for c in value):
        return False
    for text in (f"- {value}\n", f"[{value}]\n"):
        try:
            root = parse(text).root
        except YamlError:
            return False
        if not isinstance(root, Sequence) or len(root.items) != 1:
            return False
        item = root.items[0]
        if not (isinstance(item, Scalar) and item.plain and item.value == value
                and scalar_type(item) == "str"):
            return False
    return True


class RuleSet(FrozenRecord):
    """The enabled rules, by code. A rule's module is imported when a file needs the rule:
    a run imports only the modules of the rules that can report on what it lints."""

    __slots__ = ("codes", "_instances", "_for_file")
    _compared = ("codes",)
    _unshown = ("_instances", "_for_file")
    codes: frozenset[str]
    _instances: dict[str, Rule]
    _for_file: dict[tuple[bool, bool, frozenset[str]], tuple[Rule, ...]]

    def __init__(self, codes: Iterable[str]) -> None:
        set_field(self, "codes", frozenset(codes))
        set_field(self, "_instances", {})
        set_field(self, "_for_file", {})

    def rule(self, code: str) -> Rule:
        instance = self._instances.get(code)
        if instance is None:
            instance = self._instances[code] = rule_class(code)()
        return instance

    @property
    def rules(self) -> tuple[Rule, ...]:
        """Every enabled rule, in code order (importing all their modules)."""
        return tuple(self.rule(code) for code in sorted(self.codes))

    def for_file(self, python: bool, online: bool, config: Config) -> tuple[Rule, ...]:
        """The enabled rules that can report on a file, in code order: not the rules that
        report only from registry answers when there are none (``online`` false), not the
        Python-only rules on a YAML file, not the rules whose configuration is empty, not
        the rules the linter reports itself."""
        configured = frozenset(field for field in _index.CONFIG_FIELDS
                               if getattr(config, field))
        key = (python, online, configured)
        found = self._for_file.get(key)
        if found is None:
            found = self._for_file[key] = tuple(
                self.rule(code)
                for code, (*_, needs_online, python_only, checks, needs_config)
                in _index.RULES.items()
                if code in self.codes and checks
                and (online or not needs_online)
                and (python or not python_only)
                and (online or not needs_config or not configured.isdisjoint(needs_config)))
        return found


def rule_class(code: str) -> type[Rule]:
    """The class of rule ``code`` (a code the index lists), importing its module alone."""
    rule = Rule.registry.get(code)
    if rule is None:
        __import__(f"{__name__}.{_index.RULES[code][_index.MODULE]}")
        rule = Rule.registry[code]
    return rule


def all_rules() -> dict[str, type[Rule]]:
    """Every rule class, by code, importing the rule modules once."""
    global _ALL_IMPORTED
    # Not "while the registry is empty": a rule module imported directly (VIL003 imports
    # VIL002's helper) registers its rule early, and the others must still be found.
    if not _ALL_IMPORTED:
        # A directory listing, not pkgutil: pkgutil and the importlib machinery it loads cost
        # a pre-commit run more than reading this directory does.
        for filename in sorted(os.listdir(__path__[0])):
            if filename.endswith(".py") and not filename.startswith("_"):
                # The import statement's machinery (what -X importtime sees), not importlib's.
                __import__(f"{__name__}.{filename[:-3]}")
        _ALL_IMPORTED = True
    return dict(sorted(Rule.registry.items()))


_ALL_IMPORTED = False


class UnknownRuleError(ValueError):
    pass


def match_selector(selector: str) -> list[str]:
    """Codes named by a selector: a code, a code prefix (``VIL0``), a rule name, or ``ALL``."""
    rules = _index.RULES
    text = selector.strip()
    if text.upper() == "ALL":
        return list(rules)
    by_name = [code for code, entry in rules.items() if entry[_index.NAME] == text]
    if by_name:
        return by_name
    prefix = text.upper()
    matched = [code for code in rules if code.startswith(prefix)] if prefix.startswith("VIL") \
        else []
    if not matched:
        raise UnknownRuleError(f"unknown rule selector {selector!r}")
    return matched


def find_rule(selector: str) -> type[Rule]:
    """The rule a code or a rule name names, importing its module alone."""
    return rule_class(rule_code(selector))


def rule_code(selector: str) -> str:
    """The code of the rule a code or a rule name names, without importing rule modules."""
    text = selector.strip()
    if text.upper() in _index.RULES:
        return text.upper()
    for code, entry in _index.RULES.items():
        if entry[_index.NAME] == text:
            return code
    raise UnknownRuleError(f"unknown rule {selector!r}")


def select_rules(
    select: Optional[tuple[str, ...]], extend_select: tuple[str, ...], ignore: tuple[str, ...]
) -> RuleSet:
    """The enabled rules: ``select`` (or the defaults) plus ``extend_select`` minus ``ignore``.

    As in ruff, the more specific selector wins (``ignore = ["ALL"]`` with ``select =
    ["VIL002"]`` keeps VIL002; ``select = ["VIL0"]`` with ``ignore = ["VIL00"]`` drops
    VIL000-VIL009); at equal specificity ``ignore`` wins.
    """
    if select is None:
        chosen = {code for code, entry in _index.RULES.items() if entry[_index.DEFAULT_ENABLED]}
    else:
        chosen = set()
    steps = [(_specificity(s), 0, s) for s in (select or ()) + extend_select]
    steps += [(_specificity(s), 1, s) for s in ignore]
    for _, is_ignore, selector in sorted(steps, key=lambda step: (step[0], step[1])):
        codes = match_selector(selector)
        if is_ignore:
            chosen.difference_update(codes)
        else:
            chosen.update(codes)
    return RuleSet(chosen)


def _specificity(selector: str) -> int:
    """``ALL`` < ``VIL`` < ``VIL0`` < ``VIL00`` < a full code or a rule name."""
    text = selector.strip()
    if text.upper() == "ALL":
        return 0
    if text.upper() in _index.RULES or not text.upper().startswith("VIL"):
        return 100
    return len(text)
