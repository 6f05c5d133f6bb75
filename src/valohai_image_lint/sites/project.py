"""A Python image site's partner: the same-named step of its project's valohai.yaml.

``vh yaml step train.py`` merges the step that ``valohai.prepare(step=...)`` defines into the
project's valohai.yaml. VIL008 compares the two images; the fix verification keeps a matching
pair in step (``out_of_step`` for a Python fix, ``yaml_out_of_step`` for a YAML one). A
``--fix`` or ``--diff`` run tells this module which files it fixes and what a valohai.yaml
becomes (``set_run_files``, ``remember_yaml_text``) so that a Python file fixed later in the
run is compared with the fixed text, written or not.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Optional

from valohai_image_lint.model import ImageSite, NotAValohaiConfig, find_image_sites
from valohai_image_lint.sites.python import (
    CONFIG_NAMES,
    DEFAULT_DOCKER_IMAGE,
    NotPython,
    PythonImageSite,
    find_sites,
    is_python_path,
)
from valohai_image_lint.source import SourceError, SourceFile, read_source
from valohai_image_lint.yamltree import (
    Mapping,
    Scalar,
    Sequence,
    YamlError,
    mapping_get,
    parse,
    resolve,
    scalar_type,
)


@dataclass(frozen=True)
class YamlStep:
    """A step of a valohai.yaml as ``vh yaml step`` merges into it."""

    path: str  # as shown to the user
    line: int
    image: str


# Texts of valohai.yaml files that a --fix or --diff run has changed but maybe not written;
# by absolute path. A Python file linted later in the run is compared with these.
# Their texts before the run, to tell which Python images were in step with them.
_YAML_OVERRIDES: dict[str, str] = {}
_YAML_ORIGINALS: dict[str, str] = {}
_YAML_CACHE: dict[tuple[object, ...], Optional[dict[str, YamlStep]]] = {}


def remember_yaml_text(path: str, original: str, fixed: str) -> None:
    """The text a valohai.yaml had before this run and has (or will have) after its fixes."""
    absolute = os.path.abspath(path)
    _YAML_ORIGINALS.setdefault(absolute, original)
    _YAML_OVERRIDES[absolute] = fixed


def forget_yaml_texts() -> None:
    """Start a run afresh: no fixed texts, no files of the run."""
    global _RUN_FILES
    _YAML_OVERRIDES.clear()
    _YAML_ORIGINALS.clear()
    _YAML_CACHE.clear()
    _PARTNERS.clear()
    _RUN_FILES = None


def project_yaml(python_path: str) -> Optional[str]:
    """The valohai.yaml of the project ``python_path`` is in: the nearest in its directory or
    above, not looking past the top of a git work tree."""
    directory = os.path.dirname(os.path.abspath(python_path))
    while True:
        for name in CONFIG_NAMES:
            candidate = os.path.join(directory, name)
            if candidate in _YAML_OVERRIDES or os.path.isfile(candidate):
                return candidate
        parent = os.path.dirname(directory)
        if parent == directory or os.path.exists(os.path.join(directory, ".git")):
            return None
        directory = parent


def _shown(path: str) -> str:
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def yaml_steps(yaml_path: str, original: bool = False) -> Optional[dict[str, YamlStep]]:
    """Step name -> the step's image in the valohai.yaml at ``yaml_path`` (the last of
    same-named steps, as valohai-yaml reads them); None when it cannot be read, or has an
    item that is not a mapping (Valohai rejects it). ``original``: as it was before this
    run's fixes."""
    absolute = os.path.abspath(yaml_path)
    text = (_YAML_ORIGINALS if original else _YAML_OVERRIDES).get(absolute)
    # A text read from disk is known by its stat: an editor or a test may rewrite the file
    # between two runs in one process.
    key: tuple[object, ...] = (absolute, text)
    if text is None:
        try:
            status = os.stat(absolute)
        except OSError:
            return None
        key = (absolute, status.st_mtime_ns, status.st_size, status.st_ino)
    if key in _YAML_CACHE:
        return _YAML_CACHE[key]
    if len(_YAML_CACHE) > 256:
        _YAML_CACHE.clear()
    steps: Optional[dict[str, YamlStep]] = None
    try:
        if text is None:
            text = SourceFile.from_bytes(absolute, read_source(absolute)).text
        source = SourceFile(absolute, text)
        steps = _steps_of(source, _shown(absolute))
    except (OSError, SourceError, YamlError, ValueError, NotAValohaiConfig):
        steps = None
    _YAML_CACHE[key] = steps
    return steps


_STEP_PATH_RE = re.compile(r"\[(\d+)\]\.step\.image")


