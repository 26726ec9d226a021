#' Cross-validation for mlxs_glmnet
#'
#' A drop-in replacement for \code{\link[glmnet]{cv.glmnet}}. All folds and the full-data path
#' are fitted by the engine in one call (a batch of path problems), and the cross-validation
#' statistics are computed by the engine; R only assembles the \code{"cv.glmnet"} object, so
#' glmnet's \code{plot}, \code{coef} and \code{predict} methods work on it.
#'
#' Folds are drawn in R exactly as \code{cv.glmnet} draws them
#' (\code{sample(rep(seq(nfolds), length = nrow(x)))}), so with the same seed both functions
#' use the same folds.
#'
#' @param x,y,weights,offset,lambda,trace.it,device As in \code{\link{mlxs_glmnet}}.
#' @param type.measure Loss used for cross-validation: \code{"default"}, \code{"mse"},
#'   \code{"deviance"}, \code{"class"}, \code{"auc"} or \code{"mae"} (as in cv.glmnet).
#' @param nfolds Number of folds (at least 3).
#' @param foldid Optional vector of fold numbers (1 to nfolds) for each observation.
#' @param alignment As in \code{cv.glmnet}: \code{"lambda"} (predict each fold at the full-data
#'   lambdas) or \code{"fraction"} (at the same fraction of each fold's own path).
#' @param grouped As in \code{cv.glmnet}: fold-wise statistics (\code{TRUE}) or per observation.
#' @param keep If \code{TRUE}, the prevalidated fits \code{fit.preval} and \code{foldid} are kept.
#' @param parallel Ignored (the engine already fits all folds in one call).
#' @param ... Further arguments of \code{\link{mlxs_glmnet}} (family, alpha, ...). With
#'   \code{relax = TRUE} (and optionally \code{gamma}, as in \code{cv.glmnet}), the relaxed
#'   fits are cross-validated too: glmnet's own \code{cv.glmnet} runs with every relaxed fit it
#'   makes (the full data's and each fold's) an \code{mlxs_glmnet(relax = TRUE)} call. The
#'   folds are then fitted one after another, as glmnet does, not as one batch.
#' @return An object of class \code{"cv.glmnet"} (\code{c("cv.relaxed", "cv.glmnet")} with
#'   \code{relax = TRUE}).
#' @examples
#' \dontrun{
#' cv <- mlxs_cv_glmnet(matrix(rnorm(2000), 100), rnorm(100))
#' plot(cv)
#' coef(cv, s = "lambda.min")
#' }
#' @export
mlxs_cv_glmnet <- function(x, y, weights = NULL, offset = NULL, lambda = NULL,
                           type.measure = c("default", "mse", "deviance", "class", "auc", "mae"),
                           nfolds = 10, foldid = NULL, alignment = c("lambda", "fraction"),
                           grouped = TRUE, keep = FALSE, parallel = FALSE, trace.it = 0,
                           device = "auto", ...) {
  type.measure <- tryCatch(match.arg(type.measure), error = function(e)
    .stopf("type.measure must be one of \"default\", \"mse\", \"deviance\", \"class\", ",
           "\"auc\", \"mae\""))
  alignment <- tryCatch(match.arg(alignment), error = function(e)
    .stopf("alignment must be \"lambda\" or \"fraction\""))
  grouped <- .check_flag(grouped, "grouped")
  keep <- .check_flag(keep, "keep")
  if (!is.null(lambda) && length(lambda) < 2L)
    .stopf("lambda: need more than one value of lambda for cross-validation")

  cv.call <- glmnet.call <- match.call(expand.dots = TRUE)
  drop <- match(c("type.measure", "nfolds", "foldid", "grouped", "keep", "alignment",
                  "parallel"), names(glmnet.call), 0L)
  if (any(drop > 0L)) glmnet.call <- glmnet.call[-drop[drop > 0L]]
  glmnet.call[[1L]] <- as.name("mlxs_glmnet")

  dots <- list(...)
  relax <- .check_flag(if (is.null(dots$relax)) FALSE else dots$relax, "relax")
  fam_arg <- if (is.null(dots$family)) "gaussian" else dots$family
  glmnet_args <- c("alpha", "nlambda", "lambda.min.ratio", "standardize", "intercept", "thresh",
                   "dfmax", "pmax", "exclude", "penalty.factor", "lower.limits", "upper.limits",
                   "maxit")
  a <- dots[intersect(names(dots), glmnet_args)]
  prep <- .prepare_args(x, y, fam_arg, weights, offset,
                        if (is.null(a$alpha)) 1 else a$alpha,
                        if (is.null(a$nlambda)) 100 else a$nlambda,
                        a$lambda.min.ratio, lambda,
                        if (is.null(a$standardize)) TRUE else a$standardize,
                        if (is.null(a$intercept)) TRUE else a$intercept,
                        if (is.null(a$thresh)) 1e-07 else a$thresh,
                        a$dfmax, a$pmax, a$exclude, a$penalty.factor,
                        if (is.null(a$lower.limits)) -Inf else a$lower.limits,
                        if (is.null(a$upper.limits)) Inf else a$upper.limits,
                        if (is.null(a$maxit)) 1e+05 else a$maxit,
                        trace.it, device,
                        dots[setdiff(names(dots), c(glmnet_args, "family", "relax", "gamma"))])
  nobs <- nrow(prep$x)
  if (relax) {
    if (!is.null(foldid) && (!is.numeric(foldid) || length(foldid) != nobs || anyNA(foldid)))
      .stopf("foldid must hold one positive whole fold number per row of x (length ", nobs, ")")
    out <- .cv_relaxed(prep$x, y, weights, offset, lambda, type.measure, nfolds, foldid,
                       alignment, grouped, keep, trace.it, device, ...)
    out$call <- cv.call
    out$glmnet.fit$call <- glmnet.call
    out$glmnet.fit$relaxed$call <- glmnet.call
    return(out)
  }

  if (is.null(foldid)) {
    nfolds <- .check_scalar(nfolds, "nfolds", 3, integer = TRUE)
    if (nfolds > nobs) .stopf("nfolds (", nfolds, ") must not exceed nrow(x) = ", nobs)
    foldid <- sample(rep(seq(nfolds), length = nobs))
  } else {
    if (!is.numeric(foldid) || length(foldid) != nobs || anyNA(foldid) ||
        any(foldid != round(foldid)) || any(foldid < 1))
      .stopf("foldid must hold one positive whole fold number per row of x (length ", nobs, ")")
    nfolds <- max(foldid)
    if (nfolds < 3) .stopf("foldid: need at least 3 folds; nfolds = 10 is recommended")
  }
  foldid <- as.integer(foldid)

  kw <- prep$kwargs
  kw$foldid <- as.array(foldid)
  kw$type_measure <- type.measure
  kw$keep <- keep
  kw$grouped <- grouped
  kw$alignment <- alignment
  res <- .engine_call("cv_fit", prep$x, prep$y, prep$family, kw)

  fit <- .as_glmnet(res$glmnet_fit, prep$family, prep$xnames, prep$classnames, glmnet.call,
                    nobs)
  nlam <- length(res$lambda)
  snames <- paste0("s", seq_len(nlam) - 1L)
  nzero <- as.integer(res$nzero)
  names(nzero) <- snames
  name <- res$name_label
  names(name) <- res$name_key
  out <- list(lambda = as.double(res$lambda), cvm = as.double(res$cvm),
              cvsd = as.double(res$cvsd), cvup = as.double(res$cvup),
              cvlo = as.double(res$cvlo), nzero = nzero, call = cv.call, name = name,
              glmnet.fit = fit)
  if (!grouped) {   # cv.glmnet's ungrouped statistics carry the lambda names s0, s1, ...
    for (nm in c("cvm", "cvsd", "cvup", "cvlo")) names(out[[nm]]) <- snames
  }
  if (keep) {
    preval <- res$fit_preval
    if (!is.null(preval)) {
      preval <- as.matrix(preval)
      dimnames(preval) <- list(NULL, snames[seq_len(ncol(preval))])
      out$fit.preval <- preval
    }
    out$foldid <- if (is.null(res$foldid)) foldid else as.integer(res$foldid)
  }
  out$lambda.min <- as.double(res$lambda_min)
  out$lambda.1se <- as.double(res$lambda_1se)
  out$index <- matrix(as.integer(res$index), 2L, 1L,
                      dimnames = list(c("min", "1se"), "Lambda"))
  class(out) <- "cv.glmnet"
  out
}

