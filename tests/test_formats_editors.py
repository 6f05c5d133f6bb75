"""The editor recipes of docs/editors.md, read out of the document and run.

The VS Code problem matcher and the Vim errorformats are checked against real ``concise``
output with regular expressions every time (Python's engine, and Node's when it is installed,
since VS Code is JavaScript). The recipes themselves run in the real editors when those are
installed: Vim (``:make``), Neovim with ALE (Debian's ``vim-ale``), Emacs (``M-x compile`` and
Flymake).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from valohai_image_lint.diagnostic import Diagnostic, Severity
from valohai_image_lint.output import Report, renderer
from valohai_image_lint.rules import all_rules
from valohai_image_lint.source import SourceFile

ROOT = Path(__file__).resolve().parent.parent
EDITORS_DOC = ROOT / "docs" / "editors.md"
FIXTURES = Path(__file__).parent / "fixtures" / "formats"
ALE_DIR = Path("/usr/share/vim-ale")
TIMEOUT = 60

_BLOCK_RE = re.compile(r"<!-- tested: (?P<name>[\w-]+) -->\n```\w*\n(?P<body>.*?)\n```", re.DOTALL)


def blocks() -> dict[str, str]:
    found = {m["name"]: m["body"] for m in _BLOCK_RE.finditer(EDITORS_DOC.read_text("utf-8"))}
    return found


class Expected(NamedTuple):
    path: str
    line: int
    column: int
    end_line: int
    end_column: int
    code: str
    severity: str
    message: str


def tool_env() -> dict[str, str]:
    """The environment editors run the linter in: the console script of this Python first."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
    env.pop("NO_COLOR", None)
    return env


def linter_on_path() -> str:
    found = shutil.which("valohai-image-lint", path=tool_env()["PATH"])
    if found is None:
        pytest.skip("the valohai-image-lint console script is not installed")
    return found


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A directory with the format fixture as valohai.yaml and its configuration, found by
    discovery as an editor's run would find it."""
    shutil.copy(FIXTURES / "valohai.yaml", tmp_path / "valohai.yaml")
    shutil.copy(FIXTURES / "valohai-image-lint.toml", tmp_path / ".valohai-image-lint.toml")
    return tmp_path


def run_linter(project: Path, *args: str, stdin: str | None = None, exit_code: int) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "valohai_image_lint", *args], cwd=project, input=stdin,
        capture_output=True, text=True, env=tool_env(), timeout=TIMEOUT, check=False)
    assert result.returncode == exit_code, result.stderr
    return result.stdout


# What an editor must show for the fixture, read off tests/fixtures/formats/valohai.yaml by
# hand: (line, column, end line, end column, code, severity). The editor recipes parse exactly
# these parts; the message text, which they pass through, is taken from the linter's JSON.
ON_DISK = [
    (5, 18, 5, 24, "VIL001", "error"),     # python, anchored
    (5, 18, 5, 24, "VIL001", "error"),     # ... and again for step train through the alias
    (15, 12, 15, 42, "VIL002", "error"),   # "tensorflow/tensorflow:latest", quotes included
    (15, 12, 15, 42, "VIL012", "error"),
    (20, 12, 20, 25, "VIL010", "error"),   # myorg/app:1.0
    (25, 12, 25, 43, "VIL011", "warning"),  # otherteam.azurecr.io/upload:2.1
    (25, 12, 25, 43, "VIL012", "error"),
    (30, 12, 30, 26, "VIL004", "error"),   # "Ubuntu:22.04"
    (33, 3, 33, 7, "VIL005", "error"),     # the `step` key of the step without an image
]
# The unsaved buffer the editor tests lint: line 15 reads `image: python:nightly`, allowed
# (docker.io/library/*) but floating.
EDITED = [*ON_DISK[:2], (15, 12, 15, 26, "VIL002", "error"), *ON_DISK[4:]]


