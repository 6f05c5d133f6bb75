"""``valohai-image-lint server``: a Language Server over stdio, built on pygls.

A thin adapter over ``workspace.Workspace``, the lint and fix API the command line uses: for
each open ``valohai.yaml``, ``valohai.yml`` or Python file (``valohai.prepare(image=...)``) it
finds the configuration as the CLI does for that file (searching upward from its directory),
lints the unsaved text (debounced while typing) and publishes diagnostics with the rule code, a
link to its documentation and the severity. When the client reports that a configuration file
changed or was saved, the configurations are read afresh and every open file is linted again.

- Positions are converted from the linter's offsets into the encoding the client negotiated
  (``general.positionEncodings``; UTF-16 when it says nothing), with lines split where LSP
  splits them (``\\n``, ``\\r\\n``, ``\\r``), so a non-BMP character before an image still
  leaves the underline exactly on the image.
- Code actions: each fix (safe ones are preferred quick fixes, unsafe ones say so in the title)
  and "Fix all safe problems in this file" (also as ``source.fixAll``), which is what ``--fix``
  would write.
- Hover on an image: the parsed reference (domain, path, tag, digest) and, when the answer
  cache has them, the digest the tag resolved to and the compressed size.
- Online lookups only when the file's configuration says ``online = true``; they run in a worker
  thread (through the cache) and the file is linted again when they answer, so typing never
  waits for a registry.

pygls is imported by this module only, which only the ``server`` subcommand imports.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import threading
from bisect import bisect_right
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from valohai_image_lint import __version__
from valohai_image_lint.config import Config
from valohai_image_lint.diagnostic import Applicability, Diagnostic, Severity
from valohai_image_lint.linter import check_sites, lookups_wanted, wants_checks
from valohai_image_lint.output._locations import rule_url
from valohai_image_lint.rules import CheckedSite, RuleSet
from valohai_image_lint.source import UTF8_BOM, SourceFile
from valohai_image_lint.workspace import Workspace, WorkspaceError

if TYPE_CHECKING:
    from valohai_image_lint.registry import ImageInfo, Lookups

NAME = "valohai-image-lint"
LINTED_NAMES = frozenset({"valohai.yaml", "valohai.yml"})
CONFIG_NAMES = frozenset({"pyproject.toml", ".valohai-image-lint.toml"})
# Seconds of quiet after a change before the text is linted again.
DEBOUNCE = 0.2
FIX_ALL_TITLE = "Fix all safe problems in this file"
SEVERITIES = {
    Severity.ERROR: lsp.DiagnosticSeverity.Error,
    Severity.WARNING: lsp.DiagnosticSeverity.Warning,
    Severity.INFO: lsp.DiagnosticSeverity.Information,
}
_LSP_LINE_BREAK = re.compile("\r\n|\r|\n")


def code_units(text: str, encoding: str) -> int:
    """The length of ``text`` in the code units of a position encoding."""
    if encoding == lsp.PositionEncodingKind.Utf8:
        return len(text.encode("utf-8", "surrogatepass"))
    if encoding == lsp.PositionEncodingKind.Utf32:
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


class LineIndex:
    """Offsets into a document's text <-> LSP positions in the negotiated encoding."""

    def __init__(self, text: str, encoding: str) -> None:
        self.text = text
        self.encoding = encoding
        self.starts = [0] + [m.end() for m in _LSP_LINE_BREAK.finditer(text)]

    def position(self, offset: int) -> lsp.Position:
        line = bisect_right(self.starts, offset) - 1
        start = self.starts[line]
        return lsp.Position(line, code_units(self.text[start:offset], self.encoding))

    def range(self, start: int, end: int) -> lsp.Range:
        return lsp.Range(self.position(start), self.position(end))

    def offset(self, position: lsp.Position) -> int:
        if position.line >= len(self.starts):
            return len(self.text)
        start = self.starts[position.line]
        end = self.starts[position.line + 1] if position.line + 1 < len(self.starts) else len(
            self.text)
        line = self.text[start:end].rstrip("\r\n")
        units = 0
        for index, char in enumerate(line):
            if units >= position.character:
                return start + index
            units += code_units(char, self.encoding)
        return start + len(line)


