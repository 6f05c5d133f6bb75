"""Per file: its configuration, its rules, linting and fixing.

What the command line (and a language server, and the tests) call. For each file the nearest
``.valohai-image-lint.toml`` or ``pyproject.toml`` with a ``[tool.valohai-image-lint]`` table
is found by searching upward from the file's directory, as ruff does; ``--config`` names one
for every file. The command line's ``--select``/``--ignore``/... apply on top of each file's
configuration. Discovery and rule selection are cached per directory and per configuration,
so ten thousand files cost a few directory lookups each, once.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Callable, Optional, TextIO, TypeVar

from valohai_image_lint._record import FrozenRecord, set_field
from valohai_image_lint.config import (
    DEDICATED_FILE,
    PROJECT_FILE,
    Config,
    ConfigError,
    load_config_file,
    load_project_table,
)
from valohai_image_lint.diagnostic import Diagnostic, Severity
from valohai_image_lint.rules import RuleSet, UnknownRuleError, match_selector, select_rules

if TYPE_CHECKING:
    from valohai_image_lint.config import StrPath
    from valohai_image_lint.fixes import FixOutcome
    from valohai_image_lint.linter import NoqaWarning
    from valohai_image_lint.reference import ImageReference
    from valohai_image_lint.source import SourceFile


class WorkspaceError(Exception):
    """A configuration or selector problem, naming the file or option (exit 2)."""


class Overrides(FrozenRecord):
    """Settings from the command line, applied on top of each file's configuration."""

    __slots__ = ("select", "extend_select", "ignore", "fail_level", "online")
    select: Optional[tuple[str, ...]]
    extend_select: tuple[str, ...]
    ignore: tuple[str, ...]
    fail_level: Optional[Severity]
    online: Optional[bool]

    def __init__(self, select: Optional[tuple[str, ...]] = None,
                 extend_select: tuple[str, ...] = (), ignore: tuple[str, ...] = (),
                 fail_level: Optional[Severity] = None, online: Optional[bool] = None) -> None:
        set_field(self, "select", select)
        set_field(self, "extend_select", extend_select)
        set_field(self, "ignore", ignore)
        set_field(self, "fail_level", fail_level)
        set_field(self, "online", online)

    def check(self) -> None:
        """Every selector names a rule; the error names the option."""
        for option, selectors in (("--select", self.select or ()),
                                  ("--extend-select", self.extend_select),
                                  ("--ignore", self.ignore)):
            for selector in selectors:
                try:
                    match_selector(selector)
                except UnknownRuleError as exc:
                    raise WorkspaceError(f"{option}: {exc}; `valohai-image-lint rules` lists"
                                         " them") from None


class Settings(FrozenRecord):
    """What one file is linted with: its configuration (overrides applied) and rules."""

    __slots__ = ("config", "rules")
    config: Config
    rules: RuleSet

    def __init__(self, config: Config, rules: RuleSet) -> None:
        set_field(self, "config", config)
        set_field(self, "rules", rules)


NO_OVERRIDES = Overrides()