# relax = TRUE: glmnet's own cv.glmnet (and its cv.relaxed.raw), run with `glmnet` and
# `relax.glmnet` bound, in the environment they look them up from, to mlxs_glmnet(relax = TRUE)
# and to a pass-through of its result: the full data's relaxed fit and each fold's are one engine
# call each (the path and the refits of its active sets). glmnet's R code does the folds'
# bookkeeping and the statistics over gamma; the R package adds no numerics.
.cv_relaxed <- function(x, y, weights, offset, lambda, type.measure, nfolds, foldid, alignment,
                        grouped, keep, trace.it, device, ...) {
  ns <- asNamespace("glmnet")
  env <- new.env(parent = ns)
  # (the calls recorded in the fits name the package and carry device's value, so that glmnet
  # code evaluating them again finds both)
  env$glmnet <- eval(bquote(function(x, y, ...)
    mlxsglmnet::mlxs_glmnet(x, y, device = .(if (is.null(device)) "auto" else device),
                            relax = TRUE, ...)))
  env$relax.glmnet <- function(fit, x, ..., check.args = TRUE) {
    if (inherits(fit, "relaxed")) return(fit)
    glmnet::relax.glmnet(fit, x, ..., check.args = check.args)
  }
  for (f in c("cv.glmnet", "cv.relaxed.raw")) {
    fn <- get(f, envir = ns)
    environment(fn) <- env
    assign(f, fn, envir = env)
  }
  env$cv.glmnet(x, y, weights = weights, offset = offset, lambda = lambda,
                type.measure = type.measure, nfolds = nfolds, foldid = foldid,
                alignment = alignment, grouped = grouped, keep = keep, parallel = FALSE,
                trace.it = trace.it, ...)
}
