"""The pure parts of the online checks: bounded JSON, tag-list paging, suggestions, platform
names, and the advice each rule of VIL013-VIL016 gives (for the diagnostics' help text)."""

from __future__ import annotations

from pathlib import Path

import pytest

from valohai_image_lint.reference import parse_reference
from valohai_image_lint.registry import Verdict, did_you_mean
from valohai_image_lint.registry.checks import clean_platform, is_digest
from valohai_image_lint.registry.tags import _next_page, closest_tags
from valohai_image_lint.rules import vil013_image_not_found as vil013
from valohai_image_lint.rules import vil014_platform_not_found as vil014
from valohai_image_lint.rules import vil015_stale_digest as vil015
from valohai_image_lint.rules import vil016_needs_credentials as vil016


@pytest.mark.parametrize(("link", "expected"), [
    ('</v2/a/tags/list?last=x&n=2>; rel="next"', "/v2/a/tags/list?last=x&n=2"),
    ("</v2/a/tags/list?n=2>; rel=next", "/v2/a/tags/list?n=2"),
    ('<https://elsewhere.example/v2/a/tags/list?n=2>; rel="next"', None),
    ('<//elsewhere.example/v2/a/tags/list?n=2>; rel="next"', None),
    ('</v2/b/tags/list?n=2>; rel="next"', None),  # another repository
    ('</v2/a/tags/list>; rel="next"', None),  # no cursor: would loop
    ('</v2/a/tags/list?n=2>; rel="prev"', None),
    (None, None),
])
def test_next_page_stays_on_the_same_list(link: str | None, expected: str | None) -> None:
    assert _next_page(link, "/v2/a/tags/list") == expected


def test_suggestions() -> None:
    tags = ["2.2.0-cuda12.1-cudnn8-runtime", "2.2.0-cuda12.1-cudnn8-devel", "latest", "1.0"]
    found = closest_tags("2.2.0-cuda12.1-cudnn8-runtim", tags)
    assert found[0] == "2.2.0-cuda12.1-cudnn8-runtime" and "1.0" not in found
    assert closest_tags("zzz", tags) == ()
    assert did_you_mean(("a",)) == "did you mean `a`?"
    assert did_you_mean(("a", "b", "c")) == "did you mean `a`? (or `b`, `c`)"


@pytest.mark.parametrize(("parts", "expected"), [
    (["linux", "amd64", None], "linux/amd64"),
    (["linux", "arm64", "v8"], "linux/arm64/v8"),
    (["linux", "arm", ""], "linux/arm"),
    (["linux\x1b[2J", "amd64"], None),
    (["linux", 64], None),
    (["linux"], None),
    (["Linux", "AMD64"], None),
])
def test_platform_names_are_plain_words(parts: list[object], expected: str | None) -> None:
    assert clean_platform(parts) == expected


def test_digest_grammar() -> None:
    assert is_digest("sha256:" + "a" * 64)
    assert not is_digest("sha256:" + "A" * 64)
    assert not is_digest("sha256:\x1b[31m")
    assert not is_digest(None)


def test_advice_for_each_rule() -> None:
    assert vil013.advice(Verdict(missing="tag", suggestions=("1.0", "1.1"))) == (
        "did you mean `1.0`? (or `1.1`)")
    assert vil013.advice(Verdict(missing="tag")) == vil013.HELP_TAG
    assert vil013.advice(Verdict(missing="tag", tags_listed=False)) == vil013.HELP_TAG_UNLISTED
    assert vil013.advice(Verdict(missing="repository")) == vil013.HELP_REPOSITORY
    assert vil013.advice(Verdict(missing="digest")) == vil013.HELP_DIGEST
    assert "docker buildx build --platform linux/amd64" in vil014.advice("linux/amd64")
    assert vil015.advice("sha256:" + "ab" * 32) == (
        "the tag now points to sha256:abababababab…; `--online --fix --unsafe-fixes` pins it")
    assert "`docker.io/myorg/*`" in vil016.advice(parse_reference("myorg/app:1"))
    assert "`myregistry.azurecr.io/*`" in vil016.advice(
        parse_reference("myregistry.azurecr.io/team/app:1"))


def _lint_with(image: str, verdict: Verdict, table: dict[str, object] | None = None,
               fixes: list[object] | None = None) -> list[tuple[str, str]]:
    """What the rules report for one image, given the checks' verdict for it."""
    from valohai_image_lint.config import config_from_table
    from valohai_image_lint.linter import lint_bytes
    from valohai_image_lint.registry import ImageInfo, Lookups, lookup_key
    from valohai_image_lint.rules import select_rules

    config = config_from_table(table or {}, "<test>", ".")
    rules = select_rules(("VIL013", "VIL014", "VIL015", "VIL016"), (), ())
    key = lookup_key(parse_reference(image))
    lookups = Lookups({key: ImageInfo(key, verdict=verdict)}, config.platform)
    text = f"- step:\n    name: s\n    image: {image}\n    command: run\n"
    _, diagnostics = lint_bytes("valohai.yaml", text.encode(), config, rules, lookups)
    if fixes is not None:
        fixes.extend(d.fix for d in diagnostics)
    return [(d.code, d.message) for d in diagnostics]


