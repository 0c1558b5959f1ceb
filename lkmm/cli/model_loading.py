"""A trained model from a config and a checkpoint, for the analysis tools
that read trained weights (shape bias, kernel weights): a checkpoint that
does not fill the model exactly is refused, since the numbers of a half
loaded model would mean nothing."""
import os.path as osp
from typing import Optional, Tuple

from lkmm.engine.runner import build_model_from_cfg, load_config

__all__ = ['load_trained_model']

# Longest part of mmengine's key-mismatch message that is shown.
_MESSAGE_CHARS = 1500


def load_trained_model(tool: str, config: str, checkpoint: str,
                       cfg_options: Optional[dict] = None) -> Tuple:
    """Build ``config``'s model, load ``checkpoint`` strictly, eval mode.

    Args:
        tool (str): The tool's name, for the messages.
        config (str): Config file (or ``package::path``).
        checkpoint (str): Weights of exactly this model (an mmengine
            checkpoint or a plain state dict).
        cfg_options (dict, optional): ``--cfg-options`` overrides.

    Returns:
        tuple: ``(cfg, model)``, the model in eval mode on the CPU.

    Raises:
        SystemExit: for a missing config or checkpoint, or one whose keys
            or shapes differ from the model's.
    """
    from mmengine.runner import load_checkpoint
    try:
        cfg = load_config(config, cfg_options, work_dir='')
    except FileNotFoundError as err:
        raise SystemExit(f'{tool}: {err}')
    if not osp.isfile(checkpoint) and '://' not in checkpoint:
        raise SystemExit(f'{tool}: checkpoint not found: {checkpoint}')
    model = build_model_from_cfg(cfg)
    try:
        load_checkpoint(model, checkpoint, map_location='cpu', strict=True,
                        logger='silent')
    except RuntimeError as err:
        text = str(err)
        if len(text) > _MESSAGE_CHARS:
            text = text[:_MESSAGE_CHARS] + ' ...'
        raise SystemExit(
            f'{tool}: {checkpoint} is not a checkpoint of the model of '
            f'{config}:\n{text}')
    return cfg, model.eval()
