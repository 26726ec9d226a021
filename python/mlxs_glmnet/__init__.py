"""mlxs_glmnet: elastic-net GLM regularisation paths with R glmnet's semantics, on MLX.

    import mlxs_glmnet as mg
    fit = mg.glmnet(x, y, family="binomial")
    fit.predict(newx, s=0.01, type="response")
    cv = mg.cv_glmnet(x, y, family="binomial", type_measure="auc")
"""
from .api import GlmnetFit, glmnet, glmnet_batch, lambda_interp
from .cv import CVGlmnet, CvGlmnetFit, cv_glmnet
from .frames import make_x

__all__ = ["GlmnetFit", "glmnet", "glmnet_batch", "lambda_interp", "CvGlmnetFit", "CVGlmnet",
           "cv_glmnet", "make_x"]
__version__ = "0.1.0"