def test_needs_credentials_messages_and_patterns() -> None:
    denied = Verdict(anonymous_denied=True)
    assert _lint_with("myorg/app:1", denied) == [
        ("VIL016", "myorg/app is private or does not exist; Valohai has no credentials")]
    assert _lint_with("myregistry.azurecr.io/team/app:1", denied) == [
        ("VIL016", "myregistry.azurecr.io/team/app refuses anonymous pulls; Valohai has no"
                   " credentials")]
    assert _lint_with("ghcr.io/myorg/app:1", Verdict(anonymous_denied=True,
                                                     with_credentials=True)) == [
        ("VIL016", "ghcr.io/myorg/app pulls only with your credentials; Valohai has none")]
    # A pattern that covers the image as written: Valohai sends credentials.
    assert _lint_with("docker.io/myorg/app:1", denied,
                      {"private-registries": ["docker.io/myorg/*"]}) == []
    # Only as written: the short name does not match the pattern (VIL010's case), so Valohai
    # attaches nothing and the image still needs credentials.
    assert [code for code, _ in _lint_with("myorg/app:1", denied, {
        "private-registries": ["docker.io/myorg/*"]})] == ["VIL016"]
    assert _lint_with("myorg/app:1", Verdict(anonymous_denied=False)) == []


def test_every_check_is_silent_without_a_verdict_of_its_kind() -> None:
    assert _lint_with("python:3.11", Verdict(platform_found=True, stale=None,
                                             anonymous_denied=False)) == []
    pinned = "python:3.11@sha256:" + "a" * 64
    assert _lint_with(pinned, Verdict(stale=False, pinned_kind="index")) == []
    fixes: list[object] = []
    assert _lint_with(pinned, Verdict(stale=True, pinned_kind="manifest",
                                      current="sha256:" + "b" * 64), fixes=fixes) == [
        ("VIL015", "digest pinned for python:3.11 is stale")]
    assert fixes[0].edits[0].content == "python:3.11@sha256:" + "b" * 64  # type: ignore[attr-defined]
    # A "current" digest that is not a digest gives no fix (and is never written).
    fixes.clear()
    assert _lint_with(pinned, Verdict(stale=True, pinned_kind="index",
                                      current="sha256:\x1b[31m"), fixes=fixes) == [
        ("VIL015", "index digest pinned for python:3.11 is stale")]
    assert fixes == [None]


def test_offline_checks_from_the_cache_import_no_network_code(tmp_path: Path) -> None:
    """VIL013-VIL016 answered from the cache: findings and help, and none of the network
    stack imported (the harness of tests/test_startup.py)."""
    from test_startup import NETWORK, run
    from valohai_image_lint.registry.cache import AnswerCache
    from valohai_image_lint.registry.checks import FactsCache, PlatformFacts

    cache = AnswerCache(str(tmp_path / "cache"), 3600.0, lambda note: None)
    facts = FactsCache(cache)
    facts.put_missing("docker.io/pytorch/pytorch:2.2.0-runtim", "tag", ("2.2.0-runtime",), True)
    digest = "sha256:" + "c0" * 32
    cache.put_tag("docker.io/myorg/train", "1.0", digest)
    facts.put_facts(digest, "linux/amd64", PlatformFacts("manifest", False, None,
                                                         ("linux/arm64",)))
    facts.put_access("docker.io/myorg/train", False, False)
    (tmp_path / ".valohai-image-lint.toml").write_text(
        f'cache-dir = "{tmp_path / "cache"}"\nignore = ["VIL020"]\n', "utf-8")
    (tmp_path / "valohai.yaml").write_text(
        "- step:\n    name: a\n    image: pytorch/pytorch:2.2.0-runtim\n    command: x\n"
        "- step:\n    name: b\n    image: myorg/train:1.0\n    command: x\n", "utf-8")
    code, out, modules = run(tmp_path, "--offline", "valohai.yaml")
    assert code == 1
    assert "VIL013 [error] tag '2.2.0-runtim' of pytorch/pytorch does not exist" in out
    assert "help: did you mean `2.2.0-runtime`?" in out
    assert "VIL014 [error] myorg/train:1.0 has no linux/amd64 image (only linux/arm64)" in out
    assert sorted(m for m in NETWORK if m in modules) == []


@pytest.mark.parametrize("code", ["VIL013", "VIL014", "VIL015", "VIL016"])
def test_rule_command_says_the_rule_needs_registry_answers(
        code: str, capsys: pytest.CaptureFixture[str]) -> None:
    from valohai_image_lint.cli import main

    assert main(["rule", code]) == 0
    header = capsys.readouterr().out.splitlines()[2]
    assert header.endswith("; reports only from registry answers (--online, or the cache with"
                           " --offline).")
    assert main(["rule", "VIL010"]) == 0
    assert "registry answers" not in capsys.readouterr().out.splitlines()[2]