def expected(project: Path, stdin: str | None = None) -> list[Expected]:
    args = ["--format", "json", "valohai.yaml"]
    if stdin is not None:
        assert "    image: python:nightly\n" in stdin
        args = ["--format", "json", "--stdin-filename", "valohai.yaml", "-"]
    found = [Expected(d["path"], d["line"], d["column"], d["end_line"], d["end_column"],
                      d["code"], d["severity"], d["message"])
             for d in json.loads(run_linter(project, *args, stdin=stdin, exit_code=1))]
    assert [e[1:7] for e in found] == (ON_DISK if stdin is None else EDITED)
    assert {e.path for e in found} == {"valohai.yaml"}
    return found


def concise_lines(project: Path) -> tuple[list[str], list[Expected]]:
    """Real concise output of the fixture plus an info line and an odd path, with what each
    line should be read as."""
    lines = run_linter(project, "--format", "concise", "--quiet", "valohai.yaml",
                       exit_code=1).splitlines()
    wanted = expected(project)
    source = SourceFile.from_bytes("dir with space/valohai.yml", b"- step: {image: x}\n")
    rule = all_rules()["VIL003"]
    extra = Diagnostic("VIL003", rule.name, Severity.INFO, "a note: with [brackets], 100%",
                       source.path, source.span(16, 17))
    lines += renderer("concise")(Report([extra])).splitlines()
    wanted.append(Expected(extra.path, 1, 17, 1, 18, "VIL003", "info", extra.message))
    assert len(lines) == len(wanted) >= 10
    return lines, wanted


def test_every_recipe_is_marked() -> None:
    assert set(blocks()) == {"vim-make", "vim-make-minimal", "ale", "emacs-compile",
                             "emacs-flymake", "vscode-tasks",
                             # run by test_server_editors.py
                             "nvim-lsp", "emacs-eglot"}


def test_stdin_filename_names_the_unsaved_buffer(project: Path) -> None:
    buffer = (project / "valohai.yaml").read_text("utf-8").replace("image: *base",
                                                                   "image: alpine:edge")
    out = run_linter(project, "--format", "concise", "--stdin-filename", "sub/valohai.yaml",
                     "-", stdin=buffer, exit_code=1)
    assert ("sub/valohai.yaml:10:12: VIL002 [error] image 'alpine:edge' has the floating tag"
            " 'edge'\n") in out
    assert all(line.startswith("sub/valohai.yaml:") for line in out.splitlines())


def test_stdin_filename_gets_the_per_file_ignores_of_that_path(tmp_path: Path) -> None:
    (tmp_path / ".valohai-image-lint.toml").write_text(
        'select = ["VIL002"]\nper-file-ignores = { "legacy/*" = ["VIL002"] }\n', "utf-8")
    buffer = "- step:\n    name: a\n    image: python:latest\n    command: x\n"
    ignored = run_linter(tmp_path, "--format", "concise", "--stdin-filename",
                         "legacy/valohai.yaml", "-", stdin=buffer, exit_code=0)
    assert ignored == ""
    reported = run_linter(tmp_path, "--format", "concise", "--stdin-filename",
                          "current/valohai.yaml", "-", stdin=buffer, exit_code=1)
    assert reported.startswith("current/valohai.yaml:3:12: VIL002 ")


# --- VS Code ---------------------------------------------------------------------------------

def problem_matcher() -> dict[str, Any]:
    tasks = json.loads(blocks()["vscode-tasks"])
    matcher: dict[str, Any] = tasks["tasks"][0]["problemMatcher"]
    return matcher


def matched_fields(groups: list[str | None], pattern: dict[str, Any]) -> Expected:
    def group(name: str) -> str:
        value = groups[pattern[name] - 1]
        assert value is not None
        return value

    return Expected(group("file"), int(group("line")), int(group("column")), 0, 0,
                    group("code"), group("severity"), group("message"))


def strip_ends(items: list[Expected]) -> list[Expected]:
    return [item._replace(end_line=0, end_column=0) for item in items]


