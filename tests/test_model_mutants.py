"""Item names under tags safe_load does not know, in the model (model.py ``_loaded``).

A name whose tag PyYAML's SafeConstructor cannot build makes the file fail to load (VIL000);
the model still reads the file, and such a name is equal to itself only. That holds for a
tag in yaml.org's own namespace too: ``!!x:int 01`` is no ``int``, and not the name ``1``.
"""

from __future__ import annotations

import pytest

from valohai_image_lint.model import read_config
from valohai_image_lint.yamltree import parse


def ignored_messages(text: str) -> list[tuple[str, str]]:
    return [(i.yaml_path, i.message) for i in read_config(parse(text).root).ignored]


@pytest.mark.parametrize("tagged", ["!!x:int 01", "!<tag:yaml.org,2002:x:int> 01"])
def test_an_unknown_yaml_org_tag_is_not_the_type_its_suffix_names(tagged: str) -> None:
    text = (f"- step: {{name: {tagged}, image: 'a:1'}}\n"
            "- step: {name: 1, image: 'b:1'}\n")
    assert ignored_messages(text) == []
    assert len(read_config(parse(text).root).sites) == 2


def test_an_unknown_yaml_org_tag_still_equals_itself() -> None:
    text = ("- step: {name: !!x:int 01, image: 'a:1'}\n"
            "- step: {name: !!x:int 01, image: 'b:1'}\n")
    assert ignored_messages(text) == [
        ("[0].step", "Valohai ignores this step '01': item [1] redefines it"),
    ]
