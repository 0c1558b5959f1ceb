from .backbones import *  # noqa: F401,F403
from .converters import *  # noqa: F401,F403
from .timm_models import RepLKNetTimm, TIMM_MODEL_NAMES  # noqa: F401
