"""Documented lighter variants of heavy images, for rule VIL021 (heavy-variant).

Each entry names repositories (full names, as ``parse_reference`` normalises them), a
regular expression that must match the whole tag, and the lighter tag as a template of the
expression's named groups. Only tags that follow the upstream naming scheme are listed:

- ``nvidia/cuda``: ``<cuda>[-cudnn<N>]-devel-<os>`` -> ``...-runtime-<os>``
  (https://hub.docker.com/r/nvidia/cuda, "Image flavors": base < runtime < devel).
- ``pytorch/pytorch``: ``<torch>-cuda<X.Y>-cudnn<N>-devel`` -> ``...-runtime``.
- ``python``: ``X[.Y[.Z]]`` -> ``X[.Y[.Z]]-slim`` and ``X[.Y[.Z]]-<debian>`` ->
  ``X[.Y[.Z]]-slim-<debian>`` (https://hub.docker.com/_/python, "Image Variants").
- ``tensorflow/tensorflow``: ``<version>[-gpu]-jupyter`` -> ``<version>[-gpu]``.

Users add their own with the ``lighter-variants`` configuration key (same fields).
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any, Optional

from valohai_image_lint._record import FrozenRecord, set_field


# A plain record class: a NamedTuple cost this module about 1.5 ms to define (the first
# NamedTuple of a run compiles its annotations and generates its methods), and a default
# run imports this module whenever VIL021 looks at an image of a listed repository.
class LighterVariant(FrozenRecord):
    """Tags of ``repositories`` that match ``tag`` have the lighter tag ``lighter``."""

    __slots__ = ("repositories", "tag", "lighter", "note")
    repositories: tuple[str, ...]
    # A regular expression matched against the whole tag.
    tag: str
    # The lighter tag: ``{group}`` placeholders name the expression's groups.
    lighter: str
    # Why the lighter variant is usually enough, and when it is not; shown in the message.
    note: str

    def __init__(self, repositories: tuple[str, ...], tag: str, lighter: str,
                 note: str = "") -> None:
        set_field(self, "repositories", repositories)
        set_field(self, "tag", tag)
        set_field(self, "lighter", lighter)
        set_field(self, "note", note)

    def lighter_tag(self, tag: str) -> Optional[str]:
        match = _compiled(self.tag).fullmatch(tag)
        if match is None:
            return None
        return self.lighter.format(**match.groupdict(default=""))


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


_DEBIAN = "bookworm|bullseye|buster|trixie"
_PYTHON_VERSION = r"[0-9]+(?:\.[0-9]+){0,2}"

BUILTIN_VARIANTS: tuple[LighterVariant, ...] = (
    LighterVariant(
        repositories=("docker.io/nvidia/cuda", "nvcr.io/nvidia/cuda"),
        tag=(r"(?P<cuda>[0-9]+\.[0-9]+(?:\.[0-9]+)?)-(?P<cudnn>cudnn[0-9]*-)?devel"
             r"-(?P<os>(?:ubuntu|rockylinux|ubi|centos|oraclelinux)[0-9]+(?:\.[0-9]+)?)"),
        lighter="{cuda}-{cudnn}runtime-{os}",
        note="-runtime has the CUDA libraries to run GPU code; -devel adds nvcc, headers"
        " and static libraries, needed only to compile CUDA code",
    ),
    LighterVariant(
        repositories=("docker.io/pytorch/pytorch",),
        tag=r"(?P<base>[0-9]+\.[0-9]+\.[0-9]+-cuda[0-9]+\.[0-9]+-cudnn[0-9]+)-devel",
        lighter="{base}-runtime",
        note="-runtime runs PyTorch on the GPU; -devel adds the CUDA toolkit (nvcc),"
        " needed only to compile CUDA extensions",
    ),
    LighterVariant(
        repositories=("docker.io/library/python",),
        tag=rf"(?P<version>{_PYTHON_VERSION})",
        lighter="{version}-slim",
        note="-slim leaves out compilers and build headers, needed only to build packages"
        " without wheels",
    ),
    LighterVariant(
        repositories=("docker.io/library/python",),
        tag=rf"(?P<version>{_PYTHON_VERSION})-(?P<debian>{_DEBIAN})",
        lighter="{version}-slim-{debian}",
        note="-slim leaves out compilers and build headers, needed only to build packages"
        " without wheels",
    ),
    LighterVariant(
        repositories=("docker.io/tensorflow/tensorflow",),
        tag=r"(?P<base>(?:[0-9]+\.[0-9]+\.[0-9]+|latest|nightly)(?:-gpu)?)-jupyter",
        lighter="{base}",
        note="-jupyter adds a Jupyter server, which a Valohai execution does not use",
    ),
)

_FIELDS = ("repositories", "tag", "lighter", "note")
_SHAPE = ('a list of tables such as {repositories = ["myorg/base"], tag = "(?P<v>.+)-full",'
          ' lighter = "{v}-slim"}')


def parse_lighter_variants(value: Any) -> tuple[LighterVariant, ...]:
    """Validate the ``lighter-variants`` configuration value; raise ``ValueError`` saying
    what was expected (the configuration loader adds the key and file)."""
    import string

    from valohai_image_lint.reference import InvalidReferenceError, parse_reference

    if not isinstance(value, list):
        raise ValueError(_SHAPE)
    variants = []
    for index, entry in enumerate(value):
        where = f"a list of variant tables, but entry {index + 1}"
        if not isinstance(entry, dict):
            raise ValueError(f"{where} is not a table")
        unknown = sorted(set(entry) - set(_FIELDS))
        if unknown:
            raise ValueError(f"{where} has unknown field {unknown[0]!r}")
        repositories = entry.get("repositories")
        if isinstance(repositories, str):
            repositories = [repositories]
        if (not isinstance(repositories, list) or not repositories
                or not all(isinstance(r, str) for r in repositories)):
            raise ValueError(f"{where} needs repositories, a list of image names")
        names = []
        for repository in repositories:
            try:
                reference = parse_reference(repository)
            except InvalidReferenceError as exc:
                raise ValueError(f"{where}: repository {repository!r}: {exc}") from None
            if reference.tag is not None or reference.digest is not None:
                raise ValueError(f"{where}: repository {repository!r} must not have a tag")
            names.append(reference.name)
        tag, lighter, note = entry.get("tag"), entry.get("lighter"), entry.get("note", "")
        if not isinstance(tag, str) or not isinstance(lighter, str) or not isinstance(note, str):
            raise ValueError(f"{where} needs tag and lighter, strings")
        try:
            groups = set(re.compile(tag).groupindex)
        except re.error as exc:
            raise ValueError(f"{where}: tag is not a valid regular expression: {exc}") from None
        try:
            placeholders = {name for _, name, _, _ in string.Formatter().parse(lighter)
                            if name is not None}
        except ValueError as exc:
            raise ValueError(f"{where}: lighter is not a valid template: {exc}") from None
        missing = sorted(placeholders - groups)
        if missing:
            raise ValueError(f"{where}: lighter uses {{{missing[0]}}}, which tag does not"
                             " define as a named group (?P<name>...)")
        variants.append(LighterVariant(tuple(names), tag, lighter, note))
    return tuple(variants)
