"""mlxs_glmnet: elastic-net GLM regularisation paths with R glmnet's semantics, on MLX.

    import mlxs_glmnet as mg
    fit = mg.glmnet(x, y, family="binomial")
    fit.predict(newx, s=0.01, type="response")
"""
from .api import GlmnetFit, glmnet, glmnet_batch, lambda_interp

try:
    from .cv import CvGlmnetFit, cv_glmnet
except ImportError:  # cv.py is optional while it is being written
    pass

__version__ = "0.1.0"
