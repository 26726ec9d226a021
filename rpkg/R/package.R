#' mlxsglmnet: glmnet paths on the MLX engine
#'
#' \code{\link{mlxs_glmnet}} and \code{\link{mlxs_cv_glmnet}} take glmnet's arguments and
#' return glmnet's objects; the fitting happens in the Python engine \code{mlxs_glmnet}.
#' See \code{\link{mlxs_engine_info}} for how the Python interpreter is found.
#'
#' @keywords internal
#' @importFrom glmnet glmnet
#' @importClassesFrom Matrix dgCMatrix
"_PACKAGE"