@dataclass
class Linted:
    """One document as last linted: what code actions and hover answer from."""

    version: Optional[int]
    index: LineIndex
    # The document's text without a byte-order mark, which offsets skip.
    source: SourceFile
    shift: int
    config: Optional[Config]
    rules: Optional[RuleSet]
    diagnostics: list[Diagnostic]
    published: list[lsp.Diagnostic]

    def range(self, start: int, end: int) -> lsp.Range:
        return self.index.range(start + self.shift, end + self.shift)


def is_linted(path: str) -> bool:
    # Python files too: valohai.prepare(image=...) (sites.python); one without it costs a
    # substring search.
    return os.path.basename(path) in LINTED_NAMES or path.endswith(".py")


class ImageLintServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__(NAME, __version__)
        self.linted: dict[str, Linted] = {}
        self.pending: dict[str, asyncio.TimerHandle] = {}
        # Online answers so far (lookup key -> answer) and the keys asked for.
        self.answers: dict[str, ImageInfo] = {}
        self.asked: set[str] = set()
        self.lock = threading.Lock()
        # Configurations found so far, by directory: made afresh when one changes.
        self.files = Workspace()

    # -- linting -------------------------------------------------------------------------------

    def lint(self, uri: str) -> Optional[Linted]:
        """Lint the document's current text and publish the result."""
        handle = self.pending.pop(uri, None)
        if handle is not None:
            handle.cancel()
        document = self.workspace.get_text_document(uri)
        path = to_fs_path(uri) or uri
        if not is_linted(path):
            return None
        text = document.source
        # The linter's offsets skip a byte-order mark, as when it reads the file's bytes.
        shift = 1 if text.startswith("\ufeff") else 0
        index = LineIndex(text, str(self.workspace.position_encoding or "utf-16"))
        linted = Linted(document.version, index, SourceFile(path, text[shift:], bool(shift)),
                        shift, None, None, [], [])
        try:
            settings = self.files.settings_for(path)
        except WorkspaceError as exc:
            linted.published = [lsp.Diagnostic(
                range=lsp.Range(lsp.Position(0, 0), lsp.Position(0, 0)),
                message=f"configuration: {exc}", severity=lsp.DiagnosticSeverity.Error,
                source=NAME)]
        else:
            config = linted.config = settings.config
            linted.rules = settings.rules
            data = text[shift:].encode("utf-8", "surrogatepass")
            source, linted.diagnostics = self.files.lint(
                path, UTF8_BOM + data if shift else data, self.lookups(config))
            if source is not None:
                linted.source = source
            linted.published = [self.to_lsp(linted, d) for d in linted.diagnostics]
            if config.online and source is not None:
                self.look_up(uri, source, config, settings.rules)
        self.linted[uri] = linted
        self.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(
            uri=uri, version=document.version, diagnostics=linted.published))
        return linted

    def lint_later(self, uri: str) -> None:
        handle = self.pending.pop(uri, None)
        if handle is not None:
            handle.cancel()
        self.pending[uri] = asyncio.get_running_loop().call_later(DEBOUNCE, self.lint, uri)

    def current(self, uri: str) -> Optional[Linted]:
        """The lint of the document's text as it is now (linting now if a change waits)."""
        linted = self.linted.get(uri)
        document = self.workspace.get_text_document(uri)
        if uri in self.pending or linted is None or linted.version != document.version:
            return self.lint(uri)
        return linted

    def lint_all(self) -> None:
        """A configuration changed: read them afresh and lint every open file again."""
        self.files = Workspace()
        for uri in list(self.linted):
            self.lint(uri)

    def to_lsp(self, linted: Linted, diagnostic: Diagnostic) -> lsp.Diagnostic:
        span = diagnostic.span
        return lsp.Diagnostic(
            range=linted.range(span.start.offset, span.end.offset),
            message=diagnostic.message if not diagnostic.help
            else f"{diagnostic.message}\n{diagnostic.help}",
            severity=SEVERITIES[diagnostic.severity],
            code=diagnostic.code,
            code_description=lsp.CodeDescription(href=rule_url(diagnostic.code)),
            source=NAME,
        )

    # -- online lookups ------------------------------------------------------------------------

    def lookups(self, config: Config) -> Optional[Lookups]:
        if not config.online:
            return None
        from valohai_image_lint.registry import Lookups

        with self.lock:
            return Lookups(dict(self.answers), config.platform)

    def look_up(self, uri: str, source: SourceFile, config: Config, rules: RuleSet) -> None:
        """Ask the registries (through the cache) in a worker thread about the references not
        asked about yet; lint the document again when they answer."""
        from valohai_image_lint.registry import LookupRequest, lookup_images, lookup_key

        requests = []
        checks = wants_checks(rules)  # VIL013-VIL016 need the checks' lookups too
        with self.lock:
            for ref, want_size in lookups_wanted(source, config, rules).items():
                key = lookup_key(ref)
                if key not in self.asked:
                    self.asked.add(key)
                    requests.append(LookupRequest(ref, want_size, checks))
        if not requests:
            return
        loop = asyncio.get_running_loop()

        def work() -> None:
            found = lookup_images(requests, config, offline=False, err=io.StringIO(),
                                  progress=False)
            with self.lock:
                self.answers.update(found.answers)
                self.answers.update(found.by_digest)
            loop.call_soon_threadsafe(self.lint_if_open, uri)

        self.thread_pool.submit(work)

    def lint_if_open(self, uri: str) -> None:
        if uri in self.linted:
            self.lint(uri)

    # -- code actions --------------------------------------------------------------------------

    def code_actions(self, params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
        uri = params.text_document.uri
        linted = self.current(uri)
        if linted is None or linted.config is None or linted.rules is None:
            return []
        only = params.context.only
        wanted = set(only) if only else {lsp.CodeActionKind.QuickFix,
                                         lsp.CodeActionKind.SourceFixAll}
        start = linted.index.offset(params.range.start) - linted.shift
        end = linted.index.offset(params.range.end) - linted.shift
        actions = []
        if wanted & {lsp.CodeActionKind.QuickFix, "quickfix"}:
            for diagnostic, published in zip(linted.diagnostics, linted.published):
                fix = diagnostic.fix
                span = diagnostic.span
                if (fix is None or not fix.edits or span.end.offset < start
                        or span.start.offset > end):
                    continue
                safe = fix.applicability is Applicability.SAFE
                edits = [lsp.TextEdit(linted.range(e.span.start.offset, e.span.end.offset),
                                      e.content) for e in fix.edits]
                actions.append(lsp.CodeAction(
                    title=f"{fix.title} ({diagnostic.code})" if safe
                    else f"{fix.title} ({diagnostic.code}, unsafe fix: check it)",
                    kind=lsp.CodeActionKind.QuickFix, diagnostics=[published],
                    is_preferred=safe, edit=lsp.WorkspaceEdit(changes={uri: edits})))
        fix_all = self.fix_all(uri, linted)
        if fix_all is not None:
            for kind in (lsp.CodeActionKind.QuickFix, lsp.CodeActionKind.SourceFixAll):
                if any(kind == w or kind.value.startswith(f"{w}.") for w in wanted):
                    actions.append(lsp.CodeAction(title=FIX_ALL_TITLE, kind=kind,
                                                  edit=fix_all))
        return actions

    def fix_all(self, uri: str, linted: Linted) -> Optional[lsp.WorkspaceEdit]:
        """One edit from the text to what ``--fix`` would make of it (None: nothing to fix)."""
        config = linted.config
        assert config is not None
        if not any(d.fix is not None and d.fix.applicability is Applicability.SAFE
                   for d in linted.diagnostics):
            return None
        outcome = self.files.fix(linted.source, linted.diagnostics, unsafe=False,
                                 lookups=self.lookups(config))
        before, after = linted.source.text, outcome.fixed.text
        if before == after:
            return None
        prefix = _common_length(before, after)
        suffix = _common_length(before[prefix:][::-1], after[prefix:][::-1])
        edit = lsp.TextEdit(linted.range(prefix, len(before) - suffix),
                            after[prefix:len(after) - suffix])
        return lsp.WorkspaceEdit(changes={uri: [edit]})

    # -- hover ---------------------------------------------------------------------------------

    def hover(self, params: lsp.HoverParams) -> Optional[lsp.Hover]:
        linted = self.current(params.text_document.uri)
        if linted is None or linted.config is None or linted.rules is None:
            return None
        offset = linted.index.offset(params.position) - linted.shift
        _, sites = check_sites(linted.source, linted.config, linted.rules)
        for checked in sites:
            node = checked.site.node
            if node is not None and checked.image is not None and node.start <= offset < node.end:
                return lsp.Hover(
                    contents=lsp.MarkupContent(lsp.MarkupKind.Markdown,
                                               self.describe(checked, linted.config)),
                    range=linted.range(node.start, node.end))
        return None

    def describe(self, checked: CheckedSite, config: Config) -> str:
        ref = checked.reference
        lines = [f"**{checked.image}** ({checked.site.owner})", ""]
        if ref is None:
            lines.append(f"Not a valid image reference: {checked.reference_error}")
            return "\n".join(lines)
        lines += ["| | |", "|---|---|", f"| domain | `{ref.domain}` |", f"| path | `{ref.path}` |",
                  f"| tag | {_code(ref.tag)} |", f"| digest | {_code(ref.digest)} |",
                  f"| full name | `{ref}` |"]
        cached = self.cached(ref, config)
        if cached is not None:
            lines.append("")
            lines.append(cached)
        return "\n".join(lines)

    def cached(self, ref: Any, config: Config) -> Optional[str]:
        """What the answer cache knows of ``ref``: the digest its tag resolved to, and the
        compressed size for the configured platform."""
        from valohai_image_lint.registry.cache import AnswerCache, default_cache_dir

        cache = AnswerCache(config.cache_dir or default_cache_dir(), float(config.cache_ttl),
                            lambda note: None)
        parts = []
        digest = ref.digest
        if digest is None:
            digest = cache.get_tag(ref.name, ref.tag or "latest")
            if digest is None:
                return None
            parts.append(f"digest `{digest}`")
        size = cache.get_size(digest, config.platform)
        if size is not None:
            platform = f" for {size.platform}" if size.platform else ""
            parts.append(f"compressed size {_megabytes(size.size)}{platform}")
        return "Cached: " + "; ".join(parts) + "." if parts else None


def _common_length(first: str, second: str) -> int:
    """The length of the prefix the two strings share."""
    length = 0
    for a, b in zip(first, second):
        if a != b:
            break
        length += 1
    return length


def _code(value: Optional[str]) -> str:
    return f"`{value}`" if value else "none"


def _megabytes(size: int) -> str:
    return f"{size / 1e6:,.1f} MB" if size < 1e9 else f"{size / 1e9:,.2f} GB"


def create_server() -> ImageLintServer:
    server = ImageLintServer()

    @server.feature(lsp.INITIALIZED)
    def initialized(ls: ImageLintServer, params: lsp.InitializedParams) -> None:
        # Watch configuration files where the client can, to lint open files again.
        capabilities = ls.client_capabilities
        workspace = capabilities.workspace
        watched = workspace.did_change_watched_files if workspace else None
        if watched is not None and watched.dynamic_registration:
            watchers = [lsp.FileSystemWatcher(glob_pattern=f"**/{name}")
                        for name in sorted(CONFIG_NAMES)]
            ls.client_register_capability(lsp.RegistrationParams(registrations=[
                lsp.Registration(
                    id="valohai-image-lint-config",
                    method=lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                    register_options=lsp.DidChangeWatchedFilesRegistrationOptions(
                        watchers=watchers))]))

    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: ImageLintServer, params: lsp.DidOpenTextDocumentParams) -> None:
        ls.lint(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: ImageLintServer, params: lsp.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        if is_linted(to_fs_path(uri) or uri):
            ls.lint_later(uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: ImageLintServer, params: lsp.DidSaveTextDocumentParams) -> None:
        if os.path.basename(to_fs_path(params.text_document.uri) or "") in CONFIG_NAMES:
            ls.lint_all()

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: ImageLintServer, params: lsp.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        handle = ls.pending.pop(uri, None)
        if handle is not None:
            handle.cancel()
        if ls.linted.pop(uri, None) is not None:
            ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri, []))

    @server.feature(lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def watched_changed(ls: ImageLintServer, params: lsp.DidChangeWatchedFilesParams) -> None:
        ls.lint_all()

    @server.feature(lsp.TEXT_DOCUMENT_CODE_ACTION, lsp.CodeActionOptions(
        code_action_kinds=[lsp.CodeActionKind.QuickFix, lsp.CodeActionKind.SourceFixAll]))
    def code_action(ls: ImageLintServer, params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
        return ls.code_actions(params)

    @server.feature(lsp.TEXT_DOCUMENT_HOVER)
    def hover(ls: ImageLintServer, params: lsp.HoverParams) -> Optional[lsp.Hover]:
        return ls.hover(params)

    return server


def run(argv: list[str]) -> int:
    """Serve over stdin/stdout until the client says exit."""
    # The CLI turns the cyclic collector off for a short run; a server lives long.
    import gc

    gc.enable()
    create_server().start_io()
    return 0
