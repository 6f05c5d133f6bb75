"""Rules: one module each, found by subclassing ``Rule``.

A rule module holds one ``Rule`` subclass; its module docstring is the user documentation that
``valohai-image-lint rule CODE`` prints (sections: What it does, Why is this bad?, Example,
Use instead, Options, Fix). Adding a rule is adding a module: nothing else lists them.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Optional

from valohai_image_lint.diagnostic import Applicability, Diagnostic, Edit, Fix, Severity
from valohai_image_lint.model import ImageSite
from valohai_image_lint.reference import ImageReference
from valohai_image_lint.yamltree import Node, Scalar

if TYPE_CHECKING:
    from valohai_image_lint.config import Config
    from valohai_image_lint.source import SourceFile


@dataclass(frozen=True)
class CheckedSite:
    """An image site with its value read and its reference parsed, once for all rules."""

    site: ImageSite
    # The image string as written, or None when missing or not a string.
    image: Optional[str]
    reference: Optional[ImageReference]
    reference_error: Optional[str]


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


class RuleContext:
    """What a rule sees of the file being linted, and how it reports."""

    def __init__(self, source: SourceFile, config: Config, lookups: Optional[object] = None):
        self.source = source
        self.config = config
        # Registry answers keyed by reference string (online mode); None offline.
        self.lookups = lookups
        self.diagnostics: list[Diagnostic] = []

    def report(
        self,
        rule: Rule,
        site: CheckedSite,
        message: str,
        fix: Optional[Fix] = None,
        node: Optional[Node] = None,
    ) -> None:
        target = node or site.site.node or site.site.anchor_node
        self.diagnostics.append(
            Diagnostic(
                code=rule.code,
                name=rule.name,
                severity=rule.severity,
                message=message,
                path=self.source.path,
                span=self.source.span(target.start, target.end),
                yaml_path=site.site.yaml_path,
                image=site.image,
                fix=fix,
            )
        )

    def replace_image(
        self, site: CheckedSite, new_image: str, title: str, applicability: Applicability
    ) -> Optional[Fix]:
        """A fix that rewrites the image scalar, keeping its quoting style."""
        node = site.site.node
        if not isinstance(node, Scalar):
            return None
        content = quote_like(node, new_image)
        if content is None:
            return None
        edit = Edit(self.source.span(node.start, node.end), content)
        return Fix(title, (edit,), applicability)


def quote_like(node: Scalar, value: str) -> Optional[str]:
    """``value`` written in the same quoting style as ``node``; None if that is impossible."""
    if node.style == "'":
        return "'" + value.replace("'", "''") + "'"
    if node.style == '"':
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if node.plain:
        return value
    return None  # block scalars (| >) are left alone


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(rule.code for rule in self.rules)


def all_rules() -> dict[str, type[Rule]]:
    """Every rule class, by code, importing the rule modules once."""
    if not Rule.registry:
        for module in pkgutil.iter_modules(__path__):
            if not module.name.startswith("_"):
                importlib.import_module(f"{__name__}.{module.name}")
    return dict(sorted(Rule.registry.items()))


class UnknownRuleError(ValueError):
    pass


def match_selector(selector: str) -> list[str]:
    """Codes named by a selector: a code, a code prefix (``VIL0``), a rule name, or ``ALL``."""
    rules = all_rules()
    text = selector.strip()
    if text.upper() == "ALL":
        return list(rules)
    by_name = [code for code, rule in rules.items() if rule.name == text]
    if by_name:
        return by_name
    prefix = text.upper()
    matched = [code for code in rules if code.startswith(prefix)] if prefix.startswith("VIL") \
        else []
    if not matched:
        raise UnknownRuleError(f"unknown rule selector {selector!r}")
    return matched


def find_rule(selector: str) -> type[Rule]:
    rules = all_rules()
    text = selector.strip()
    if text.upper() in rules:
        return rules[text.upper()]
    for rule in rules.values():
        if rule.name == text:
            return rule
    raise UnknownRuleError(f"unknown rule {selector!r}")


def select_rules(
    select: Optional[tuple[str, ...]], extend_select: tuple[str, ...], ignore: tuple[str, ...]
) -> RuleSet:
    """The enabled rules: ``select`` (or the defaults) plus ``extend_select`` minus ``ignore``."""
    rules = all_rules()
    if select is None:
        chosen = {code for code, rule in rules.items() if rule.default_enabled}
    else:
        chosen = {code for s in select for code in match_selector(s)}
    chosen |= {code for s in extend_select for code in match_selector(s)}
    chosen -= {code for s in ignore for code in match_selector(s)}
    return RuleSet(tuple(rules[code]() for code in sorted(chosen)))
