"""The answer cache: one small JSON file per answer in ``cache-dir``.

Two kinds of answers:

- ``tag``: which digest a tag pointed to; expires after ``cache-ttl`` (tags move).
- ``size``: the compressed size of a digest for a platform; never expires (a digest names
  exactly one piece of content).

Files are written atomically (temporary file + rename) so that parallel runs never see half an
answer; an unreadable or corrupt file is ignored with a note and replaced on the next write.
Entries are opened without following symlinks and without blocking, and only a regular file
is read (a FIFO planted at an entry's path cannot hang a run); every value is validated as if
a registry had sent it. The directories are created private (0700).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import stat
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from valohai_image_lint.registry.validate import (
    InvalidValueError,
    is_valid_digest,
    is_valid_size,
    loads,
)

CACHE_VERSION = "v1"
ENTRY_CAP = 64 * 1024
# A tag answer stored "in the future" by more than this means the clock moved; ignore it.
CLOCK_SKEW = 300.0


def default_cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return str(Path(base) / "valohai-image-lint")


@dataclass(frozen=True)
class SizeAnswer:
    size: int
    # The platform the size is for; None for a single-platform image.
    platform: Optional[str]


class AnswerCache:
    def __init__(self, directory: str, tag_ttl: float, notes: Callable[[str], None]) -> None:
        self.directory = Path(directory) / CACHE_VERSION
        self.tag_ttl = tag_ttl
        self._notes = notes
        self._write_failed = False
        self._lock = threading.Lock()

    def _path(self, kind: str, key: str) -> Path:
        name = hashlib.sha256(key.encode()).hexdigest()
        return self.directory / kind / f"{name}.json"

    def _read(self, kind: str, key: str) -> Optional[dict[str, Any]]:
        path = self._path(kind, key)
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        try:
            descriptor = os.open(path, flags)
        except FileNotFoundError:
            return None
        except OSError as exc:
            self._notes(f"cache entry {path} unreadable ({exc.strerror or exc}); ignored")
            return None
        try:
            if not stat.S_ISREG(os.fstat(descriptor).st_mode):
                self._notes(f"cache entry {path} is not a regular file; ignored")
                return None
            raw = os.read(descriptor, ENTRY_CAP + 1)
        except OSError as exc:
            self._notes(f"cache entry {path} unreadable ({exc.strerror or exc}); ignored")
            return None
        finally:
            os.close(descriptor)
        try:
            data = loads(raw) if len(raw) <= ENTRY_CAP else None
        except InvalidValueError:
            data = None
        if not isinstance(data, dict) or data.get("key") != key:
            self._notes(f"cache entry {path} is corrupt; ignored")
            return None
        return data

    def _write(self, kind: str, key: str, data: dict[str, Any]) -> None:
        path = self._path(kind, key)
        payload = json.dumps({"key": key, **data}, sort_keys=True).encode()
        try:
            self._make_directories(path.parent)
            handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-",
                                                 suffix=".json")
            try:
                with os.fdopen(handle, "wb") as stream:
                    stream.write(payload)
                os.replace(temporary, path)
            except BaseException:
                os.unlink(temporary)
                raise
        except OSError as exc:
            with self._lock:
                first = not self._write_failed
                self._write_failed = True
            if first:
                self._notes(f"cannot write the cache in {self.directory.parent}"
                            f" ({exc.strerror or exc}); answers are not kept")

    def _make_directories(self, leaf: Path) -> None:
        """The cache directory and its subdirectories, created 0700 (existing ones kept)."""
        base = self.directory.parent
        base.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            base.mkdir(mode=0o700)  # an existing cache-dir is the user's: left as it is
        for directory in (self.directory, leaf):
            try:
                directory.mkdir(mode=0o700)
            except FileExistsError:
                # Ours, but perhaps from a version that made it readable to others.
                with contextlib.suppress(OSError):
                    if stat.S_IMODE(directory.stat().st_mode) & 0o077:
                        directory.chmod(0o700)

    def get_tag(self, name: str, tag: str) -> Optional[str]:
        data = self._read("tags", f"{name}:{tag}")
        if data is None:
            return None
        stored, digest = data.get("stored"), data.get("digest")
        if (not isinstance(stored, (int, float)) or isinstance(stored, bool)
                or not math.isfinite(stored) or not is_valid_digest(digest)):
            self._notes(f"cache entry {self._path('tags', f'{name}:{tag}')} is corrupt; ignored")
            return None
        age = time.time() - stored
        if age > self.tag_ttl or age < -CLOCK_SKEW:
            return None
        assert isinstance(digest, str)
        return digest

    def put_tag(self, name: str, tag: str, digest: str) -> None:
        if is_valid_digest(digest):
            self._write("tags", f"{name}:{tag}", {"digest": digest, "stored": time.time()})

    def forget_tag(self, name: str, tag: str) -> None:
        """Drop a tag's answer (its digest turned out not to name what the registry serves)."""
        with contextlib.suppress(OSError):
            os.unlink(self._path("tags", f"{name}:{tag}"))

    def get_size(self, digest: str, platform: str) -> Optional[SizeAnswer]:
        key = f"{digest} {platform}"
        data = self._read("sizes", key)
        if data is None:
            return None
        size, for_platform = data.get("size"), data.get("platform")
        if (not is_valid_size(size)
                or not (for_platform is None or isinstance(for_platform, str))
                or (isinstance(for_platform, str) and for_platform != platform)):
            self._notes(f"cache entry {self._path('sizes', key)} is corrupt; ignored")
            return None
        assert isinstance(size, int)
        return SizeAnswer(size, for_platform)

    def put_size(self, digest: str, platform: str, answer: SizeAnswer) -> None:
        self._write("sizes", f"{digest} {platform}",
                    {"size": answer.size, "platform": answer.platform, "stored": time.time()})