def test_vscode_problem_matcher_reads_concise_output(project: Path) -> None:
    matcher = problem_matcher()
    assert matcher["fileLocation"] == ["relative", "${workspaceFolder}"]
    pattern = matcher["pattern"]
    regexp = re.compile(pattern["regexp"])
    lines, wanted = concise_lines(project)
    got = []
    for line in lines:
        match = regexp.match(line)
        assert match, line
        got.append(matched_fields(list(match.groups()), pattern))
    assert got == strip_ends(wanted)


def test_vscode_problem_matcher_in_javascript(project: Path) -> None:
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        pytest.skip("node is not installed")
    pattern = problem_matcher()["pattern"]
    lines, wanted = concise_lines(project)
    script = ("const [re, lines] = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
              "const rx = new RegExp(re);"
              "console.log(JSON.stringify(lines.map(l => { const m = rx.exec(l);"
              " return m ? m.slice(1) : null; })));")
    result = subprocess.run([node, "-e", script], input=json.dumps([pattern["regexp"], lines]),
                            capture_output=True, text=True, timeout=TIMEOUT, check=True)
    matches = json.loads(result.stdout)
    assert None not in matches
    assert [matched_fields(groups, pattern) for groups in matches] == strip_ends(wanted)


# --- Vim errorformat -------------------------------------------------------------------------

def errorformat(name: str) -> str:
    match = re.search(r"errorformat=((?:\\ |\S)+)", blocks()[name])
    assert match
    return match.group(1).replace("\\ ", " ")


_EFM_TOKEN_RE = re.compile(r"%\*\[(?P<set>[^\]]+)\]|%(?P<kind>[flcntm%])|(?P<char>.)")
_EFM_GROUPS = {"f": r"(?P<f>.+?)", "l": r"(?P<l>\d+)", "c": r"(?P<c>\d+)",
               "n": r"(?P<n>\d+)", "t": r"(?P<t>.)", "m": r"(?P<m>.+)", "%": "%"}


def errorformat_regex(efm: str) -> re.Pattern[str]:
    """The regular expression Vim makes of a one-pattern errorformat (the items used here)."""
    parts = []
    for token in _EFM_TOKEN_RE.finditer(efm):
        if token["set"]:
            parts.append(f"[{token['set']}]*")
        elif token["kind"]:
            parts.append(_EFM_GROUPS[token["kind"]])
        else:
            parts.append(re.escape(token["char"]))
    return re.compile("^" + "".join(parts) + "$")


def test_vim_errorformat_reads_concise_output(project: Path) -> None:
    lines, wanted = concise_lines(project)
    typed = errorformat_regex(errorformat("vim-make"))
    minimal = errorformat_regex(errorformat("vim-make-minimal"))
    assert errorformat("vim-make-minimal") == "%f:%l:%c: %m"
    for line, want in zip(lines, wanted):
        match = typed.match(line)
        assert match, line
        assert (match["f"], int(match["l"]), int(match["c"])) == (want.path, want.line,
                                                                  want.column)
        assert (f"VIL{int(match['n']):03d}", match["t"], match["m"]) == (
            want.code, want.severity[0], want.message)
        match = minimal.match(line)
        assert match, line
        assert (match["f"], int(match["l"]), int(match["c"])) == (want.path, want.line,
                                                                  want.column)
        assert match["m"] == f"{want.code} [{want.severity}] {want.message}"


def run_vim_make(block: str, project: Path, tmp_path: Path) -> list[str]:
    vim = shutil.which("vim")
    if vim is None:
        pytest.skip("vim is not installed")
    linter_on_path()
    (tmp_path / "recipe.vim").write_text(blocks()[block] + "\n", "utf-8")
    script = tmp_path / "run.vim"
    result_file = tmp_path / "qf.txt"
    script.write_text(
        f"source {tmp_path / 'recipe.vim'}\n"
        "edit valohai.yaml\n"
        "silent make\n"
        "call writefile(map(filter(getqflist(), 'v:val.valid'), {_, e -> printf("
        "'%s|%d|%d|%s|%d|%s', bufname(e.bufnr), e.lnum, e.col, e.type, e.nr, e.text)}),"
        f" '{result_file}')\n"
        "qa!\n", "utf-8")
    subprocess.run([vim, "-Nu", "NONE", "-i", "NONE", "-es", "-S", str(script)], cwd=project,
                   env=tool_env(), capture_output=True, timeout=TIMEOUT, check=False)
    assert result_file.exists(), "vim did not write the quickfix list"
    return result_file.read_text("utf-8").splitlines()


