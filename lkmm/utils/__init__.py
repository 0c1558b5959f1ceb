from .checkpoint import (
                         SAFE_GLOBALS,
                         UnsafeCheckpointError,
                         register_safe_checkpoint_loading,
                         safe_load,
)
from .fileio import (
                         AtomicLocalBackend,
                         atomic_write_bytes,
                         register_atomic_local_backend,
)

__all__ = [
    'SAFE_GLOBALS', 'UnsafeCheckpointError',
    'register_safe_checkpoint_loading', 'safe_load', 'AtomicLocalBackend',
    'atomic_write_bytes', 'register_atomic_local_backend'
]
