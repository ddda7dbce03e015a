"""The engine's docstrings link the way the API reference renders them (mkdocstrings).

``[`ChainPlan`][earnorm_aop.weaving.chain.ChainPlan]``, not Sphinx roles such as
``:class:`ChainPlan```, which nothing here renders; and every link's target
exists, so a rename that leaves a link dangling fails here.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

import earnorm_aop

ENGINE = sorted((Path(earnorm_aop.__file__).parent / "weaving").glob("*.py"))
ENGINE.append(Path(earnorm_aop.__file__).parent / "_wiring.py")
_ROLE = re.compile(r":(?:mod|class|func|meth|data|attr|exc):`")
_LINK = re.compile(r"\]\[(earnorm_aop[\w.]*)\]")


def _exists(dotted: str) -> bool:
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for name in parts[i:]:
            if not hasattr(found, name):
                return False
            found = getattr(found, name)
        return True
    return False


@pytest.mark.parametrize("path", ENGINE, ids=lambda p: p.name)
def test_no_sphinx_roles_and_every_link_resolves(path: Path) -> None:
    text = path.read_text()
    assert not _ROLE.findall(text), f"{path.name}: a Sphinx role; link as [`name`][dotted.path]"
    dangling = [target for target in _LINK.findall(text) if not _exists(target)]
    assert dangling == []


def test_the_check_tells_a_dangling_link() -> None:
    assert _exists("earnorm_aop.weaving.chain.ChainPlan")
    assert not _exists("earnorm_aop.weaving.chain.NoSuchPlan")
