"""Manifests: what to ask for, how to pick a platform, and how big an image is.

The Accept header must list all four media types: without it registry 2.8 answers 404 for OCI
content and silently down-converts Docker content to schema 1 (no sizes, another digest).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Optional

from valohai_image_lint.registry.validate import (
    MAX_SIZE,
    InvalidValueError,
    is_valid_digest,
    is_valid_size,
    loads,
    printable,
)

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
ACCEPT = ", ".join((OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST))
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
# The distribution registry refuses manifests above 4 MiB, so nothing larger is genuine.
MANIFEST_CAP = 4 * 1024 * 1024
# Platforms named in the "has no ... image" note; the rest are counted.
PLATFORMS_SHOWN = 12


class ManifestError(ValueError):
    """The registry answered with something that is not a usable manifest."""


@dataclass(frozen=True)
class Manifest:
    media_type: Optional[str]
    data: dict[str, Any]

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES or (
            self.media_type is None and isinstance(self.data.get("manifests"), list))


def digest_of(body: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, body).hexdigest()}"


def verify_digest(body: bytes, digest: str) -> bool:
    algorithm, _, _ = digest.partition(":")
    if algorithm not in ("sha256", "sha384", "sha512"):
        return False
    return digest_of(body, algorithm) == digest


def parse_manifest(body: bytes, content_type: Optional[str]) -> Manifest:
    try:
        data = loads(body)
    except InvalidValueError as exc:
        reason = "not JSON" if str(exc) == "not valid JSON" else f"unusable: {exc}"
        raise ManifestError(f"the manifest is {reason}") from None
    if not isinstance(data, dict):
        raise ManifestError("the manifest is not a JSON object")
    media_type = data.get("mediaType")
    if not isinstance(media_type, str):
        header_type = (content_type or "").split(";", 1)[0].strip()
        media_type = header_type if header_type in (*INDEX_TYPES, OCI_MANIFEST,
                                                    DOCKER_MANIFEST) else None
    if data.get("schemaVersion") != 2:
        raise ManifestError("the manifest is not schema 2 or OCI (old schema 1 has no sizes)")
    manifest = Manifest(media_type, data)
    if not manifest.is_index and not isinstance(data.get("layers"), list):
        raise ManifestError("the manifest has neither layers nor child manifests")
    return manifest


def _size_of(descriptor: Any) -> int:
    if not isinstance(descriptor, dict):
        raise ManifestError("a descriptor in the manifest is not an object")
    size = descriptor.get("size")
    if not is_valid_size(size):
        raise ManifestError("a descriptor in the manifest has no valid size"
                            " (a non-negative integer below 1 PiB)")
    assert isinstance(size, int)
    return size


def compressed_size(manifest: Manifest) -> int:
    """Bytes a pull downloads: the config blob plus every (compressed) layer."""
    layers = manifest.data.get("layers")
    assert isinstance(layers, list)
    total = _size_of(manifest.data.get("config")) + sum(_size_of(layer) for layer in layers)
    if total >= MAX_SIZE:
        raise ManifestError("the manifest's sizes add up to 1 PiB or more")
    return total


def _is_attestation(descriptor: dict[str, Any]) -> bool:
    platform = descriptor.get("platform")
    annotations = descriptor.get("annotations")
    if isinstance(annotations, dict) and (
        annotations.get("vnd.docker.reference.type") == "attestation-manifest"
    ):
        return True
    return isinstance(platform, dict) and (
        platform.get("os") == "unknown" or platform.get("architecture") == "unknown")


def _variant(architecture: str, variant: Optional[str]) -> Optional[str]:
    # Docker treats arm64 without a variant as arm64/v8.
    if architecture == "arm64" and variant in (None, ""):
        return "v8"
    return variant or None


def select_platform(index: Manifest, platform: str) -> Optional[dict[str, Any]]:
    """The index entry for ``platform`` (``os/arch[/variant]``), skipping attestations."""
    os_name, _, rest = platform.partition("/")
    architecture, _, variant = rest.partition("/")
    entries = index.data.get("manifests")
    if not isinstance(entries, list):
        raise ManifestError("the index has no manifests list")
    for entry in entries:
        if not isinstance(entry, dict) or _is_attestation(entry):
            continue
        found = entry.get("platform")
        if not isinstance(found, dict):
            continue
        if found.get("os") != os_name or found.get("architecture") != architecture:
            continue
        if variant and _variant(architecture, found.get("variant")) != _variant(architecture,
                                                                                 variant):
            continue
        if not is_valid_digest(entry.get("digest")):
            raise ManifestError("the index entry for the platform has no valid digest")
        return entry
    return None


def describe_platforms(index: Manifest) -> str:
    """The platforms an index offers, for a note: escaped, and at most ``PLATFORMS_SHOWN``."""
    found = list(dict.fromkeys(printable(name, 60) for name in available_platforms(index)))
    if not found:
        return "none"
    shown = ", ".join(found[:PLATFORMS_SHOWN])
    more = len(found) - PLATFORMS_SHOWN
    return shown + (f" and {more} more" if more > 0 else "")


def available_platforms(index: Manifest) -> list[str]:
    found = []
    for entry in index.data.get("manifests") or []:
        if isinstance(entry, dict) and not _is_attestation(entry):
            platform = entry.get("platform")
            if isinstance(platform, dict):
                parts = [str(platform.get("os")), str(platform.get("architecture"))]
                if platform.get("variant"):
                    parts.append(str(platform["variant"]))
                found.append("/".join(parts))
    return found
