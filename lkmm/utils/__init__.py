from .checkpoint import (SAFE_GLOBALS, UnsafeCheckpointError,
                         register_safe_checkpoint_loading, safe_load)

__all__ = [
    'SAFE_GLOBALS', 'UnsafeCheckpointError', 'register_safe_checkpoint_loading',
    'safe_load'
]
