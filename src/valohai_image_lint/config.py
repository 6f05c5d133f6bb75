"""Configuration: ``[tool.valohai-image-lint]`` in pyproject.toml or ``.valohai-image-lint.toml``.

TOML is parsed only when a configuration file exists, and a pyproject.toml without our table
is skipped without parsing it at all.
"""

from __future__ import annotations

import os
import re
import sys
from typing import TYPE_CHECKING, Any, Callable, Optional, Union

from valohai_image_lint._record import FrozenRecord, set_field
from valohai_image_lint.diagnostic import Severity

if TYPE_CHECKING:
    from valohai_image_lint.data.lighter_variants import LighterVariant

    # A path as a str or a pathlib.Path. The start-up path works on str with os.path:
    # pathlib imports urllib.parse and ipaddress, about 3 ms of a pre-commit run. (Only for
    # the type checker: a Union with a string part compiles it, about 1 ms at start-up.)
    StrPath = Union[str, os.PathLike[str]]

PROJECT_FILE = "pyproject.toml"
DEDICATED_FILE = ".valohai-image-lint.toml"
TABLE = "valohai-image-lint"

DEFAULT_FLOATING_TAGS = ("latest", "latest-*", "nightly", "edge")
DEFAULT_MAX_IMAGE_SIZE = 4 * 10**9
DEFAULT_PLATFORM = "linux/amd64"
DEFAULT_CACHE_TTL = 24 * 3600


class ConfigError(Exception):
    """A configuration problem; the message names the file and the key."""


class Config(FrozenRecord):
    __slots__ = ("select", "extend_select", "ignore", "per_file_ignores", "fail_level",
                 "private_registries", "private_hosts", "allowed_registries", "floating_tags",
                 "max_image_size", "platform", "image_sizes", "online", "cache_dir",
                 "insecure_registries", "cache_ttl", "lighter_variants", "source", "root")
    # Where the configuration came from and the directory paths are relative to: not compared.
    _compared = __slots__[:-2]
    select: Optional[tuple[str, ...]]
    extend_select: tuple[str, ...]
    ignore: tuple[str, ...]
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...]
    fail_level: Severity
    private_registries: tuple[str, ...]
    private_hosts: tuple[str, ...]
    allowed_registries: tuple[str, ...]
    floating_tags: tuple[str, ...]
    max_image_size: int
    platform: str
    image_sizes: tuple[tuple[str, int], ...]
    online: bool
    cache_dir: Optional[str]
    insecure_registries: tuple[str, ...]
    # Seconds a cached tag -> digest answer stays valid (digest answers never expire).
    cache_ttl: int
    # Extra VIL021 heavy-variant entries, checked before the built-in table.
    lighter_variants: tuple[LighterVariant, ...]
    source: Optional[str]
    root: str

    def __init__(self, select: Optional[tuple[str, ...]] = None,
                 extend_select: tuple[str, ...] = (), ignore: tuple[str, ...] = (),
                 per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = (),
                 fail_level: Severity = Severity.WARNING,
                 private_registries: tuple[str, ...] = (), private_hosts: tuple[str, ...] = (),
                 allowed_registries: tuple[str, ...] = (),
                 floating_tags: tuple[str, ...] = DEFAULT_FLOATING_TAGS,
                 max_image_size: int = DEFAULT_MAX_IMAGE_SIZE, platform: str = DEFAULT_PLATFORM,
                 image_sizes: tuple[tuple[str, int], ...] = (), online: bool = False,
                 cache_dir: Optional[str] = None, insecure_registries: tuple[str, ...] = (),
                 cache_ttl: int = DEFAULT_CACHE_TTL,
                 lighter_variants: tuple[LighterVariant, ...] = (), source: Optional[str] = None,
                 root: str = ".") -> None:
        set_field(self, "select", select)
        set_field(self, "extend_select", extend_select)
        set_field(self, "ignore", ignore)
        set_field(self, "per_file_ignores", per_file_ignores)
        set_field(self, "fail_level", fail_level)
        set_field(self, "private_registries", private_registries)
        set_field(self, "private_hosts", private_hosts)
        set_field(self, "allowed_registries", allowed_registries)
        set_field(self, "floating_tags", floating_tags)
        set_field(self, "max_image_size", max_image_size)
        set_field(self, "platform", platform)
        set_field(self, "image_sizes", image_sizes)
        set_field(self, "online", online)
        set_field(self, "cache_dir", cache_dir)
        set_field(self, "insecure_registries", insecure_registries)
        set_field(self, "cache_ttl", cache_ttl)
        set_field(self, "lighter_variants", lighter_variants)
        set_field(self, "source", source)
        set_field(self, "root", root)

    def with_overrides(self, **changes: Any) -> Config:
        values = {name: getattr(self, name) for name in self.__slots__}
        values.update((k, v) for k, v in changes.items() if v is not None)
        return Config(**values)


