"""Models of the four papers plus baselines, built by name: ``build("memnet_m6r6")``.

Importing this package imports every model family so that each registers its variants.
"""

# Model families register themselves on import. Keep this list in sync with the files.
from reprolib.models import dncnn, memnet, memorynet, nlrn, rednet, vdsr  # noqa: F401  (each family registers its models)
from reprolib.models.registry import (
    available,
    build,
    conv_weight_params,
    model_depth,
    register,
    total_params,
)

__all__ = ["available", "build", "conv_weight_params", "model_depth", "register", "total_params"]