def test_vim_make_fills_the_quickfix_list(project: Path, tmp_path: Path) -> None:
    entries = run_vim_make("vim-make", project, tmp_path)
    assert entries == [f"{e.path}|{e.line}|{e.column}|{e.severity[0]}|{int(e.code[3:])}|"
                       f"{e.message}" for e in expected(project)]


def test_vim_make_minimal_errorformat(project: Path, tmp_path: Path) -> None:
    entries = run_vim_make("vim-make-minimal", project, tmp_path)
    assert entries == [f"{e.path}|{e.line}|{e.column}||-1|{e.code} [{e.severity}] {e.message}"
                       for e in expected(project)]


# --- ALE in Neovim ---------------------------------------------------------------------------

def test_ale_lints_the_unsaved_buffer_and_only_valohai_yaml(project: Path,
                                                            tmp_path: Path) -> None:
    nvim = shutil.which("nvim")
    if nvim is None or not (ALE_DIR / "plugin" / "ale.vim").exists():
        pytest.skip("Neovim and Debian's vim-ale are not installed")
    linter_on_path()
    linters = tmp_path / "rtp" / "ale_linters" / "yaml"
    linters.mkdir(parents=True)
    (linters / "valohai_image_lint.vim").write_text(blocks()["ale"] + "\n", "utf-8")
    shutil.copy(project / "valohai.yaml", project / "other.yaml")
    init = tmp_path / "init.vim"
    init.write_text(
        f"set runtimepath^={ALE_DIR}\n"
        f"set runtimepath+={tmp_path / 'rtp'}\n"
        "filetype plugin on\n"
        "let g:ale_linters = {'yaml': ['valohai_image_lint']}\n"
        "function! Dump() abort\n"
        "  call writefile(map(copy(ale#engine#GetLoclist(bufnr(''))), {_, e -> printf("
        "'%s|%d|%d|%s|%s|%s', e.linter_name, e.lnum, e.col, e.type, get(e, 'code', ''),"
        " e.text)}), $RESULT)\n"
        "  qa!\n"
        "endfunction\n"
        "autocmd User ALELintPost call Dump()\n"
        # A buffer ALE does not lint never fires ALELintPost.
        "call timer_start(10000, {-> Dump()})\n", "utf-8")
    # The buffer differs from the file on disk: line 15 now floats on `nightly`.
    edit = "autocmd VimEnter * call setline(15, '    image: python:nightly') | ALELint\n"
    (tmp_path / "edit.vim").write_text(edit, "utf-8")
    buffer = (project / "valohai.yaml").read_text("utf-8").splitlines(keepends=True)
    buffer[14] = "    image: python:nightly\n"

    def ale(name: str) -> list[str]:
        result = tmp_path / f"{name}.txt"
        env = {**tool_env(), "RESULT": str(result)}
        subprocess.run([nvim, "--headless", "-u", str(init), "-i", "NONE", "-S",
                        str(tmp_path / "edit.vim"), name], cwd=project, env=env,
                       capture_output=True, timeout=TIMEOUT, check=False)
        assert result.exists(), "Neovim did not write the location list"
        return result.read_text("utf-8").splitlines()

    types = {"error": "E", "warning": "W", "info": "I"}
    assert ale("valohai.yaml") == [
        f"valohai_image_lint|{e.line}|{e.column}|{types[e.severity]}|{e.code}|{e.message}"
        for e in expected(project, stdin="".join(buffer))]
    assert ale("other.yaml") == []


# --- Emacs -----------------------------------------------------------------------------------