# ---------------------------------------------------------------------------------------------
# Value checkers: each takes (value, key) and returns the typed value or raises ValueError
# with the expected type in words.

def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("a string")
    return value


def _string_list(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("a list of strings")
    return tuple(value)


def _pattern_list(value: Any) -> tuple[str, ...]:
    """Registry or host patterns: an empty one would match nothing or, read loosely, everything;
    either way it is a mistake, so it is refused rather than guessed at."""
    patterns = _string_list(value)
    if any(not pattern.strip() for pattern in patterns):
        raise ValueError("a list of non-empty patterns")
    return patterns


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("true or false")
    return value


def _severity(value: Any) -> Severity:
    try:
        return Severity(value)
    except ValueError:
        raise ValueError('one of "error", "warning", "info"') from None


# Patterns compiled on first use (re caches them): most configurations have no size.
_SIZE = r"\s*([0-9]+(?:\.[0-9]+)?)\s*([kmgt]i?b|b)?\s*"
_SIZE_UNITS = {
    "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
}


def parse_size(value: Any) -> int:
    """``"4 GB"`` (decimal), ``"3.5GiB"`` (binary) or a whole number of bytes."""
    if isinstance(value, bool):
        raise ValueError('a size such as "4 GB" or a number of bytes')
    if isinstance(value, int) and value >= 0:
        return value
    if isinstance(value, str):
        match = re.fullmatch(_SIZE, value, re.IGNORECASE)
        if match:
            unit = (match.group(2) or "b").lower()
            return int(float(match.group(1)) * _SIZE_UNITS[unit])
    raise ValueError('a size such as "4 GB" or a number of bytes')


def _image_sizes(value: Any) -> tuple[tuple[str, int], ...]:
    if not isinstance(value, dict):
        raise ValueError('a table of image = size, e.g. {"python:3.11" = "50 MB"}')
    from valohai_image_lint.reference import InvalidReferenceError, parse_reference

    for key in value:
        try:
            parse_reference(key)
        except InvalidReferenceError as exc:
            # A key that is no image would silently never match.
            raise ValueError(f"a table of image = size whose keys are images ({key!r}: {exc})"
                             ) from None
    return tuple((str(k), parse_size(v)) for k, v in value.items())


def _per_file_ignores(value: Any) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if not isinstance(value, dict) or not all(
        isinstance(v, list) and all(isinstance(c, str) for c in v) for v in value.values()
    ):
        raise ValueError('a table of glob = [codes], e.g. {"legacy/*" = ["VIL002"]}')
    return tuple((str(k), tuple(v)) for k, v in value.items())


_DURATION = r"\s*([0-9]+(?:\.[0-9]+)?)\s*(s|sec|min|m|h|d)?\s*"
_DURATION_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any) -> int:
    """``"24 h"``, ``"30 min"``, ``"2 d"``, ``"90 s"`` or a whole number of seconds (``90`` or
    ``"90"``). ``0`` is valid: a cached tag answer is never trusted."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str):
        match = re.fullmatch(_DURATION, value, re.IGNORECASE)
        if match:
            unit = (match.group(2) or "s").lower()
            return int(float(match.group(1)) * _DURATION_UNITS[unit])
    raise ValueError('a duration such as "24 h", "30 min" or a number of seconds')


def _platform(value: Any) -> str:
    text = _string(value)
    if not re.fullmatch(r"[a-z0-9]+/[a-z0-9_]+(?:/[a-z0-9]+)?", text):
        raise ValueError('a platform such as "linux/amd64" or "linux/arm64/v8"')
    return text


def _lighter_variants(value: Any) -> tuple[LighterVariant, ...]:
    # Imported only for a configuration that has the key: VIL021 loads the built-in table
    # itself, and only for an image of a repository it lists.
    from valohai_image_lint.data.lighter_variants import parse_lighter_variants

    return parse_lighter_variants(value)


_CHECKERS: dict[str, Callable[[Any], Any]] = {
    "select": _string_list,
    "extend-select": _string_list,
    "ignore": _string_list,
    "per-file-ignores": _per_file_ignores,
    "fail-level": _severity,
    "private-registries": _pattern_list,
    "private-hosts": _pattern_list,
    "allowed-registries": _pattern_list,
    "floating-tags": _string_list,
    "max-image-size": parse_size,
    "platform": _platform,
    "image-sizes": _image_sizes,
    "online": _bool,
    "cache-dir": _string,
    "insecure-registries": _pattern_list,
    "cache-ttl": parse_duration,
    "lighter-variants": _lighter_variants,
}

KNOWN_KEYS = tuple(_CHECKERS)


def config_from_table(table: Any, source: str, root: str) -> Config:
    """Validate a configuration table; raise ``ConfigError`` naming the key and file."""
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: [tool.{TABLE}] must be a table")
    values: dict[str, Any] = {}
    for key, raw in table.items():
        checker = _CHECKERS.get(key)
        if checker is None:
            import difflib  # only for this message

            close = difflib.get_close_matches(key, KNOWN_KEYS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            if key == "tool" and isinstance(raw, dict) and TABLE in raw:
                hint = (f" (in {DEDICATED_FILE} the keys go at the top level, without"
                        f" [tool.{TABLE}])")
            raise ConfigError(f"{source}: unknown key {key!r}{hint}")
        try:
            values[key.replace("-", "_")] = checker(raw)
        except ValueError as exc:
            raise ConfigError(f"{source}: {key!r} must be {exc}, not {raw!r}") from None
    valid = set(Config.__slots__)
    assert set(values) <= valid
    if "cache_dir" in values:
        values["cache_dir"] = as_pathlib_writes(os.path.join(root, values["cache_dir"]))
    return Config(**values, source=source, root=root)


def as_pathlib_writes(path: str) -> str:
    """``path`` as ``str(pathlib.Path(path))`` writes it (no ``.`` parts, no doubled or
    trailing slashes), so that messages and sources name files as they did with pathlib."""
    parts = [part for part in path.split("/") if part and part != "."]
    if path.startswith("//") and not path.startswith("///"):
        head = "//"
    else:
        head = "/" if path.startswith("/") else ""
    return head + "/".join(parts) or "."


def _load_toml(path: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on old Pythons only
        import tomli as tomllib
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: invalid TOML: not UTF-8") from None


def load_config_file(file: StrPath) -> Config:
    """Load an explicitly named file: a pyproject.toml uses its table, any other file its top."""
    path = as_pathlib_writes(os.fspath(file))
    if not os.path.isfile(path):
        raise ConfigError(f"{path}: configuration file not found")
    data = _load_toml(path)
    root = os.path.dirname(os.path.realpath(path))
    if os.path.basename(path) == PROJECT_FILE:
        table = data.get("tool", {}).get(TABLE)
        if table is None:
            raise ConfigError(f"{path}: has no [tool.{TABLE}] table")
        return config_from_table(table, str(path), root)
    return config_from_table(data, str(path), root)


def load_project_table(file: StrPath) -> Optional[Config]:
    """The configuration in a pyproject.toml's table, or None when it has none (then it is
    not a configuration, and the search goes on upward)."""
    project = as_pathlib_writes(os.fspath(file))
    try:
        with open(project, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return None
    # Parse only a pyproject.toml that can hold our table.
    if f"tool.{TABLE}" not in text and f'tool."{TABLE}"' not in text:
        return None
    table = _load_toml(project).get("tool", {}).get(TABLE)
    if table is None:
        return None
    return config_from_table(table, project, os.path.realpath(os.path.dirname(project)))


def discover_config(start: Optional[StrPath] = None) -> Config:
    """Search upward from ``start`` (the working directory) for a configuration."""
    folder = os.path.realpath(os.getcwd() if start is None else os.fspath(start))
    while True:
        dedicated = os.path.join(folder, DEDICATED_FILE)
        if os.path.isfile(dedicated):
            return load_config_file(dedicated)
        project = os.path.join(folder, PROJECT_FILE)
        if os.path.isfile(project):
            config = load_project_table(project)
            if config is not None:
                return config
        parent = os.path.dirname(folder)
        if parent == folder:
            return Config()
        folder = parent


def path_matches(pattern: str, path: str, root: str) -> bool:
    """Match a per-file-ignores glob against ``path`` relative to the configuration root."""
    from fnmatch import fnmatchcase

    try:
        relative = os.path.relpath(os.path.abspath(path), root).replace(os.sep, "/")
    except ValueError:  # another drive on Windows
        relative = path.replace(os.sep, "/")
    if fnmatchcase(relative, pattern):
        return True
    return "/" not in pattern and fnmatchcase(os.path.basename(path), pattern)
