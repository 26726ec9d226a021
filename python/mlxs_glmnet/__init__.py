"""mlxs_glmnet: elastic-net GLM regularisation paths with R glmnet's semantics, on MLX.

    import mlxs_glmnet as mg
    fit = mg.glmnet(x, y, family="binomial")
    fit.predict(newx, s=0.01, type="response")
    cv = mg.cv_glmnet(x, y, family="binomial", type_measure="auc")
    cv.plot(); fit.plot(xvar="lambda")        # matplotlib (optional)
    fit.coef_frame(s=0.01)                    # pandas (optional); DataFrame x keeps its names
    mg.make_x(df)                             # one-hot encoding as glmnet's makeX
    mg.glmnet_control(fdev=0)                 # glmnet.control: e.g. every lambda of the path

mlxs_glmnet.rpy2 (optional rpy2): to_r / from_r between these objects and R's glmnet objects,
fit_r / cv_fit_r for R data. mlxs_glmnet.rbridge: the entry points of the R package.
"""
from .api import GlmnetFit, glmnet, glmnet_batch, glmnet_control, lambda_interp
from .cv import CVGlmnet, CvGlmnetFit, cv_glmnet
from .frames import make_x

__all__ = ["GlmnetFit", "glmnet", "glmnet_batch", "glmnet_control", "lambda_interp", "CvGlmnetFit",
           "CVGlmnet", "cv_glmnet", "make_x"]
__version__ = "0.1.0"