def run_emacs(project: Path, tmp_path: Path, code: str) -> list[str]:
    emacs = shutil.which("emacs")
    if emacs is None:
        pytest.skip("emacs is not installed")
    script = tmp_path / "check.el"
    script.write_text(code, "utf-8")
    result = subprocess.run([emacs, "--batch", "-Q", "-l", str(script)], cwd=project,
                            env=tool_env(), capture_output=True, text=True, timeout=TIMEOUT,
                            check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_emacs_compilation_mode_parses_concise_output(project: Path, tmp_path: Path) -> None:
    lines, wanted = concise_lines(project)
    (tmp_path / "recipe.el").write_text(blocks()["emacs-compile"] + "\n", "utf-8")
    (tmp_path / "out.txt").write_text("\n".join(lines) + "\n", "utf-8")
    out = run_emacs(project, tmp_path, f"""
(load-file "{tmp_path / 'recipe.el'}")
(setq compilation-error-regexp-alist '(valohai-image-lint))
(with-temp-buffer
  (insert-file-contents "{tmp_path / 'out.txt'}")
  (compilation-mode)
  (compilation--ensure-parse (point-max))
  (goto-char (point-min))
  (while (not (eobp))
    (let ((msg (get-text-property (point) 'compilation-message)))
      (if (null msg)
          (princ "unmatched\\n")
        (let ((loc (compilation--message->loc msg)))
          (princ (format "%s|%s|%s|%s\\n"
                         (caar (compilation--loc->file-struct loc))
                         (compilation--loc->line loc)
                         (compilation--loc->col loc)
                         (compilation--message->type msg))))))
    (forward-line 1)))
""")
    # compilation-mode types: 2 error, 1 warning, 0 info.
    kinds = {"error": 2, "warning": 1, "info": 0}
    assert out == [f"{w.path}|{w.line}|{w.column}|{kinds[w.severity]}" for w in wanted]


def test_emacs_flymake_lints_the_unsaved_buffer(project: Path, tmp_path: Path) -> None:
    linter_on_path()
    (tmp_path / "recipe.el").write_text(blocks()["emacs-flymake"] + "\n", "utf-8")
    shutil.copy(project / "valohai.yaml", project / "other.yaml")
    out = run_emacs(project, tmp_path, f"""
(load "{tmp_path / 'recipe.el'}" nil t)
(find-file "valohai.yaml")
(goto-char (point-min)) (forward-line 14)
(delete-region (line-beginning-position) (line-end-position))
(insert "    image: python:nightly")
(flymake-start nil t)
(let ((deadline (+ (float-time) 30)))
  (while (and (null (flymake-diagnostics)) (< (float-time) deadline))
    (accept-process-output nil 0.1)))
(dolist (d (sort (flymake-diagnostics)
                 (lambda (a b) (< (flymake-diagnostic-beg a) (flymake-diagnostic-beg b)))))
  (princ (format "%d|%d|%d|%s|%s\\n"
                 (line-number-at-pos (flymake-diagnostic-beg d))
                 (save-excursion (goto-char (flymake-diagnostic-beg d)) (1+ (current-column)))
                 (save-excursion (goto-char (flymake-diagnostic-end d)) (1+ (current-column)))
                 (flymake-diagnostic-type d)
                 (flymake-diagnostic-text d))))
(set-buffer-modified-p nil)
(find-file "other.yaml")
(princ (format "other.yaml flymake: %s\\n" flymake-mode))
""")
    buffer = (project / "valohai.yaml").read_text("utf-8").splitlines(keepends=True)
    buffer[14] = "    image: python:nightly\n"
    wanted = expected(project, stdin="".join(buffer))
    kinds = {"error": ":error", "warning": ":warning", "info": ":note"}
    # Flymake keeps one diagnostic per span and text (the anchored image is reported twice);
    # the order of diagnostics on the same span is its own.
    rows = {f"{e.line}|{e.column}|{e.end_column}|{kinds[e.severity]}|{e.code} {e.message}"
            for e in wanted}
    assert out[-1] == "other.yaml flymake: nil"
    assert sorted(out[:-1]) == sorted(rows)
