"""Registry credentials and authentication challenges.

Credentials come from ``$DOCKER_CONFIG/config.json`` (default ``~/.docker/config.json``) in
Docker's order: ``credHelpers[host]``, then ``credsStore``, then ``auths``. A configured helper
program that is not installed means going on anonymously, with a note. Helpers for different
registries run concurrently, each bounded by ``HELPER_TIMEOUT`` and by the run's deadline (a
helper still running when it passes, or on Ctrl-C, is killed). Secrets live only in
``Credentials`` (whose repr hides them) and in request headers; no message ever includes them.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

from valohai_image_lint.registry.validate import InvalidValueError, loads

if TYPE_CHECKING:
    from valohai_image_lint.registry.transport import Deadline

DOCKER_HUB = "docker.io"
DOCKER_HUB_SERVER = "https://index.docker.io/v1/"
DOCKER_HUB_ALIASES = ("docker.io", "index.docker.io", "registry-1.docker.io",
                      "registry.hub.docker.com")
HELPER_TIMEOUT = 15.0
CONFIG_CAP = 4 * 1024 * 1024
HELPER_OUTPUT_CAP = 1024 * 1024


# What a credential helper answers as Username when its Secret is an identity token.
IDENTITY_TOKEN_USER = "<token>"


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)
    # An OAuth2 refresh token (``identitytoken`` in config.json, or a helper's
    # ``Username: <token>``), exchanged at the token realm by the refresh-token grant.
    identity_token: Optional[str] = field(default=None, repr=False)

    def basic_header(self) -> Optional[str]:
        """Basic credentials; None for an identity token, which is never sent as a password."""
        if self.identity_token is not None:
            return None
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")


@dataclass(frozen=True)
class Challenge:
    """One parsed ``WWW-Authenticate`` challenge: ``Bearer realm=..., service=...``."""

    scheme: str  # lower case: "bearer" or "basic"
    params: dict[str, str]


_PARAM_RE = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?')


def parse_www_authenticate(value: str) -> Optional[Challenge]:
    """Parse the first challenge of a ``WWW-Authenticate`` header; None if unreadable."""
    match = re.match(r"\s*([A-Za-z][A-Za-z0-9_-]*)\s*(.*)", value, re.DOTALL)
    if match is None:
        return None
    scheme, rest = match.group(1).lower(), match.group(2)
    params: dict[str, str] = {}
    position = 0
    while position < len(rest):
        param = _PARAM_RE.match(rest, position)
        if param is None or param.end() == position:
            break
        quoted, bare = param.group(2), param.group(3)
        text = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare
        params[param.group(1).lower()] = text or ""
        position = param.end()
    return Challenge(scheme, params)


def registry_key(host: str) -> str:
    """The host a credential belongs to, from a reference domain or an ``auths`` key."""
    text = host.strip()
    if "://" in text:
        text = text.split("://", 1)[1]
    text = text.split("/", 1)[0].lower()
    return DOCKER_HUB if text in DOCKER_HUB_ALIASES else text


def helper_server_url(domain: str) -> str:
    """What Docker passes to ``docker-credential-* get`` for a registry."""
    return DOCKER_HUB_SERVER if registry_key(domain) == DOCKER_HUB else domain


class CredentialStore:
    """Looks credentials up once per registry; thread-safe."""

    def __init__(self, notes: Callable[[str], None], config_dir: Optional[str] = None,
                 deadline: Optional[Deadline] = None) -> None:
        self._notes = notes
        directory = config_dir or os.environ.get("DOCKER_CONFIG") or str(Path.home() / ".docker")
        self.path = Path(directory) / "config.json"
        self._deadline = deadline
        self._config: Optional[dict[str, Any]] = None
        self._found: dict[str, Optional[Credentials]] = {}
        self._lock = threading.Lock()
        self._config_lock = threading.Lock()
        # One lock per registry: a slow helper for one registry does not hold up the others.
        self._key_locks: dict[str, threading.Lock] = {}

    def get(self, domain: str) -> Optional[Credentials]:
        key = registry_key(domain)
        with self._lock:
            if key in self._found:
                return self._found[key]
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in self._found:
                    return self._found[key]
            found = self._look_up(key, domain)
            with self._lock:
                self._found[key] = found
            return found

    def _load(self) -> dict[str, Any]:
        with self._config_lock:
            return self._load_locked()

    def _load_locked(self) -> dict[str, Any]:
        if self._config is None:
            self._config = {}
            try:
                with self.path.open("rb") as handle:
                    data = loads(handle.read(CONFIG_CAP))
            except FileNotFoundError:
                return self._config
            except (OSError, InvalidValueError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) else str(exc)
                self._notes(f"{self.path}: cannot read Docker credentials ({reason});"
                            " looking up anonymously")
                return self._config
            if isinstance(data, dict):
                self._config = data
        return self._config

    def _look_up(self, key: str, domain: str) -> Optional[Credentials]:
        config = self._load()
        helpers = config.get("credHelpers")
        if isinstance(helpers, dict):
            for host, helper in helpers.items():
                if isinstance(helper, str) and registry_key(host) == key:
                    return self._from_helper(helper, domain)
        store = config.get("credsStore")
        if isinstance(store, str) and store:
            return self._from_helper(store, domain)
        auths = config.get("auths")
        if isinstance(auths, dict):
            for host, entry in auths.items():
                if registry_key(host) == key and isinstance(entry, dict):
                    found = _from_auth_entry(entry)
                    if found is not None:
                        return found
        return None

    def _from_helper(self, name: str, domain: str) -> Optional[Credentials]:
        program = shutil.which(f"docker-credential-{name}")
        if program is None:
            self._notes(f"credential helper docker-credential-{name} (for {registry_key(domain)})"
                        " is not installed; looking up anonymously")
            return None
        timeout = HELPER_TIMEOUT
        if self._deadline is not None:
            timeout = min(timeout, self._deadline.remaining())
            if timeout <= 0:
                self._notes(f"credential helper docker-credential-{name} not run: the time"
                            " budget for registry lookups is used up")
                return None
        try:
            stdout, returncode = self._run_helper(program, helper_server_url(domain), timeout)
        except (OSError, subprocess.SubprocessError):
            self._notes(f"credential helper docker-credential-{name} failed; looking up"
                        " anonymously")
            return None
        if returncode is None:
            self._notes(f"credential helper docker-credential-{name} did not answer in time;"
                        " looking up anonymously")
            return None
        if returncode != 0:
            return None  # "credentials not found": anonymous, as Docker does
        try:
            data = loads(stdout[:HELPER_OUTPUT_CAP])
        except InvalidValueError:
            data = None
        if not isinstance(data, dict):
            self._notes(f"credential helper docker-credential-{name} gave an unreadable answer;"
                        " looking up anonymously")
            return None
        username, secret = data.get("Username"), data.get("Secret")
        if not isinstance(username, str) or not isinstance(secret, str) or not secret:
            return None
        if username == IDENTITY_TOKEN_USER:
            return Credentials(username, "", identity_token=secret)
        return Credentials(username, secret)


    def _run_helper(self, program: str, server: str,
                    timeout: float) -> tuple[bytes, Optional[int]]:
        """stdout and exit status of ``program get``; status None when it ran out of time (it is
        killed then, also when the run's deadline passes or the run is interrupted)."""
        process = subprocess.Popen([program, "get"], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        watch = self._deadline.watch(process.kill) if self._deadline is not None else None
        try:
            try:
                stdout, _ = process.communicate(server.encode(), timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()
                return b"", None
            if process.returncode < 0:  # killed by the deadline's watchdog
                return b"", None
            return stdout, process.returncode
        finally:
            if watch is not None and self._deadline is not None:
                self._deadline.unwatch(watch)


def _from_auth_entry(entry: dict[str, Any]) -> Optional[Credentials]:
    token = entry.get("identitytoken")
    if isinstance(token, str) and token:
        # ``az acr login`` stores the user in ``auth`` and the refresh token here; Docker then
        # uses only the token.
        return Credentials(IDENTITY_TOKEN_USER, "", identity_token=token)
    encoded = entry.get("auth")
    if isinstance(encoded, str) and encoded:
        try:
            decoded = base64.b64decode(encoded, validate=False).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return None
        user, sep, secret = decoded.partition(":")
        return Credentials(user, secret) if sep else None
    username, password = entry.get("username"), entry.get("password")
    if isinstance(username, str) and isinstance(password, str):
        return Credentials(username, password)
    return None
