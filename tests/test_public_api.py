"""The public surface: ``__all__`` matches what is public, and all of it is documented."""

from __future__ import annotations

import enum
import inspect
import re
from types import ModuleType

import pytest

import postman_async
import postman_async.testing


def _defined_here(obj: object) -> bool:
    module = getattr(obj, "__module__", None) or ""
    return module == "postman_async" or module.startswith("postman_async.")


def _public_classes() -> list[type]:
    return [
        obj
        for name in postman_async.__all__
        if inspect.isclass(obj := getattr(postman_async, name)) and _defined_here(obj)
    ]


def _isort_key(name: str) -> tuple[int, list[str | int]]:
    """The order ruff keeps ``__all__`` in (RUF022's "isort-style" sort).

    CONSTANTS first, then CamelCase names, then the rest; a natural sort
    within each group (digits compare as numbers).
    """
    if len(name) > 1 and name.isupper():
        group = 0
    elif name[:1].isupper():
        group = 1
    else:
        group = 2
    natural = [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]
    return group, natural


def test_isort_key_orders_constants_classes_then_the_rest() -> None:
    names = ["make_app", "Zeta", "DEFAULT", "__version__", "APIError", "Api2", "Api10", "T", "A_B"]
    assert sorted(names, key=_isort_key) == [
        "A_B",
        "DEFAULT",
        "APIError",
        "Api2",
        "Api10",
        "T",
        "Zeta",
        "__version__",
        "make_app",
    ]


@pytest.mark.parametrize("module", [postman_async, postman_async.testing], ids=lambda m: m.__name__)
def test_all_is_sorted_without_duplicates(module: ModuleType) -> None:
    names = list(module.__all__)
    assert names == sorted(names, key=_isort_key)
    assert len(names) == len(set(names))


def test_every_name_in_all_exists() -> None:
    missing = [name for name in postman_async.__all__ if not hasattr(postman_async, name)]
    assert missing == []


def test_every_public_class_and_function_is_in_all() -> None:
    public = {
        name
        for name, obj in vars(postman_async).items()
        if not name.startswith("_")
        and (inspect.isclass(obj) or inspect.isfunction(obj))
        and _defined_here(obj)
    }
    assert public  # guard against a vacuous pass
    assert public - set(postman_async.__all__) == set()


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from postman_async import *", namespace)
    namespace.pop("__builtins__")
    assert set(namespace) == set(postman_async.__all__)


def test_version_is_a_string() -> None:
    assert isinstance(postman_async.__version__, str)
    assert postman_async.__version__
    assert postman_async.__version__[0].isdigit()


def test_package_has_a_docstring() -> None:
    assert (postman_async.__doc__ or "").strip()


@pytest.mark.parametrize("cls", _public_classes(), ids=lambda cls: cls.__name__)
def test_public_class_is_documented(cls: type) -> None:
    assert (cls.__doc__ or "").strip(), f"{cls.__name__} has no docstring"
    assert cls.__doc__ != type.__doc__


@pytest.mark.parametrize("cls", _public_classes(), ids=lambda cls: cls.__name__)
def test_public_methods_are_documented(cls: type) -> None:
    undocumented = []
    for klass in cls.__mro__:
        if not _defined_here(klass):
            continue
        for name, member in vars(klass).items():
            if name.startswith("_"):
                continue
            if isinstance(member, enum.Enum):
                continue  # enum members are values, not methods
            if isinstance(member, property):
                func = member.fget
            elif isinstance(member, (staticmethod, classmethod)):
                func = member.__func__
            elif inspect.isfunction(member):
                func = member
            else:
                continue  # plain attributes, struct fields, constants
            if not (getattr(func, "__doc__", None) or "").strip():
                undocumented.append(f"{klass.__name__}.{name}")
    assert undocumented == []