def _steps_of(source: SourceFile, shown: str) -> dict[str, YamlStep]:
    from valohai_image_lint.model import SITE_KEYS

    root = parse(source.text, keep_keys=SITE_KEYS).root
    top = resolve(root)
    steps: dict[str, YamlStep] = {}
    if not isinstance(top, Sequence):
        return steps
    for site in find_image_sites(root):
        match = _STEP_PATH_RE.fullmatch(site.yaml_path)
        node = site.node
        if match is None or not isinstance(node, Scalar) or scalar_type(node) != "str":
            continue
        item = resolve(top.items[int(match.group(1))])
        if not isinstance(item, Mapping):
            continue
        step = resolve(mapping_get(item, "step")[1])
        if not isinstance(step, Mapping):
            continue
        name = resolve(mapping_get(step, "name")[1])
        if isinstance(name, Scalar):
            steps[name.value] = YamlStep(shown, source.position(node.start).line, node.value)
    return steps


def counterpart(python_path: str, step: Optional[str],
                original: bool = False) -> Optional[YamlStep]:
    """The step of the project's valohai.yaml that ``prepare(step=step)`` in ``python_path``
    defines too, when it names a string image (``original``: before this run's fixes)."""
    if step is None:
        return None
    yaml_path = project_yaml(python_path)
    if yaml_path is None:
        return None
    steps = yaml_steps(yaml_path, original)
    return None if steps is None else steps.get(step)


def vh_keeps(site: PythonImageSite, image: str, yaml_image: str) -> str:
    """The image ``vh yaml step`` leaves in valohai.yaml (valohai-utils' merge rule: the
    Python image wins when it is set and is not valohai-utils' default)."""
    if site.read_by_vh and image and image != DEFAULT_DOCKER_IMAGE:
        return image
    return yaml_image


def _image(site: ImageSite) -> Optional[str]:
    return site.node.value if isinstance(site.node, Scalar) else None


def out_of_step(path: str, before: str, after: str) -> Optional[str]:
    """Why fixed Python text ``after`` would no longer name the image its valohai.yaml step
    names (while ``before`` did), or None."""
    try:
        old = find_sites(SourceFile(path, before))
        new = {site.yaml_path: site for site in find_sites(SourceFile(path, after))}
    except NotPython:
        return None
    for site in old:
        changed = new.get(site.yaml_path)
        image = _image(site)
        new_image = None if changed is None else _image(changed)
        if image is None or new_image is None:
            continue
        now = counterpart(path, site.step)
        if now is None or new_image == now.image:
            continue
        before_run = counterpart(path, site.step, original=True)
        if image in (now.image, before_run.image if before_run else None):
            return (f"{now.path}:{now.line} names the same image for {site.owner} and would"
                    " not change with it; fix both files in one run")
    return None



# Absolute paths of the files this run lints (None: not known, e.g. a library caller).
_RUN_FILES: Optional[set[str]] = None
_PARTNERS: dict[str, list[tuple[str, PythonImageSite]]] = {}


def set_run_files(paths: list[str]) -> None:
    """The files this run lints and fixes; a YAML fix that would leave a Python image of the
    project behind is applied only when that Python file is one of them."""
    global _RUN_FILES
    _RUN_FILES = {os.path.abspath(p) for p in paths}
    _PARTNERS.clear()


def python_partners(yaml_path: str) -> list[tuple[str, PythonImageSite]]:
    """The Python image sites whose project valohai.yaml is ``yaml_path``: (file, site)."""
    absolute = os.path.abspath(yaml_path)
    cached = _PARTNERS.get(absolute)
    if cached is not None:
        return cached
    from valohai_image_lint.discovery import walk

    found: list[tuple[str, PythonImageSite]] = []
    for path in walk(os.path.dirname(absolute)):
        if not is_python_path(path) or project_yaml(path) != absolute:
            continue
        try:
            source = SourceFile.from_bytes(path, read_source(path))
            found.extend((os.path.abspath(path), site) for site in find_sites(source))
        except (OSError, SourceError, NotPython):
            continue
    _PARTNERS[absolute] = found
    return found


def yaml_out_of_step(path: str, before: str, after: str) -> Optional[str]:
    """Why fixed valohai.yaml text ``after`` would leave a Python image of its project behind
    (a file not fixed in this run that named the step's image before), or None."""
    if _RUN_FILES is None:
        return None
    partners = python_partners(path)
    if not partners:
        return None
    try:
        old = _steps_of(SourceFile(path, before), _shown(path))
        new = _steps_of(SourceFile(path, after), _shown(path))
    except (YamlError, ValueError):
        return None
    for python_path, site in partners:
        if python_path in _RUN_FILES or site.step is None:
            continue
        was, now = old.get(site.step), new.get(site.step)
        if was is None or now is None or was.image == now.image or _image(site) != was.image:
            continue
        return (f"{_shown(python_path)} names the same image for {site.owner} and is not"
                " fixed in this run; fix both files in one run")
    return None
