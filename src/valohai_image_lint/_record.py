"""Plain value classes for the start-up path, in place of ``@dataclass``.

A pre-commit run pays for every class ``@dataclass`` builds (it generates and compiles
``__init__``, ``__eq__``, ``__repr__`` and more at import) and for importing ``dataclasses``
itself, which imports ``inspect`` (and with it ``ast``, ``dis`` and ``tokenize``). The classes
every run creates are written out instead: each lists its fields in ``__slots__`` and has an
``__init__`` of its own (the same parameters, order and defaults the dataclass had); this base
gives them what the dataclass gave besides: ``==`` field by field between instances of the
same class, a ``repr`` naming the fields, and for ``FrozenRecord`` a hash and no assignment.
"""

from __future__ import annotations

from typing import Any, ClassVar


class Record:
    """A mutable value: compared field by field, unhashable (as a non-frozen dataclass)."""

    __slots__ = ()
    # The fields ``==`` (and the hash) look at, when not all of them.
    _compared: ClassVar[tuple[str, ...]] = ()
    # Fields left out of the repr.
    _unshown: ClassVar[tuple[str, ...]] = ()
    # Every field, a base class's first (set for each subclass).
    _fields: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._fields = cls._fields + tuple(cls.__dict__.get("__slots__", ()))

    def _key(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._compared or self._fields)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Record)
        return self._key() == other._key()

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields
                          if name not in self._unshown)
        return f"{type(self).__qualname__}({shown})"


class FrozenRecord(Record):
    """An immutable value: hashable, and assigning to a field raises ``AttributeError``."""

    __slots__ = ()

    def __hash__(self) -> int:
        return hash(self._key())

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}")


# Frozen classes set their fields in __init__ through this.
set_field = object.__setattr__
