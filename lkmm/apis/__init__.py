from .launch import (build_runner, init_cpu_distributed, load_config,
                     test_main, train_main)

__all__ = [
    'build_runner', 'init_cpu_distributed', 'load_config', 'test_main',
    'train_main'
]
