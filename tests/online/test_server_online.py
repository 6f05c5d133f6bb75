"""The language server with ``online = true``: lookups run in the background against a real
registry on loopback, the first diagnostics do not wait for them, and the file is linted again
when they answer; hover then shows the cached digest and size."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

pytest.importorskip("pygls")

from lsprotocol import types as lsp

from conftest import OnlineEnv
from test_server import TIMEOUT, Session, expected_range, with_server


def test_online_lookups_run_in_the_background(online_env: OnlineEnv, tmp_path: Path) -> None:
    image = f"{online_env.plain.netloc}/test/multi:1.0"
    text = f"- step:\n    name: big\n    image: {image}\n    command: x\n"
    project = tmp_path / "project"
    project.mkdir()
    (project / ".valohai-image-lint.toml").write_text(
        f'online = true\ncache-dir = "{tmp_path / "cache"}"\nmax-image-size = "5 kB"\n',
        "utf-8")
    (project / "valohai.yaml").write_text(text, "utf-8")
    uri = (project / "valohai.yaml").as_uri()

    async def body(session: Session, result: lsp.InitializeResult) -> None:
        session.open(uri, text)
        # Published at once, before any registry answered: the size is not known yet.
        first = await session.diagnostics(1)
        assert [d.code for d in first] == []
        # Then again when the lookup is done.
        second = await session.diagnostics(1)
        (oversized,) = second
        assert oversized.code == "VIL020"
        assert "size from the registry" in oversized.message
        assert oversized.range == expected_range(text, image)
        hover = await asyncio.wait_for(session.client.text_document_hover_async(
            lsp.HoverParams(lsp.TextDocumentIdentifier(uri),
                            expected_range(text, image).start)), TIMEOUT)
        assert hover is not None and isinstance(hover.contents, lsp.MarkupContent)
        digest = online_env.images.multi_index.digest
        assert f"Cached: digest `{digest}`; compressed size" in hover.contents.value

    asyncio.run(with_server(project, body))
