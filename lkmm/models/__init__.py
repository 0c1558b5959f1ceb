from .backbones import *  # noqa: F401,F403
from .timm_models import TIMM_MODEL_NAMES, RepLKNetTimm  # noqa: F401
