"""How every lkmm op chooses its implementation: one registry of named
implementations and one per-thread switch with one precedence.

Why: each op used to grow its own strings, switch and fall-through; with one
mechanism an op decides in one visible place (as timm's ``create_conv2d``
does) and a new implementation is a registration, not a set of edits.

The precedence :meth:`ImplSwitch.resolve` applies, first match wins:

1. an explicit ``impl`` (the call's argument; a module passes its own
   ``impl=`` when it is not ``'auto'``);
2. the thread's switch (the op's setter or context manager);
3. the op's environment variable, where it has one;
4. the default, ``'auto'``: the op's own plan (measured rules, heuristics).
"""
import os
import threading
from contextlib import contextmanager
from typing import Dict, Generic, Iterator, Optional, Sequence, Tuple, TypeVar

__all__ = ['ImplSwitch', 'ImplRegistry', 'SOURCE_ARGUMENT', 'SOURCE_SWITCH',
           'SOURCE_ENV', 'SOURCE_DEFAULT']

#: Where :meth:`ImplSwitch.resolve` found the choice, highest first.
SOURCE_ARGUMENT = 'argument'
SOURCE_SWITCH = 'switch'
SOURCE_ENV = 'env'
SOURCE_DEFAULT = 'default'

T = TypeVar('T')


class ImplRegistry(Generic[T]):
    """An ordered table of an op's implementations, by name.

    Why: dispatch looks the plan's names up here, so no op has a string
    if-chain or an unnamed fall-through.

    Args:
        op (str): The op's name, for error messages.
    """

    def __init__(self, op: str):
        self.op = op
        self._impls: Dict[str, T] = {}

    def register(self, impl: T) -> T:
        """Add ``impl`` (an object with a ``name``) at the end of the table.

        Args:
            impl: The implementation.

        Returns:
            The same object (so a module can end with one registration).

        Raises:
            ValueError: The name is empty or already registered.
        """
        name = getattr(impl, 'name', '')
        if not name:
            raise ValueError(f'{self.op} implementation has no name: {impl!r}')
        if name in self._impls:
            raise ValueError(f'{self.op} implementation {name!r} is already '
                             f'registered')
        self._impls[name] = impl
        return impl

    def get(self, name: str) -> T:
        """The implementation called ``name``.

        Args:
            name (str): A registered name.

        Returns:
            The implementation.

        Raises:
            ValueError: No implementation has that name (the message names
                the registered ones).
        """
        try:
            return self._impls[name]
        except (KeyError, TypeError):
            raise ValueError(f'impl must be one of {self.names()}, got '
                             f'{name!r}') from None

    def names(self) -> Tuple[str, ...]:
        """The registered names, in registration order."""
        return tuple(self._impls)

    def __iter__(self) -> Iterator[T]:
        return iter(tuple(self._impls.values()))

    def __contains__(self, name: object) -> bool:
        return name in self._impls


class ImplSwitch:
    """Which implementation an op runs in this thread.

    Args:
        choices (Sequence[str]): Allowed values; the first is the default.
        env (str, optional): Environment variable read when the thread has
            not set the switch.
    """

    def __init__(self, choices: Sequence[str], env: Optional[str] = None):
        self.choices = tuple(choices)
        self.env = env
        self._state = threading.local()

    def check(self, impl: str, name: str = 'impl') -> str:
        """``impl`` if allowed; else a ValueError naming ``name`` and the
        allowed values."""
        if impl not in self.choices:
            raise ValueError(f'{name} must be one of {self.choices}, got '
                             f'{impl!r}')
        return impl

    def resolve(self, impl: Optional[str] = None) -> Tuple[str, str]:
        """The choice in effect and the level of the precedence (module
        docstring) that made it.

        Why: one function applies the precedence for every op, so the order
        is the same everywhere and testable in one place.

        Args:
            impl (str, optional): An explicit choice (level 1); None defers
                to the switch, the environment and the default.

        Returns:
            tuple[str, str]: The choice and its source, one of
            :data:`SOURCE_ARGUMENT`, :data:`SOURCE_SWITCH`,
            :data:`SOURCE_ENV` and :data:`SOURCE_DEFAULT`.

        Raises:
            ValueError: ``impl`` or the environment variable is not one of
                the choices.
        """
        if impl is not None:
            return self.check(impl), SOURCE_ARGUMENT
        thread = getattr(self._state, 'impl', None)
        if thread is not None:
            return thread, SOURCE_SWITCH
        if self.env is not None and self.env in os.environ:
            return self.check(os.environ[self.env].strip().lower(),
                              self.env), SOURCE_ENV
        return self.choices[0], SOURCE_DEFAULT

    def get(self) -> str:
        """The value in effect in this thread."""
        return self.resolve()[0]

    def set(self, impl: Optional[str]) -> None:
        """Set the switch for this thread; None goes back to the default."""
        self._state.impl = None if impl is None else self.check(impl)

    @contextmanager
    def use(self, impl: str) -> Iterator[None]:
        """Run the ``with`` block with ``impl``."""
        previous = getattr(self._state, 'impl', None)
        self._state.impl = self.check(impl)
        try:
            yield
        finally:
            self._state.impl = previous
