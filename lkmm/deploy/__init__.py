"""Deployable models out: deployed (re-parameterized) checkpoints and configs,
and checked ONNX files.
"""
from .onnx_export import (
                          OnnxExportError,
                          UnsupportedModelError,
                          export_model_to_onnx,
                          export_onnx,
                          find_fft_nodes,
)
from .reparameterize import (
                          CheckpointMismatchError,
                          DeployVerificationError,
                          deploy_config,
                          load_state_dict_strictly,
                          reparameterize_checkpoint,
                          switch_model_to_deploy,
)

__all__ = [
    'CheckpointMismatchError', 'DeployVerificationError', 'deploy_config',
    'load_state_dict_strictly', 'reparameterize_checkpoint',
    'switch_model_to_deploy', 'OnnxExportError', 'UnsupportedModelError',
    'export_model_to_onnx', 'export_onnx', 'find_fft_nodes'
]
