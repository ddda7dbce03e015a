"""``import_dotted``: the object a settings value or a plugin option names by its import path."""

from __future__ import annotations

import collections
import os.path

import pytest

from earnorm_aop.runtime.dotted import import_dotted


def test_a_dotted_path_names_a_module_attribute() -> None:
    assert import_dotted("os.path.join") is os.path.join


def test_the_longest_importable_module_is_taken_then_attributes() -> None:
    # "collections.OrderedDict" is no module: collections is imported, then two attributes read.
    assert import_dotted("collections.OrderedDict.fromkeys") == collections.OrderedDict.fromkeys


def test_a_module_itself() -> None:
    assert import_dotted("os.path") is os.path


def test_a_colon_separates_the_module_from_attributes() -> None:
    assert import_dotted("collections:OrderedDict.fromkeys") == collections.OrderedDict.fromkeys
    assert import_dotted("os.path:join") is os.path.join


@pytest.mark.parametrize(
    "path", ["no_such_module_anywhere.thing", "os.path.no_such_function", "os.nope.join"]
)
def test_a_path_that_names_nothing_is_a_clear_error(path: str) -> None:
    with pytest.raises(
        ValueError, match=rf"cannot import '{path}': write 'package.module.attribute'"
    ):
        import_dotted(path)


def test_with_a_colon_a_missing_attribute_or_module_raises_as_python_does() -> None:
    with pytest.raises(AttributeError, match="no_such_function"):
        import_dotted("os.path:no_such_function")
    with pytest.raises(ModuleNotFoundError, match="no_such_module_anywhere"):
        import_dotted("no_such_module_anywhere:thing")
