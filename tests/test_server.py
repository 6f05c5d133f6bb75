"""``valohai-image-lint server``: the Language Server, driven over stdio by pygls' client.

Each test starts the server as a subprocess (``python -m valohai_image_lint server``) in a
temporary project and talks LSP to it as an editor would. Positions are checked against ones
computed here from the text, independently of the server's own conversion.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, Callable, Optional, TypeVar

import pytest

pytest.importorskip("pygls")

from lsprotocol import types as lsp
from pygls.lsp.client import LanguageClient

T = TypeVar("T")
TIMEOUT = 60.0
SNAKE = "\U0001f40d"  # outside the BMP: two UTF-16 code units, four UTF-8 bytes
TEXT = (
    f'- step: {{name: "{SNAKE}{SNAKE} é", image: myorg/app:1.0, command: x}}\n'
    "- step:\n"
    "    name: other\n"
    "    image: python:latest\n"
    "    command: python train.py\n"
)
CONFIG = 'private-registries = ["docker.io/myorg/*"]\n'


def units(text: str, encoding: str) -> int:
    if encoding == "utf-8":
        return len(text.encode("utf-8"))
    return len(text.encode("utf-16-le")) // 2


def expected_range(text: str, needle: str, encoding: str = "utf-16") -> lsp.Range:
    offset = text.index(needle)
    line = text.count("\n", 0, offset)
    line_start = text.rfind("\n", 0, offset) + 1
    start = units(text[line_start:offset], encoding)
    return lsp.Range(lsp.Position(line, start),
                     lsp.Position(line, start + units(needle, encoding)))


def offset_of(text: str, position: lsp.Position) -> int:
    lines = text.splitlines(keepends=True)
    offset = sum(len(line) for line in lines[: position.line])
    line = lines[position.line] if position.line < len(lines) else ""
    count = 0
    for index, char in enumerate(line):
        if count >= position.character:
            return offset + index
        count += units(char, "utf-16")
    return offset + len(line)


def apply_edits(text: str, edits: list[lsp.TextEdit]) -> str:
    spans = sorted(((offset_of(text, e.range.start), offset_of(text, e.range.end), e.new_text)
                    for e in edits), reverse=True)
    for start, end, new_text in spans:
        text = text[:start] + new_text + text[end:]
    return text


def cli_fix(text: str, cwd: Path, filename: str = "valohai.yaml") -> str:
    result = subprocess.run(
        [sys.executable, "-m", "valohai_image_lint", "--fix", "--stdin-filename",
         filename, "-"], cwd=cwd, input=text.encode("utf-8"), capture_output=True,
        timeout=60)
    assert result.returncode in (0, 1), result.stderr
    return result.stdout.decode("utf-8")


class Session:
    """A client connected to a server subprocess, collecting published diagnostics."""

    def __init__(self, client: LanguageClient) -> None:
        self.client = client
        self.published: asyncio.Queue[lsp.PublishDiagnosticsParams] = asyncio.Queue()
        self.registrations: list[lsp.Registration] = []

    async def diagnostics(self, version: Optional[int] = None) -> list[lsp.Diagnostic]:
        """The next diagnostics published (for ``version``, skipping older ones)."""
        while True:
            params = await asyncio.wait_for(self.published.get(), TIMEOUT)
            if version is None or params.version == version:
                return params.diagnostics

    def open(self, uri: str, text: str, language_id: str = "yaml") -> None:
        self.client.text_document_did_open(lsp.DidOpenTextDocumentParams(
            lsp.TextDocumentItem(uri=uri, language_id=language_id, version=1, text=text)))

    def change(self, uri: str, version: int, text: str) -> None:
        self.client.text_document_did_change(lsp.DidChangeTextDocumentParams(
            lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
            [lsp.TextDocumentContentChangeWholeDocument(text=text)]))


async def with_server(project: Path, body: Callable[[Session, lsp.InitializeResult],
                                                    Awaitable[T]],
                      encodings: Optional[list[str]] = None) -> T:
    client = LanguageClient("test-client", "1")
    session = Session(client)

    @client.feature(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def on_diagnostics(params: lsp.PublishDiagnosticsParams) -> None:
        session.published.put_nowait(params)

    @client.feature(lsp.CLIENT_REGISTER_CAPABILITY)
    def on_register(params: lsp.RegistrationParams) -> None:
        session.registrations.extend(params.registrations)

    await client.start_io(sys.executable, "-m", "valohai_image_lint", "server", cwd=str(project))
    capabilities = lsp.ClientCapabilities(
        general=lsp.GeneralClientCapabilities(position_encodings=encodings) if encodings
        else None,
        workspace=lsp.WorkspaceClientCapabilities(
            did_change_watched_files=lsp.DidChangeWatchedFilesClientCapabilities(
                dynamic_registration=True)))
    result = await asyncio.wait_for(client.initialize_async(lsp.InitializeParams(
        capabilities=capabilities, process_id=None, root_uri=project.as_uri())), TIMEOUT)
    client.initialized(lsp.InitializedParams())
    try:
        return await body(session, result)
    finally:
        await asyncio.wait_for(client.shutdown_async(None), TIMEOUT)
        client.exit(None)
        server = client._server
        assert server is not None
        assert await asyncio.wait_for(server.wait(), TIMEOUT) == 0
        await client.stop()


def make_project(tmp_path: Path, text: str = TEXT) -> tuple[Path, str]:
    (tmp_path / ".valohai-image-lint.toml").write_text(CONFIG, "utf-8")
    path = tmp_path / "valohai.yaml"
    path.write_text(text, "utf-8")
    return tmp_path, path.as_uri()


def by_code(diagnostics: list[lsp.Diagnostic]) -> dict[Any, lsp.Diagnostic]:
    return {d.code: d for d in diagnostics}


def test_open_edit_code_action_and_shutdown(tmp_path: Path) -> None:
    project, uri = make_project(tmp_path)

    async def body(session: Session, result: lsp.InitializeResult) -> None:
        assert result.capabilities.position_encoding == lsp.PositionEncodingKind.Utf16
        assert result.capabilities.hover_provider
        session.open(uri, TEXT)
        found = by_code(await session.diagnostics(1))
        assert set(found) == {"VIL010", "VIL002"}
        # A line with non-BMP characters before the image: underlined exactly.
        assert found["VIL010"].range == expected_range(TEXT, "myorg/app:1.0")
        assert found["VIL002"].range == expected_range(TEXT, "python:latest")
        assert found["VIL010"].severity == lsp.DiagnosticSeverity.Error
        assert found["VIL002"].source == "valohai-image-lint"
        description = found["VIL010"].code_description
        assert description is not None
        assert description.href.endswith("/rules/vil010_private_image_short_name.py")

        # Unsaved edits: two quick changes are linted once, as the second.
        edited = TEXT.replace("python:latest", "python:3.11")
        session.change(uri, 2, TEXT.replace("python:latest", "python:3"))
        session.change(uri, 3, edited)
        params = await asyncio.wait_for(session.published.get(), TIMEOUT)
        assert params.version == 3
        found = by_code(params.diagnostics)
        assert set(found) == {"VIL010", "VIL021"}
        assert found["VIL021"].severity == lsp.DiagnosticSeverity.Information
        assert found["VIL021"].range == expected_range(edited, "python:3.11")

        # The fix of VIL010 is a preferred quick fix; VIL021's is unsafe and says so.
        actions = await session.client.text_document_code_action_async(lsp.CodeActionParams(
            lsp.TextDocumentIdentifier(uri), found["VIL010"].range,
            lsp.CodeActionContext(diagnostics=[found["VIL010"]])))
        assert actions is not None
        quick = [a for a in actions if isinstance(a, lsp.CodeAction)
                 and a.kind == lsp.CodeActionKind.QuickFix and "VIL010" in a.title]
        (action,) = quick
        assert action.is_preferred
        assert action.edit is not None and action.edit.changes is not None
        fixed = apply_edits(edited, action.edit.changes[uri])
        assert "image: docker.io/myorg/app:1.0, command" in fixed
        assert fixed == cli_fix(edited, project)
        fix_all = [a for a in actions if isinstance(a, lsp.CodeAction)
                   and a.title == "Fix all safe problems in this file"]
        assert {a.kind for a in fix_all} == {lsp.CodeActionKind.QuickFix,
                                             lsp.CodeActionKind.SourceFixAll}
        unsafe = await session.client.text_document_code_action_async(lsp.CodeActionParams(
            lsp.TextDocumentIdentifier(uri), found["VIL021"].range,
            lsp.CodeActionContext(diagnostics=[found["VIL021"]], only=["quickfix"])))
        assert unsafe is not None
        (variant,) = [a for a in unsafe if isinstance(a, lsp.CodeAction) and "VIL021" in a.title]
        assert "unsafe" in variant.title and not variant.is_preferred

        session.change(uri, 4, fixed)
        assert set(by_code(await session.diagnostics(4))) == {"VIL021"}

        hover = await session.client.text_document_hover_async(lsp.HoverParams(
            lsp.TextDocumentIdentifier(uri), expected_range(fixed, "docker.io/myorg").start))
        assert hover is not None and isinstance(hover.contents, lsp.MarkupContent)
        assert "| domain | `docker.io` |" in hover.contents.value
        assert "| path | `myorg/app` |" in hover.contents.value
        assert "| tag | `1.0` |" in hover.contents.value
        assert hover.range == expected_range(fixed, "docker.io/myorg/app:1.0")

    asyncio.run(with_server(project, body))


def test_fix_all_gives_what_fix_writes(tmp_path: Path) -> None:
    text = TEXT + "- endpoint:\n    name: serve\n    image: 'myorg/app:2'\n    port: 8000\n"
    project, uri = make_project(tmp_path, text)

    async def body(session: Session, result: lsp.InitializeResult) -> None:
        session.open(uri, text)
        await session.diagnostics(1)
        actions = await session.client.text_document_code_action_async(lsp.CodeActionParams(
            lsp.TextDocumentIdentifier(uri), lsp.Range(lsp.Position(0, 0), lsp.Position(0, 0)),
            lsp.CodeActionContext(diagnostics=[], only=[lsp.CodeActionKind.SourceFixAll])))
        assert actions is not None
        (action,) = actions
        assert isinstance(action, lsp.CodeAction)
        assert action.edit is not None and action.edit.changes is not None
        assert apply_edits(text, action.edit.changes[uri]) == cli_fix(text, project)

    asyncio.run(with_server(project, body))


def test_utf8_positions_when_the_client_asks(tmp_path: Path) -> None:
    project, uri = make_project(tmp_path)

    async def body(session: Session, result: lsp.InitializeResult) -> None:
        assert result.capabilities.position_encoding == lsp.PositionEncodingKind.Utf8
        session.open(uri, TEXT)
        found = by_code(await session.diagnostics(1))
        assert found["VIL010"].range == expected_range(TEXT, "myorg/app:1.0", "utf-8")

    asyncio.run(with_server(project, body, encodings=["utf-8", "utf-16"]))


def test_configuration_is_read_again_when_it_changes(tmp_path: Path) -> None:
    project, uri = make_project(tmp_path)

    async def body(session: Session, result: lsp.InitializeResult) -> None:
        session.open(uri, TEXT)
        assert set(by_code(await session.diagnostics(1))) == {"VIL010", "VIL002"}
        assert [r.method for r in session.registrations] == [
            lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES]
        config = project / ".valohai-image-lint.toml"
        config.write_text(CONFIG + 'ignore = ["floating-tag"]\n', "utf-8")
        session.client.workspace_did_change_watched_files(lsp.DidChangeWatchedFilesParams(
            [lsp.FileEvent(config.as_uri(), lsp.FileChangeType.Changed)]))
        assert set(by_code(await session.diagnostics(1))) == {"VIL010"}
        # A broken configuration is one diagnostic saying so, not a dead server.
        config.write_text("ignore = 3\n", "utf-8")
        session.client.workspace_did_change_watched_files(lsp.DidChangeWatchedFilesParams(
            [lsp.FileEvent(config.as_uri(), lsp.FileChangeType.Changed)]))
        (broken,) = await session.diagnostics(1)
        assert broken.message.startswith("configuration:") and "ignore" in broken.message
        assert broken.severity == lsp.DiagnosticSeverity.Error

    asyncio.run(with_server(project, body))


def test_other_files_are_left_alone(tmp_path: Path) -> None:
    project, _ = make_project(tmp_path)
    other = project / "values.yaml"
    other.write_text("image: python\n", "utf-8")

    async def body(session: Session, result: lsp.InitializeResult) -> None:
        session.open(other.as_uri(), "image: python\n")
        hover = await session.client.text_document_hover_async(lsp.HoverParams(
            lsp.TextDocumentIdentifier(other.as_uri()), lsp.Position(0, 8)))
        assert hover is None
        assert session.published.empty()

    asyncio.run(with_server(project, body))


def test_python_source_diagnostics_and_quick_fix(tmp_path: Path) -> None:
    """A train.py with valohai.prepare(image=...): findings at the literal (VIL008 against
    the project's valohai.yaml), and a quick fix that keeps the literal's prefix and quotes."""
    project, _ = make_project(tmp_path)
    train = project / "train.py"
    text = (f'# {SNAKE}\nimport valohai\n'
            "valohai.prepare(step='other', image=r'myorg/app:1.0')\n")
    train.write_text(text, "utf-8")
    uri = train.as_uri()

    async def body(session: Session, result: lsp.InitializeResult) -> None:
        session.open(uri, text, "python")
        found = by_code(await session.diagnostics(1))
        assert set(found) == {"VIL010", "VIL008"}
        assert found["VIL010"].range == expected_range(text, "r'myorg/app:1.0'")
        assert "valohai.yaml:4 ('python:latest')" in found["VIL008"].message
        actions = await session.client.text_document_code_action_async(lsp.CodeActionParams(
            lsp.TextDocumentIdentifier(uri), found["VIL010"].range,
            lsp.CodeActionContext(diagnostics=[found["VIL010"]])))
        assert actions is not None
        (action,) = [a for a in actions if isinstance(a, lsp.CodeAction)
                     and a.kind == lsp.CodeActionKind.QuickFix and "VIL010" in a.title]
        assert action.edit is not None and action.edit.changes is not None
        fixed = apply_edits(text, action.edit.changes[uri])
        assert fixed == text.replace("r'myorg/app:1.0'", "r'docker.io/myorg/app:1.0'")

    asyncio.run(with_server(project, body))


def test_python_file_with_a_floating_image(tmp_path: Path) -> None:
    """A train.py whose valohai.prepare names python:latest after a non-BMP character on the
    same line: VIL002 underlines the literal exactly in UTF-16, and fix-all (which has
    nothing to pin offline, but fixes the private short name beside it) is what --fix
    writes."""
    project, _ = make_project(tmp_path)
    train = project / "train.py"
    text = (f"import valohai as vh\n"
            f"vh.prepare(step='{SNAKE} é', image=\"python:latest\")  # {SNAKE}\n"
            "vh.prepare(step='serve', image='myorg/app:1.0')\n")
    train.write_text(text, "utf-8")
    uri = train.as_uri()

    async def body(session: Session, result: lsp.InitializeResult) -> None:
        session.open(uri, text, "python")
        found = by_code(await session.diagnostics(1))
        assert set(found) == {"VIL002", "VIL010"}
        floating = found["VIL002"]
        assert floating.range == expected_range(text, '"python:latest"')
        assert floating.range.start == lsp.Position(1, 30)  # 29 code points: 🐍 counts 2
        assert floating.severity == lsp.DiagnosticSeverity.Error
        assert "'python:latest'" in floating.message
        actions = await session.client.text_document_code_action_async(lsp.CodeActionParams(
            lsp.TextDocumentIdentifier(uri), lsp.Range(lsp.Position(0, 0), lsp.Position(0, 0)),
            lsp.CodeActionContext(diagnostics=[], only=[lsp.CodeActionKind.SourceFixAll])))
        assert actions is not None
        (action,) = actions
        assert isinstance(action, lsp.CodeAction)
        assert action.edit is not None and action.edit.changes is not None
        fixed = apply_edits(text, action.edit.changes[uri])
        assert fixed == cli_fix(text, project, "train.py")
        assert fixed == text.replace("'myorg/app:1.0'", "'docker.io/myorg/app:1.0'")

    asyncio.run(with_server(project, body))


def test_hover_shows_what_the_cache_knows(tmp_path: Path) -> None:
    from valohai_image_lint.registry.cache import AnswerCache, SizeAnswer

    project, uri = make_project(tmp_path)
    (project / ".valohai-image-lint.toml").write_text(CONFIG + 'cache-dir = "cache"\n', "utf-8")
    cache = AnswerCache(str(project / "cache"), 3600.0, lambda note: None)
    digest = "sha256:" + "ab" * 32
    cache.put_tag("docker.io/library/python", "latest", digest)
    cache.put_size(digest, "linux/amd64", SizeAnswer(412_300_000, "linux/amd64"))

    async def body(session: Session, result: lsp.InitializeResult) -> None:
        session.open(uri, TEXT)
        await session.diagnostics(1)
        hover = await session.client.text_document_hover_async(lsp.HoverParams(
            lsp.TextDocumentIdentifier(uri), expected_range(TEXT, "python:latest").start))
        assert hover is not None and isinstance(hover.contents, lsp.MarkupContent)
        assert "| path | `library/python` |" in hover.contents.value
        assert f"Cached: digest `{digest}`; compressed size 412.3 MB for linux/amd64." in (
            hover.contents.value)
        # An image pinned by digest: only the size is news.
        pinned = f"python@{digest}"
        session.change(uri, 2, TEXT.replace("python:latest", pinned))
        await session.diagnostics(2)
        hover = await session.client.text_document_hover_async(lsp.HoverParams(
            lsp.TextDocumentIdentifier(uri),
            expected_range(TEXT.replace("python:latest", pinned), pinned).start))
        assert hover is not None and isinstance(hover.contents, lsp.MarkupContent)
        assert f"| digest | `{digest}` |" in hover.contents.value
        assert hover.contents.value.endswith(
            "\n\nCached: compressed size 412.3 MB for linux/amd64.")

    asyncio.run(with_server(project, body))


def run_cli(args: list[str], code: str = "") -> subprocess.CompletedProcess[str]:
    program = (f"import sys\n{code}\nfrom valohai_image_lint.cli import main\n"
               f"sys.exit(main({args!r}))")
    return subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          timeout=60)


def test_server_usage_and_a_missing_pygls() -> None:
    assert run_cli(["server", "--help"]).stdout.startswith("usage: valohai-image-lint server")
    wrong = run_cli(["server", "--port", "1"])
    assert wrong.returncode == 2
    assert wrong.stderr == "error: usage: valohai-image-lint server [--stdio]\n"
    # Without pygls: one line saying what to install, no traceback.
    missing = run_cli(["server"], code="sys.modules['pygls'] = None")
    assert missing.returncode == 2
    assert missing.stderr.count("\n") == 1
    assert "pip install 'valohai-image-lint[lsp]'" in missing.stderr


def test_the_command_line_does_not_import_pygls(tmp_path: Path) -> None:
    project, _ = make_project(tmp_path)
    result = run_cli(["--format", "concise", str(project / "valohai.yaml")],
                     code="import atexit\natexit.register(lambda: print(sorted("
                          "m for m in sys.modules if m.split('.')[0] in"
                          " ('pygls', 'lsprotocol', 'cattrs'))))")
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines()[-1] == "[]"