class Workspace:
    def __init__(self, overrides: Overrides = NO_OVERRIDES,
                 config_file: Optional[StrPath] = None, cwd: Optional[StrPath] = None) -> None:
        overrides.check()
        self.overrides = overrides
        # Paths are str and os.path here, not pathlib: see config.StrPath.
        self.cwd = os.path.realpath(os.getcwd() if cwd is None else os.fspath(cwd))
        # --config: one configuration for every file.
        self._fixed: Optional[Config] = None
        if config_file is not None:
            self._fixed = self._checked(_load(lambda: load_config_file(config_file)))
        # Directory -> the nearest configuration at or above it (None: defaults).
        self._nearest: dict[str, Optional[Config]] = {}
        # Configuration (by its file; None for defaults) -> settings.
        self._settings: dict[Optional[str], Settings] = {}

    # -- configuration --------------------------------------------------------------------

    def config_for(self, path: str) -> Optional[Config]:
        """The configuration file that applies to ``path`` before overrides (None: none)."""
        if self._fixed is not None:
            return self._fixed
        directory = os.path.dirname(os.path.abspath(os.path.join(self.cwd, path)))
        return self._nearest_config(directory)

    def _nearest_config(self, directory: str) -> Optional[Config]:
        visited: list[str] = []
        found: Optional[Config] = None
        folder: Optional[str] = directory
        while folder is not None:
            if folder in self._nearest:
                found = self._nearest[folder]
                break
            visited.append(folder)
            found = self._config_in(folder)
            if found is not None:
                break
            parent = os.path.dirname(folder)
            folder = parent if parent != folder else None
        for seen in visited:
            self._nearest[seen] = found
        return found

    def _config_in(self, folder: str) -> Optional[Config]:
        dedicated = os.path.join(folder, DEDICATED_FILE)
        if os.path.isfile(dedicated):
            return self._checked(_load(lambda: load_config_file(dedicated)))
        project = os.path.join(folder, PROJECT_FILE)
        if os.path.isfile(project):
            config = _load(lambda: load_project_table(project))
            return self._checked(config) if config is not None else None
        return None

    @staticmethod
    def _checked(config: Config) -> Config:
        """Every rule name of a configuration names a rule; the error says where."""
        named = [(f"{config.source}: {key!r}", selectors)
                 for key, selectors in (("select", config.select or ()),
                                        ("extend-select", config.extend_select),
                                        ("ignore", config.ignore))]
        named += [(f"{config.source}: per-file-ignores {pattern!r}", selectors)
                  for pattern, selectors in config.per_file_ignores]
        for where, selectors in named:
            for selector in selectors:
                try:
                    match_selector(selector)
                except UnknownRuleError as exc:
                    raise WorkspaceError(f"{where}: {exc}") from None
        return config

    def settings_for(self, path: str) -> Settings:
        """The configuration (with the command line's overrides) and rules for ``path``."""
        base = self.config_for(path)
        key = base.source if base is not None else None
        cached = self._settings.get(key)
        if cached is None:
            cached = self._settings[key] = self._settle(base or Config())
        return cached

    def _settle(self, config: Config) -> Settings:
        o = self.overrides
        # As in ruff, a --select on the command line starts the selection afresh: the
        # configuration's ignore and extend-select no longer apply.
        config_ignore = config.ignore if o.select is None else ()
        config_extend = config.extend_select if o.select is None else ()
        config = config.with_overrides(
            select=o.select,
            ignore=config_ignore + o.ignore,
            extend_select=config_extend + o.extend_select,
            fail_level=o.fail_level,
            online=o.online,
        )
        try:
            rules = select_rules(config.select, config.extend_select, config.ignore)
        except UnknownRuleError as exc:  # pragma: no cover - every selector was checked
            where = f" (in {config.source})" if config.source else ""
            raise WorkspaceError(f"{exc}{where}") from None
        return Settings(config, rules)

    # -- registry look-ups -----------------------------------------------------------------

    @staticmethod
    def _lookup_mode(config: Config, offline: bool) -> Optional[str]:
        """"online" (``online = true`` or ``--online``), "cache" (``--offline``) or None."""
        return "online" if config.online else ("cache" if offline else None)

    def wants_lookups(self, paths: list[str], *, offline: bool, verbose: bool) -> bool:
        """Whether any of ``paths`` is linted with look-ups (or, verbose, VIL020 would say
        which sizes it cannot know); when not, the registry package is not even imported."""
        for path in paths:
            settings = self.settings_for(path)
            if (self._lookup_mode(settings.config, offline) is not None
                    or (verbose and "VIL020" in settings.rules.codes)):
                return True
        return False

    def look_up(self, sources: list[tuple[str, SourceFile]], *, offline: bool, verbose: bool,
                err: TextIO) -> dict[Optional[str], object]:
        """Registry answers for the references the enabled rules want, per configuration
        (keyed by its file; None for the defaults), since each has its own registries,
        cache and settings. ``sources`` pairs the path whose configuration applies with the
        decoded text; notes go to ``err``."""
        from valohai_image_lint.linter import lookups_wanted, wants_checks

        groups: dict[Optional[str], tuple[Config, RuleSet, dict[ImageReference, bool]]] = {}
        for path, source in sources:
            settings = self.settings_for(path)
            wanted = groups.setdefault(settings.config.source,
                                       (settings.config, settings.rules, {}))[2]
            for ref, want_size in lookups_wanted(source, settings.config,
                                                 settings.rules).items():
                wanted[ref] = wanted.get(ref, False) or want_size
        lookups: dict[Optional[str], object] = {}
        for key, (config, rules, wanted) in groups.items():
            mode = self._lookup_mode(config, offline)
            if mode is None:
                # --verbose offline: say which sizes VIL020 cannot know.
                if verbose:
                    for ref, want_size in wanted.items():
                        if want_size:
                            print(f"size of {ref.familiar} unknown: no image-sizes entry, and"
                                  " online lookups are off (--online)", file=err)
                continue
            from valohai_image_lint.registry import LookupRequest, lookup_images

            checks = wants_checks(rules)
            requests = [LookupRequest(ref, want_size, checks)
                        for ref, want_size in wanted.items()]
            lookups[key] = lookup_images(requests, config, offline=mode == "cache",
                                         verbose=verbose, err=err)
        return lookups

    # -- linting and fixing ---------------------------------------------------------------

    def lint(self, path: str, data: Optional[bytes] = None, lookups: Optional[object] = None,
             settings_path: Optional[str] = None, warn: Optional[NoqaWarning] = None
             ) -> tuple[Optional[SourceFile], list[Diagnostic]]:
        """Lint ``path`` (its bytes ``data``, read from disk when None, e.g. an editor's
        unsaved text); ``settings_path`` picks the configuration when the text is not at
        ``path`` (stdin); ``warn`` hears of unknown codes in noqa comments. Raises OSError
        when ``path`` cannot be read."""
        from valohai_image_lint.linter import lint_bytes

        if data is None:
            from valohai_image_lint.source import read_source

            data = read_source(path)
        settings = self.settings_for(settings_path or path)
        return lint_bytes(path, data, settings.config, settings.rules, lookups, warn)

    def fix(self, source: SourceFile, diagnostics: list[Diagnostic], *, unsafe: bool,
            lookups: Optional[object] = None, settings_path: Optional[str] = None
            ) -> FixOutcome:
        """Apply the fixes to ``source`` until none applies; nothing is written."""
        from valohai_image_lint.fixes import fix_source
        from valohai_image_lint.linter import lint_source

        settings = self.settings_for(settings_path or source.path)
        return fix_source(source,
                          lambda s: lint_source(s, settings.config, settings.rules, lookups),
                          unsafe=unsafe, diagnostics=diagnostics)


_T = TypeVar("_T")


def _load(load: Callable[[], _T]) -> _T:
    try:
        return load()
    except ConfigError as exc:
        raise WorkspaceError(str(exc)) from None
