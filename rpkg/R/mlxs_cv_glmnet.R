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
#'   \code{relax = TRUE} (and optionally \code{gamma}, \code{maxp}, \code{path}, as in
#'   \code{cv.glmnet}), the relaxed fits are cross-validated too, in the same engine call: every
#'   problem's relaxed fit, the statistics for each gamma and glmnet's choice of (gamma,
#'   lambda), returned as glmnet's \code{"cv.relaxed"} object.
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
  if (relax) {
    gamma <- if (is.null(dots$gamma)) c(0, 0.25, 0.5, 0.75, 1) else dots$gamma
    if (!is.numeric(gamma) || !length(gamma) || anyNA(gamma))
      .stopf("gamma must be a numeric vector of values in [0, 1]")
    if (any(gamma < 0 | gamma > 1)) {   # cv.glmnet's checkgamma.relax: warned and left out
      warning("gamma values outside [0, 1] ignored", call. = FALSE)
      gamma <- gamma[gamma >= 0 & gamma <= 1]
      if (!length(gamma)) .stopf("gamma: no valid values of gamma")
    }
    kw$relax <- TRUE
    kw$gamma <- as.array(as.double(gamma))
    if (!is.null(dots$maxp)) kw$maxp <- .check_scalar(dots$maxp, "maxp", integer = TRUE)
    if (!is.null(dots$path)) kw$path <- .check_flag(dots$path, "path")
  }
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
  if (relax) out <- .cv_relaxed(out, res$relaxed, keep, snames)
  out
}

# relax = TRUE: glmnet's cv.relaxed object from the engine's statistics per gamma (rbridge
# _pack_cv's "relaxed"): $relaxed as cv.glmnet builds it, and with keep = TRUE every gamma's
# held-out predictions in fit.preval (a list, as cv.glmnet keeps them).
.cv_relaxed <- function(out, r, keep, snames) {
  gamma <- as.double(r$gamma)
  statlist <- lapply(seq_along(gamma), function(i) {
    cvm <- as.double(r$cvm[[i]])
    cvsd <- as.double(r$cvsd[[i]])
    nz <- as.integer(r$nzero[[i]])
    names(nz) <- paste0("s", seq_along(nz) - 1L)
    list(lambda = as.double(r$lambda[[i]]), cvm = cvm, cvsd = cvsd, cvup = cvm + cvsd,
         cvlo = cvm - cvsd, nzero = nz)
  })
  names(statlist) <- paste("g", gamma, sep = ":")
  opt <- as.double(r$opt)
  rel <- list(statlist = statlist, gamma = gamma, lambda.min = opt[1L],
                      lambda.1se = opt[2L], gamma.min = opt[3L], gamma.1se = opt[4L],
                      nzero.min = as.integer(opt[5L]), nzero.1se = as.integer(opt[6L]),
                      index = matrix(as.integer(r$index), 2L, 2L,
                                     dimnames = list(c("min", "1se"), c("Lambda", "Gamma"))))
  if (keep && !is.null(r$preval)) {
    pv <- lapply(r$preval, function(m) {
      m <- as.matrix(m)
      dimnames(m) <- list(NULL, snames[seq_len(ncol(m))])
      m
    })
    names(pv) <- paste("g", as.double(r$preval_gamma), sep = ":")
    fv <- out$foldid                    # (cv.glmnet puts both after index when it relaxes)
    out$fit.preval <- NULL
    out$foldid <- NULL
    out$fit.preval <- pv
    out$foldid <- fv
  }
  out$relaxed <- rel
  class(out) <- c("cv.relaxed", "cv.glmnet")
  out
}
