from .launch import (build_model_from_cfg, build_runner, init_cpu_distributed,
                     load_config, test_main, train_main)
from .deploy import reparameterize_checkpoint

__all__ = [
    'build_model_from_cfg', 'build_runner', 'init_cpu_distributed', 'load_config', 'test_main',
    'train_main', 'reparameterize_checkpoint'
]
