"""lkmm networks as timm models.

``import lkmm`` registers them with timm, so timm's own training and
validation scripts (and ``timm.create_model``) can use them:

    >>> import lkmm, timm
    >>> model = timm.create_model('replknet_31b', num_classes=100)

The network is the same as lkmm's ImageNet classifier (an mmpretrain
``ImageClassifier`` with ``lkmm.RepLKNet(final_norm=True)``, global average
pooling and a linear head) and its parameters have the same names
(``backbone.*``, ``head.fc.*``), so a checkpoint written by
``tools/model_converters/replknet_to_lkmm.py`` or trained with lkmm loads
with ``timm.create_model(name, checkpoint_path=PATH)``. No pretrained weights
are hosted: ``pretrained=True`` is refused by timm.
"""
from typing import Optional

import torch
import torch.nn as nn
from timm.data import (
    IMAGENET_DEFAULT_MEAN,
    IMAGENET_DEFAULT_STD,
    IMAGENET_INCEPTION_MEAN,
    IMAGENET_INCEPTION_STD,
)
from timm.models import (
    build_model_with_cfg,
    generate_default_cfgs,
    register_model,
)

from .backbones.replknet import RepLKNet

__all__ = ['RepLKNetTimm', 'TIMM_MODEL_NAMES']


class _LinearHead(nn.Module):
    """Dropout + linear classifier, named like mmpretrain's ``head.fc``."""

    def __init__(self, in_features: int, num_classes: int,
                 drop_rate: float = 0.):
        super().__init__()
        self.drop = nn.Dropout(drop_rate)
        self.fc = nn.Linear(in_features, num_classes) if num_classes > 0 \
            else nn.Identity()

    def forward(self, x):
        return self.fc(self.drop(x))


class RepLKNetTimm(nn.Module):
    """RepLKNet classifier with timm's model interface.

    Args:
        arch (str | dict): A :class:`~lkmm.models.RepLKNet` arch.
        num_classes (int): Classes; 0 for features only (no ``fc``).
            Defaults to 1000.
        in_chans (int): Input channels. Defaults to 3.
        global_pool (str): ``'avg'`` (the papers' pooling) or ``''`` (no
            pooling: ``forward_head`` gets and returns feature maps).
            Defaults to ``'avg'``.
        drop_rate (float): Dropout before the classifier. Defaults to 0.
        drop_path_rate (float): Stochastic depth at the last block.
            Defaults to 0.
        **backbone_kwargs: Other :class:`~lkmm.models.RepLKNet` arguments,
            e.g. ``small_kernel_merged=True`` or ``with_cp=True``.
    """

    def __init__(self,
                 arch='31B',
                 num_classes: int = 1000,
                 in_chans: int = 3,
                 global_pool: str = 'avg',
                 drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 **backbone_kwargs):
        super().__init__()
        if global_pool not in ('avg', ''):
            raise ValueError(
                f"global_pool must be 'avg' or '', got {global_pool!r}")
        self.backbone = RepLKNet(
            arch=arch, in_channels=in_chans, out_indices=(3, ),
            final_norm=True, drop_path_rate=drop_path_rate,
            **backbone_kwargs)
        self.num_classes = num_classes
        self.num_features = self.head_hidden_size = self.backbone.channels[-1]
        self.global_pool = global_pool
        self.drop_rate = drop_rate
        self.head = _LinearHead(self.num_features, num_classes, drop_rate)

    def get_classifier(self) -> nn.Module:
        return self.head.fc

    def reset_classifier(self, num_classes: int,
                         global_pool: Optional[str] = None) -> None:
        if global_pool is not None:
            if global_pool not in ('avg', ''):
                raise ValueError("global_pool must be 'avg' or '', got "
                                 f'{global_pool!r}')
            self.global_pool = global_pool
        self.num_classes = num_classes
        self.head = _LinearHead(self.num_features, num_classes,
                                self.drop_rate)

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.backbone.with_cp = enable

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The normalized last-stage feature map ``(N, C, H/32, W/32)``."""
        return self.backbone(x)[0]

    def forward_head(self, x: torch.Tensor,
                     pre_logits: bool = False) -> torch.Tensor:
        if self.global_pool == 'avg':
            x = x.mean(dim=(2, 3))
        return x if pre_logits else self.head(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def switch_to_deploy(self) -> 'RepLKNetTimm':
        """Deploy the re-parameterized kernels (see RepLKNet)."""
        self.backbone.switch_to_deploy()
        return self


def _cfg(**kwargs) -> dict:
    cfg = dict(
        url='', num_classes=1000, input_size=(3, 224, 224),
        pool_size=(7, 7), crop_pct=0.875, interpolation='bicubic',
        mean=IMAGENET_DEFAULT_MEAN, std=IMAGENET_DEFAULT_STD,
        first_conv='backbone.stem.0.conv', classifier='head.fc',
        license='mit', paper_ids='arXiv:2203.06717')
    cfg.update(kwargs)
    return cfg


# timm name -> lkmm arch. The timm names are free in timm 1.0; the kernel
# study models (paper Table 5) keep their kernel size in the name.
TIMM_MODEL_NAMES = {
    'replknet_3': '3',
    'replknet_7': '7',
    'replknet_13': '13',
    'replknet_25': '25',
    'replknet_31': '31',
    'replknet_31b': '31B',
    'replknet_31l': '31L',
    'replknet_xl': 'XL',
}

default_cfgs = generate_default_cfgs({
    **{f'{name}.untrained': _cfg() for name in TIMM_MODEL_NAMES
       if name not in ('replknet_31l', 'replknet_xl')},
    'replknet_31l.untrained': _cfg(input_size=(3, 384, 384),
                                   pool_size=(12, 12), crop_pct=1.0),
    # XL: mean = std = 0.5 (official README), evaluated at 320.
    'replknet_xl.untrained': _cfg(
        input_size=(3, 320, 320), pool_size=(10, 10), crop_pct=1.0,
        mean=IMAGENET_INCEPTION_MEAN, std=IMAGENET_INCEPTION_STD),
})


def _create(name: str, pretrained: bool = False, **kwargs) -> RepLKNetTimm:
    return build_model_with_cfg(RepLKNetTimm, name, pretrained,
                                arch=TIMM_MODEL_NAMES[name], **kwargs)


def _register(name: str) -> None:
    def factory(pretrained: bool = False, **kwargs) -> RepLKNetTimm:
        return _create(name, pretrained, **kwargs)

    factory.__name__ = name
    factory.__qualname__ = name
    factory.__module__ = __name__
    factory.__doc__ = (f'RepLKNet arch "{TIMM_MODEL_NAMES[name]}" '
                       '(see lkmm.models.RepLKNet).')
    globals()[name] = register_model(factory)


for _name in TIMM_MODEL_NAMES:
    _register(_name)
