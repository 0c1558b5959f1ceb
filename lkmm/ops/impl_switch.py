"""A per-thread implementation switch, the pattern every lkmm op follows:
a context manager and a setter per thread, an environment variable as the
default, and one error naming the allowed values."""
import os
import threading
from contextlib import contextmanager
from typing import Iterator, Optional, Sequence

__all__ = ['ImplSwitch']


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

    def get(self) -> str:
        """The value in effect in this thread."""
        impl = getattr(self._state, 'impl', None)
        if impl is not None:
            return impl
        if self.env is None:
            return self.choices[0]
        return self.check(
            os.environ.get(self.env, self.choices[0]).strip().lower(),
            self.env)

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
