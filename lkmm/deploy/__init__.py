"""Deployable models out: folded (re-parameterized) checkpoints and configs.
"""
from .reparameterize import (CheckpointMismatchError, DeployVerificationError,
                             deploy_config, load_state_dict_strictly,
                             reparameterize_checkpoint,
                             switch_model_to_deploy)

__all__ = [
    'CheckpointMismatchError', 'DeployVerificationError', 'deploy_config',
    'load_state_dict_strictly', 'reparameterize_checkpoint',
    'switch_model_to_deploy'
]
