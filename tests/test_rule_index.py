"""The rule index (rules/_index.py): a run selects rules from it and imports only the modules
of the rules that can report on the file at hand. It is generated from the rule modules, so
adding a rule is still adding a module; these tests fail while it is out of date, and show
that leaving out the rules that cannot report changes no result."""

from __future__ import annotations

from pathlib import Path

import pytest

from valohai_image_lint.config import Config
from valohai_image_lint.diagnostic import Diagnostic
from valohai_image_lint.linter import check_sites
from valohai_image_lint.model import SITE_KEYS, read_config
from valohai_image_lint.rules import (
    RuleContext,
    _index,
    all_rules,
    find_rule,
    rule_code,
    select_rules,
)
from valohai_image_lint.rules._make_index import render
from valohai_image_lint.source import SourceError, SourceFile
from valohai_image_lint.yamltree import parse

ROOT = Path(__file__).resolve().parents[1]
INDEX = ROOT / "src" / "valohai_image_lint" / "rules" / "_index.py"
# The rule fixtures (YAML and Python) and the real-world corpus, when it is beside the repo.
CORPUS = next((p for p in (ROOT.parents[i] / "shared" / "corpus" / "real-world"
                           for i in (1, 2)) if p.is_dir()), None)
FILES = sorted(p for p in (ROOT / "fixtures" / "rules").rglob("*")
               if p.suffix in (".yaml", ".yml", ".py"))
FILES += sorted(CORPUS.glob("*valohai*")) if CORPUS is not None else []


def test_the_index_is_what_the_rule_modules_say() -> None:
    assert INDEX.read_text("utf-8") == render(), (
        "rules/_index.py is out of date: run python -m valohai_image_lint.rules._make_index")


def test_the_index_lists_every_rule_module_with_its_flags() -> None:
    """Written out, not taken from render(): a rule module the index misses is a rule a run
    never selects."""
    modules = sorted(p.stem for p in INDEX.parent.glob("vil*.py"))
    assert sorted(entry[_index.MODULE] for entry in _index.RULES.values()) == modules
    flags = {code: entry[2:] for code, entry in _index.RULES.items()}
    assert [c for c, f in flags.items() if f[0] is False] == ["VIL003", "VIL100"]
    assert [c for c, f in flags.items() if f[1]] == ["VIL013", "VIL014", "VIL015", "VIL016"]
    assert [c for c, f in flags.items() if f[2]] == ["VIL008", "VIL009"]
    assert [c for c, f in flags.items() if not f[3]] == ["VIL000", "VIL100"]
    assert {c: f[4] for c, f in flags.items() if f[4]} == {
        "VIL010": ("private_registries",), "VIL011": ("private_registries",),
        "VIL012": ("allowed_registries",), "VIL020": ("image_sizes",)}
    assert _index.CONFIG_FIELDS == ("allowed_registries", "image_sizes", "private_registries")
    for code, rule in all_rules().items():
        assert _index.RULES[code][_index.NAME] == rule.name
        assert rule_code(rule.name) == rule_code(code.lower()) == code
        assert find_rule(rule.name) is rule


def test_for_file_leaves_out_only_the_rules_that_cannot_report() -> None:
    rules = select_rules(("ALL",), (), ())
    configured = Config(private_registries=("acme/*",), allowed_registries=("docker.io/*",),
                        image_sizes=(("python", 10),))
    codes = {(python, online): [r.code for r in rules.for_file(python, online, configured)]
             for python in (False, True) for online in (False, True)}
    every = sorted(set(_index.RULES) - {"VIL000", "VIL100"})
    assert codes[(True, True)] == every
    assert codes[(False, True)] == [c for c in every if c not in ("VIL008", "VIL009")]
    assert codes[(True, False)] == [c for c in every if c not in (
        "VIL013", "VIL014", "VIL015", "VIL016")]
    assert codes[(False, False)] == [c for c in codes[(True, False)]
                                     if c not in ("VIL008", "VIL009")]
    # Without the configuration they read, VIL010-012 and VIL020 cannot report; VIL020 still
    # can with registry answers (sizes), and with answers none is left out.
    unconfigured = [r.code for r in rules.for_file(False, False, Config())]
    assert unconfigured == [c for c in codes[(False, False)]
                            if c not in ("VIL010", "VIL011", "VIL012", "VIL020")]
    assert [r.code for r in rules.for_file(False, True, Config())] == codes[(False, True)]
    only_sizes = Config(image_sizes=(("python", 10),))
    assert [r.code for r in rules.for_file(False, False, only_sizes)] == sorted(
        [*unconfigured, "VIL020"])
    # Equal by the codes, whatever rules have been imported.
    assert rules == select_rules(None, ("ALL",), ())
    assert rules != select_rules(None, (), ())


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_leaving_out_rules_changes_no_result(path: Path) -> None:
    """Every rule run on every site without lookups (what a run did before the index) finds
    what the rules a run keeps find."""
    try:
        source = SourceFile.from_bytes(str(path), path.read_bytes())
    except SourceError:
        return  # not decoded: no rule runs
    config = Config()
    rules = select_rules(("ALL",), (), ())
    found, sites = check_sites(source, config, rules)
    if any(d.code == "VIL000" for d in found):
        return  # not linted: no rule ran
    document = None if path.suffix == ".py" else parse(source.text, keep_keys=SITE_KEYS)
    ctx = RuleContext(source, config, None, document)
    for rule in rules.rules:  # every enabled rule, imported
        for site in sites:
            rule.check(site, ctx)
        if document is not None:
            rule.check_config(read_config(document.root), ctx)

    def key(d: Diagnostic) -> tuple[object, ...]:
        return (*d.sort_key, d.message, d.help, d.fix)

    assert sorted(map(key, ctx.diagnostics)) == sorted(map(key, found))
    assert len(found) == len(ctx.diagnostics)
