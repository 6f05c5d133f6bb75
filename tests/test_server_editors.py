"""The language server recipes of docs/editors.md, run in the real editors when installed:
Neovim's built-in LSP client (the Neovim 0.7 recipe) and Emacs's eglot.

Each opens a valohai.yaml whose first line has non-BMP characters before the image, waits for
the diagnostics, checks that the editor puts them exactly on the images (the editor converts
the server's UTF-16 positions itself), then applies the fix-all code action and compares the
buffer with what ``--fix`` writes.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from test_formats_editors import blocks, linter_on_path, tool_env

pytest.importorskip("pygls")

TIMEOUT = 120
SNAKE = "\U0001f40d"
TEXT = (
    f'- step: {{name: "{SNAKE}{SNAKE} é", image: myorg/app:1.0, command: x}}\n'
    "- step:\n"
    "    name: other\n"
    "    image: python:latest\n"
    "    command: python train.py\n"
)
IMAGES = {"VIL010": "myorg/app:1.0", "VIL002": "python:latest"}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    (project / ".valohai-image-lint.toml").write_text(
        'private-registries = ["docker.io/myorg/*"]\n', "utf-8")
    (project / "valohai.yaml").write_text(TEXT, "utf-8")
    return project


def fixed_text(project: Path) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "valohai_image_lint", "--fix", "--stdin-filename",
         "valohai.yaml", "-"], cwd=project, input=TEXT, capture_output=True, text=True,
        timeout=TIMEOUT, check=False)
    assert result.returncode in (0, 1), result.stderr
    assert result.stdout != TEXT
    return result.stdout


def where(code: str, unit: str) -> tuple[int, int, int]:
    """0-based line, start and end column of the image ``code`` is about, in ``unit``
    ("byte" or "char")."""
    image = IMAGES[code]
    offset = TEXT.index(image)
    line = TEXT.count("\n", 0, offset)
    before = TEXT[TEXT.rfind("\n", 0, offset) + 1 : offset]
    if unit == "byte":
        start = len(before.encode("utf-8"))
        return line, start, start + len(image.encode("utf-8"))
    return line, len(before), len(before) + len(image)


NVIM_HARNESS = r'''
vim.api.nvim_create_autocmd("VimEnter", { callback = function()
  local out = {}
  vim.wait(60000, function() return #vim.diagnostic.get(0) >= 2 end, 50)
  for _, d in ipairs(vim.diagnostic.get(0)) do
    table.insert(out, string.format("diag|%d|%d|%d|%d|%s|%d", d.lnum, d.col, d.end_lnum,
      d.end_col, d.user_data.lsp.code, d.severity))
  end
  local params = { textDocument = vim.lsp.util.make_text_document_params(),
    range = { start = { line = 0, character = 0 }, ["end"] = { line = 0, character = 0 } },
    context = { diagnostics = {}, only = { "source.fixAll" } } }
  local results = vim.lsp.buf_request_sync(0, "textDocument/codeAction", params, 60000)
  for _, res in pairs(results or {}) do
    for _, action in ipairs(res.result or {}) do
      table.insert(out, "action|" .. action.title)
      vim.lsp.util.apply_workspace_edit(action.edit, "utf-16")
    end
  end
  for _, line in ipairs(vim.api.nvim_buf_get_lines(0, 0, -1, false)) do
    table.insert(out, "buf|" .. line)
  end
  vim.fn.writefile(out, os.getenv("RESULT"))
  vim.cmd("qa!")
end })
'''


def test_neovim_lsp_recipe(project: Path, tmp_path: Path) -> None:
    nvim = shutil.which("nvim")
    if nvim is None:
        pytest.skip("Neovim is not installed")
    linter_on_path()
    init = tmp_path / "init.lua"
    init.write_text(blocks()["nvim-lsp"] + "\n" + NVIM_HARNESS, "utf-8")
    result = tmp_path / "result.txt"
    run = subprocess.run([nvim, "--headless", "-u", str(init), "-i", "NONE", "valohai.yaml"],
                         cwd=project, env={**tool_env(), "RESULT": str(result)},
                         capture_output=True, timeout=TIMEOUT, check=False)
    assert result.exists(), run.stderr
    lines = result.read_text("utf-8").splitlines()
    diagnostics = sorted(line for line in lines if line.startswith("diag|"))
    # Neovim keeps columns in bytes; severity 1 is an error.
    expected = []
    for code in IMAGES:
        line, start, end = where(code, "byte")
        expected.append(f"diag|{line}|{start}|{line}|{end}|{code}|1")
    assert diagnostics == sorted(expected)
    assert "action|Fix all safe problems in this file" in lines
    buffer = [line[len("buf|"):] for line in lines if line.startswith("buf|")]
    assert "\n".join(buffer) + "\n" == fixed_text(project)


EMACS_HARNESS = r'''
(unless (require 'eglot nil t)
  (princ "NO-EGLOT\n")
  (kill-emacs 0))
(unless (fboundp 'yaml-mode)
  ;; Debian's elpa-yaml-mode is missing: a stand-in major mode, enough for eglot.
  (define-derived-mode yaml-mode prog-mode "YAML"))
(load (expand-file-name "recipe.el" default-directory-of-recipe))
(find-file "valohai.yaml")
;; eglot-ensure connects from post-command-hook, which batch mode never runs.
(run-hooks 'post-command-hook)
(let ((i 0))
  (while (and (< (length (flymake-diagnostics)) 2) (< i 600))
    (accept-process-output nil 0.1)
    (setq i (1+ i))))
(dolist (d (flymake-diagnostics))
  (let ((beg (flymake-diagnostic-beg d)) (end (flymake-diagnostic-end d)))
    (princ (format "diag|%d|%d|%d|%d|%s|%s\n"
                   (1- (line-number-at-pos beg))
                   (- beg (save-excursion (goto-char beg) (line-beginning-position)))
                   (1- (line-number-at-pos end))
                   (- end (save-excursion (goto-char end) (line-beginning-position)))
                   (flymake-diagnostic-type d)
                   (substring (flymake-diagnostic-text d) 0 27)))))
(eglot-code-actions (point-min) (point-min) "source.fixAll" t)
(princ (concat "buffer|" (buffer-substring-no-properties (point-min) (point-max))))
(let ((server (eglot-current-server)) (i 0))
  ;; What eglot-shutdown sends, without its kill right after `exit`, so the exit status
  ;; shows whether the server stopped by itself.
  (princ (format "\nshutdown|%s\n"
                 (condition-case err (progn (jsonrpc-request server :shutdown nil :timeout 30)
                                            "answered")
                   (error (format "%S" err)))))
  (jsonrpc-notify server :exit nil)
  (while (and (jsonrpc-running-p server) (< i 300))
    (accept-process-output nil 0.1)
    (setq i (1+ i)))
  (princ (format "exit|%s\n" (process-exit-status (jsonrpc--process server)))))
'''


def test_emacs_eglot_recipe(project: Path, tmp_path: Path) -> None:
    emacs = shutil.which("emacs")
    if emacs is None:
        pytest.skip("emacs is not installed")
    linter_on_path()
    (tmp_path / "recipe.el").write_text(blocks()["emacs-eglot"] + "\n", "utf-8")
    harness = tmp_path / "harness.el"
    harness.write_text(f'(setq default-directory-of-recipe "{tmp_path}/")\n' + EMACS_HARNESS,
                       "utf-8")
    # -q, not -Q: Debian's site start-up puts elpa-eglot on the load path.
    run = subprocess.run([emacs, "--batch", "-q", "-l", str(harness)], cwd=project,
                         env=tool_env(), capture_output=True, text=True, timeout=TIMEOUT,
                         check=False)
    if run.stdout.startswith("NO-EGLOT"):
        pytest.skip("eglot is not installed (Debian: elpa-eglot)")
    assert run.returncode == 0, run.stderr
    out = run.stdout
    diagnostics = sorted(line for line in out.splitlines() if line.startswith("diag|"))
    expected = []
    for code in IMAGES:
        line, start, end = where(code, "char")
        expected.append(f"diag|{line}|{start}|{line}|{end}|eglot-error|valohai-image-lint"
                        f" [{code}]")
    assert diagnostics == sorted(expected)
    buffer = out[out.index("buffer|") + len("buffer|") : out.rindex("\nshutdown|")]
    assert buffer == fixed_text(project)
    assert out.endswith("\nshutdown|answered\nexit|0\n")
