"""A repository's tags, for VIL013's "did you mean" suggestions.

``GET /v2/<name>/tags/list?n=<page>`` and then the ``Link: <...>; rel="next"`` pages, bounded
three ways: at most ``MAX_PAGES`` pages, ``MAX_TAGS`` tags and ``PAGE_CAP`` bytes per page. A
next link is followed only when it is a path of the same repository's tags list on the same
registry. Every name must match the reference grammar's tag pattern; anything else is dropped.
"""

from __future__ import annotations

import difflib
import re
from typing import TYPE_CHECKING, Optional
from urllib.parse import urlsplit

from valohai_image_lint.registry.checks import MAX_SUGGESTIONS, TAG_RE
from valohai_image_lint.registry.transport import RegistryError
from valohai_image_lint.registry.validate import InvalidValueError, loads

if TYPE_CHECKING:
    from valohai_image_lint.registry.client import RegistryClient

PAGE_SIZE = 1000
MAX_PAGES = 10
MAX_TAGS = 10_000
PAGE_CAP = 1024 * 1024
_NEXT_RE = re.compile(r'<([^>]*)>\s*;\s*rel="?next"?')


class RepositoryNotFoundError(RegistryError):
    """The registry does not know the repository at all (``NAME_UNKNOWN``)."""


def list_tags(client: RegistryClient, repository: str) -> tuple[list[str], bool]:
    """The repository's tags (valid names only) and whether the list is complete."""
    base = f"/v2/{repository}/tags/list"
    path: Optional[str] = f"{base}?n={PAGE_SIZE}"
    tags: list[str] = []
    seen: set[str] = set()
    pages = 0
    while path is not None:
        if pages >= MAX_PAGES or len(tags) >= MAX_TAGS:
            return tags, False
        pages += 1
        response = client.get(path, repository, PAGE_CAP)
        if response.status == 404:
            raise RepositoryNotFoundError(f"{client.domain}/{repository} not found")
        if response.status != 200:
            raise RegistryError(f"{client.domain}/{repository}: listing tags answered HTTP"
                                f" {response.status}")
        try:
            data = loads(response.body)
        except InvalidValueError as exc:
            raise RegistryError(f"{client.domain}/{repository}: the tags list is {exc}") from None
        names = data.get("tags") if isinstance(data, dict) else None
        if names is None:
            names = []  # registry 2.8 sends null for a repository without tags
        if not isinstance(names, list):
            raise RegistryError(f"{client.domain}/{repository}: the tags list is malformed")
        for name in names:
            if (isinstance(name, str) and TAG_RE.fullmatch(name) and name not in seen
                    and len(tags) < MAX_TAGS):
                seen.add(name)
                tags.append(name)
        path = _next_page(response.header("Link"), base)
    return tags, True


def _next_page(link: Optional[str], base: str) -> Optional[str]:
    """The next page's path, when the Link header names one of the same list."""
    if not link:
        return None
    match = _NEXT_RE.search(link)
    if match is None:
        return None
    parts = urlsplit(match.group(1))
    if parts.scheme or parts.netloc or parts.path != base:
        return None  # another host or another repository: not followed
    return f"{parts.path}?{parts.query}" if parts.query else None


def closest_tags(wanted: str, tags: list[str], limit: int = MAX_SUGGESTIONS) -> tuple[str, ...]:
    """The existing tags most like ``wanted``, best first (nothing when none is close)."""
    return tuple(difflib.get_close_matches(wanted, tags, n=limit, cutoff=0.6))
