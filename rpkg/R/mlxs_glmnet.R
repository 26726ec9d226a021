#' Fit a glmnet regularisation path on the MLX engine
#'
#' A drop-in replacement for \code{\link[glmnet]{glmnet}}: same arguments and defaults, plus
#' \code{device}. The path is computed by the Python engine \code{mlxs_glmnet} (MLX; one kernel
#' launch per path) and returned as a genuine glmnet object, so glmnet's \code{print},
#' \code{coef}, \code{predict}, \code{plot} and \code{deviance} methods work on it unchanged.
#'
#' @section Data handoff:
#' A double matrix \code{x} is handed to Python without a copy (reticulate exposes R's memory
#' to numpy as a read-only, Fortran-ordered array). Integer or logical matrices, data frames of
#' numeric columns and dense \code{Matrix} objects are converted once to a double matrix in R.
#' A sparse \code{Matrix} (a \code{dgCMatrix}, or converted to one) stays sparse: its slots
#' reach the engine as a \code{scipy.sparse} matrix, whose CPU kernel reads the compressed
#' columns (a GPU is not used for it). Only a handful of arrays come back; nothing crosses
#' between R and Python per lambda.
#'
#' @section Differences from glmnet:
#' Families \code{"multinomial"}, \code{"cox"} and \code{"mgaussian"}, non-canonical links
#' and \code{type.logistic = "modified.Newton"} are not supported (an error says so).
#' \code{\link[glmnet]{glmnet.control}}'s \code{fdev}, \code{devmax}, \code{eps}, \code{mnlam},
#' \code{pmin} and \code{itrace} act as they act on glmnet (they are read at every call);
#' \code{exmx} and \code{big} are not used (a warning says so when they are changed).
#' A user-supplied \code{lambda} must already be in decreasing order (glmnet sorts it
#' silently; here an unsorted \code{lambda} is an error).
#'
#' @param x Input matrix, observations in rows (see the section on the data handoff).
#' @param y Response: numeric for \code{"gaussian"}, non-negative counts for \code{"poisson"},
#'   a two-level factor (or a vector with two distinct values) for \code{"binomial"}.
#' @param family \code{"gaussian"}, \code{"binomial"} or \code{"poisson"}, or one of the family
#'   objects \code{gaussian()}, \code{binomial()}, \code{poisson()} with the canonical link.
#' @param weights Observation weights (default 1 each).
#' @param offset Optional offset vector.
#' @param alpha Elastic-net mixing parameter in [0, 1].
#' @param nlambda Number of lambda values.
#' @param lambda.min.ratio Smallest lambda as a fraction of \code{lambda.max}.
#' @param lambda Optional user-supplied decreasing lambda sequence.
#' @param standardize Standardise the columns of \code{x} before fitting.
#' @param intercept Fit an intercept.
#' @param thresh Convergence threshold for coordinate descent.
#' @param dfmax Limit on the number of variables in the model.
#' @param pmax Limit on the number of variables ever nonzero.
#' @param exclude Indices of variables to exclude (1-based, or a function of
#'   \code{x, y, weights} returning them, as in glmnet).
#' @param penalty.factor Per-variable penalty factors.
#' @param lower.limits,upper.limits Bounds on the coefficients (scalars or vectors).
#' @param maxit Maximum number of passes over the data.
#' @param relax If \code{TRUE}, the relaxed fit is added as glmnet's
#'   \code{\link[glmnet]{relax.glmnet}} adds it: the engine refits each distinct active set of
#'   the path without penalty, in the same call. The result has class \code{"relaxed"} and
#'   glmnet's \code{coef}, \code{predict}, \code{print} and \code{plot} methods take
#'   \code{gamma}. \code{maxp} (default \code{nrow(x) - 3}) and \code{path} in \code{...} are
#'   relax.glmnet's arguments.
#' @param trace.it If 1, the engine shows a progress bar.
#' @param device \code{"auto"}, \code{"cpu"} or \code{"gpu"}. \code{"auto"} uses a GPU (CUDA, or
#'   Metal once it passed its self-check) only where it was measured to win over the CPU engine
#'   with x in host memory, as an R matrix is: binomial and poisson fits with n p of at least 5e7,
#'   gaussian fits with n p of at least 1e8, when the fit fits the GPU's free memory (else
#'   the CPU; \code{"gpu"} then stops with an error saying so); other fits run on the CPU
#'   (float64). On a
#'   GPU the engine computes in float32 (objective within 1e-4 of the float64 CPU path at every
#'   lambda, checked by \code{bench/gpu.py --check}); binomial and poisson fits with 30000 or more
#'   rows run glmnet's IRLS in covariance form, driven from the host.
#' @param ... \code{type.gaussian} (\code{"covariance"} or \code{"naive"}) and \code{dtype}
#'   (\code{"float32"} or \code{"float64"}) are passed to the engine, \code{maxp} and
#'   \code{path} to \code{relax.glmnet} (with \code{relax = TRUE}); other glmnet-only
#'   arguments are ignored with a warning.
#' @return An object of class \code{c("elnet", "glmnet")}, \code{c("lognet", "glmnet")} or
#'   \code{c("fishnet", "glmnet")} with glmnet's fields; with \code{relax = TRUE}, class
#'   \code{"relaxed"} in front and the relaxed fit in \code{$relaxed}, as glmnet returns it.
#' @examples
#' \dontrun{
#' fit <- mlxs_glmnet(matrix(rnorm(2000), 100), rnorm(100))
#' print(fit)
#' coef(fit, s = 0.05)
#' }
#' @export
mlxs_glmnet <- function(x, y, family = "gaussian", weights = NULL, offset = NULL, alpha = 1,
                        nlambda = 100, lambda.min.ratio = ifelse(nobs < nvars, 0.01, 1e-04),
                        lambda = NULL, standardize = TRUE, intercept = TRUE, thresh = 1e-07,
                        dfmax = nvars + 1, pmax = min(dfmax * 2 + 20, nvars), exclude = NULL,
                        penalty.factor = rep(1, nvars), lower.limits = -Inf, upper.limits = Inf,
                        maxit = 1e+05, relax = FALSE, trace.it = 0, device = "auto", ...) {
  this.call <- match.call()
  relax <- .check_flag(relax, "relax")
  nobs <- NROW(x)    # the defaults of lambda.min.ratio, dfmax, pmax, penalty.factor refer to
  nvars <- NCOL(x)   # these, as in glmnet (no copy of x is made here)
  prep <- .prepare_args(x, y, family, weights, offset, alpha, nlambda,
                        if (missing(lambda.min.ratio)) NULL else lambda.min.ratio,
                        lambda, standardize, intercept, thresh,
                        if (missing(dfmax)) NULL else dfmax,
                        if (missing(pmax)) NULL else pmax, exclude,
                        if (missing(penalty.factor)) NULL else penalty.factor,
                        lower.limits, upper.limits, maxit, trace.it, device, list(...))
  kw <- prep$kwargs
  if (relax) {
    dots <- list(...)
    kw$relax <- TRUE
    kw$maxp <- if (is.null(dots$maxp)) nrow(prep$x) - 3L else .check_scalar(dots$maxp, "maxp", integer = TRUE)
    kw$path <- .check_flag(if (is.null(dots$path)) FALSE else dots$path, "path")
  }
  res <- .engine_call("fit", prep$x, prep$y, prep$family, kw)
  .as_glmnet(res, prep$family, prep$xnames, prep$classnames, this.call, nrow(prep$x))
}

# Checks every argument and builds the engine's keyword arguments. Returns x (untouched when it
# is already a double matrix), y, the family, names and kwargs.
.prepare_args <- function(x, y, family, weights, offset, alpha, nlambda, lambda.min.ratio,
                          lambda, standardize, intercept, thresh, dfmax, pmax, exclude,
                          penalty.factor, lower.limits, upper.limits, maxit, trace.it, device,
                          dots) {
  family <- .check_family(family)
  x <- .check_x(x)
  nobs <- nrow(x)
  nvars <- ncol(x)
  yy <- .check_y(y, family, nobs)
  weights <- .check_obs_vector(weights, "weights", nobs)
  if (!is.null(weights) && any(weights < 0)) .stopf("weights must be non-negative")
  offset <- .check_obs_vector(offset, "offset", nobs)
  alpha <- .check_scalar(alpha, "alpha")   # outside [0, 1]: the engine warns and clamps, as glmnet
  lambda <- .check_lambda(lambda)
  nlambda <- .check_scalar(nlambda, "nlambda", 1, integer = TRUE)
  if (!is.null(lambda.min.ratio)) {
    lambda.min.ratio <- .check_scalar(lambda.min.ratio, "lambda.min.ratio", 0)
    if (lambda.min.ratio >= 1) .stopf("lambda.min.ratio must be less than 1; got ", lambda.min.ratio)
  }
  standardize <- .check_flag(standardize, "standardize")
  intercept <- .check_flag(intercept, "intercept")
  thresh <- .check_scalar(thresh, "thresh", 0, lower_open = TRUE)
  if (is.null(dfmax)) dfmax <- nvars + 1
  dfmax <- .check_scalar(dfmax, "dfmax", 0, integer = TRUE)
  if (is.null(pmax)) pmax <- min(dfmax * 2 + 20, nvars)
  pmax <- .check_scalar(pmax, "pmax", 0, integer = TRUE)
  if (!is.null(penalty.factor)) {
    if (!is.numeric(penalty.factor) || length(penalty.factor) != nvars || anyNA(penalty.factor))
      .stopf("penalty.factor must be a numeric vector of length ncol(x) = ", nvars)
    if (any(penalty.factor < 0)) .stopf("penalty.factor must be non-negative")
    penalty.factor <- as.array(as.double(penalty.factor))
  }
  lower.limits <- .check_per_var(lower.limits, "lower.limits", nvars)
  upper.limits <- .check_per_var(upper.limits, "upper.limits", nvars)
  if (any(lower.limits > 0)) .stopf("lower.limits must be non-positive")
  if (any(upper.limits < 0)) .stopf("upper.limits must be non-negative")
  maxit <- .check_scalar(maxit, "maxit", 1, integer = TRUE)
  trace.it <- .check_scalar(trace.it, "trace.it", 0, integer = TRUE)
  exclude <- .check_exclude(exclude, x, yy$y, weights, nvars)
  device <- .check_device(device)

  kwargs <- list(weights = weights, offset = offset, alpha = alpha, nlambda = nlambda,
                 lambda_min_ratio = lambda.min.ratio, lambda_ = lambda,
                 standardize = standardize, intercept = intercept, thresh = thresh,
                 dfmax = dfmax, pmax = pmax, exclude = exclude, penalty_factor = penalty.factor,
                 lower_limits = lower.limits, upper_limits = upper.limits, maxit = maxit,
                 device = device, trace_it = trace.it)
  kwargs <- c(kwargs, .engine_dots(dots))
  xnames <- colnames(x)
  if (is.null(xnames)) xnames <- paste0("V", seq_len(nvars))
  list(x = x, y = yy$y, family = family, classnames = yy$classnames, xnames = xnames,
       kwargs = kwargs)
}

# glmnet arguments that arrive through `...`.
.engine_dots <- function(dots) {
  out <- list()
  if (!length(dots)) return(out)
  nm <- names(dots)
  if (is.null(nm) || any(!nzchar(nm))) .stopf("...: extra arguments must be named")
  if (!is.null(dots$type.gaussian)) {
    tg <- dots$type.gaussian
    if (!is.character(tg) || length(tg) != 1L || !tg %in% c("covariance", "naive"))
      .stopf("type.gaussian must be \"covariance\" or \"naive\"")
    out$type_gaussian <- tg
  }
  if (!is.null(dots$dtype)) {
    if (!is.character(dots$dtype) || !dots$dtype %in% c("float32", "float64"))
      .stopf("dtype must be \"float32\" or \"float64\"")
    out$dtype <- dots$dtype
  }
  if (!is.null(dots$type.logistic) && !identical(dots$type.logistic[1L], "Newton"))
    .stopf("type.logistic: only \"Newton\" is supported by mlxs_glmnet")
  # (maxp and path: relax = TRUE's, read by mlxs_glmnet(); gamma: mlxs_cv_glmnet()'s; glmnet
  # ignores them as well where they have no use)
  ignored <- setdiff(nm, c("type.gaussian", "dtype", "type.logistic", "maxp", "path", "gamma"))
  if (length(ignored))
    warning("mlxs_glmnet: ignoring argument(s) ", paste(ignored, collapse = ", "), call. = FALSE)
  out
}

# The engine's two flat vectors (see mlxs_glmnet.rbridge._pack_fit) -> a glmnet object with the
# same fields, order and types as glmnet 4.1.
.as_glmnet <- function(r, family, xnames, classnames, call, nobs) {
  d <- as.double(r$d)        # (drops the 1-d array dim that numpy vectors arrive with)
  iv <- as.integer(r$i)
  nlam <- iv[1L]
  nnz <- iv[2L]
  if (nlam == 0L) return(.empty_glmnet(d, iv, family, xnames, classnames, call, nobs))
  if (!is.null(r$relaxed)) {
    # relax = TRUE: glmnet's relaxed object (relax.glmnet leaves $dim of the relaxed fit as the
    # path's, also where maxp left lambdas out; so does this)
    r0 <- r
    r0$relaxed <- NULL
    fit <- .as_glmnet(r0, family, xnames, classnames, call, nobs)
    rel <- .as_glmnet(r$relaxed, family, xnames, classnames, call, nobs)
    rel$dim <- fit$dim
    fit$relaxed <- rel
    class(fit) <- c("relaxed", class(fit))
    return(fit)
  }
  snames <- paste0("s", seq_len(nlam) - 1L)
  a0 <- d[seq_len(nlam)]
  names(a0) <- snames
  o <- 6L + nlam + 2L
  beta <- .dgc(iv[o + seq_len(nnz)], iv[o + nnz + seq_len(nlam + 1L)],
               d[3L * nlam + seq_len(nnz)], c(length(xnames), nlam), list(xnames, snames))
  out <- list(a0 = a0, beta = beta, df = iv[6L + seq_len(nlam)], dim = iv[6L + nlam + 1:2],
              lambda = d[nlam + seq_len(nlam)], dev.ratio = d[2L * nlam + seq_len(nlam)],
              nulldev = d[3L * nlam + nnz + 1L], npasses = iv[3L], jerr = iv[4L],
              offset = iv[5L] != 0L)
  if (family == "binomial") out$classnames <- classnames
  out$call <- call
  out$nobs <- as.integer(nobs)   # glmnet reports nrow(x), zero weights included
  class(out) <- c(switch(family, gaussian = "elnet", binomial = "lognet", poisson = "fishnet"),
                  "glmnet")
  out
}

# No solution at all (the first lambda did not converge within maxit): glmnet's "empty model",
# one all-zero column at lambda = Inf (the engine has already warned as glmnet does).
.empty_glmnet <- function(d, iv, family, xnames, classnames, call, nobs) {
  out <- list(a0 = c(s0 = 0), beta = .dgc(integer(0), c(0L, 0L), numeric(0),
                                          c(length(xnames), 1L), list(xnames, "s0")),
              df = 0L, dim = c(length(xnames), 1L), lambda = Inf, dev.ratio = 0,
              nulldev = d[length(d)], npasses = iv[3L], jerr = iv[4L], offset = iv[5L] != 0L)
  if (family == "binomial") out$classnames <- classnames
  out$call <- call
  out$nobs <- as.integer(nobs)
  class(out) <- c(switch(family, gaussian = "elnet", binomial = "lognet", poisson = "fishnet"),
                  "glmnet")
  out
}

# A dgCMatrix from its CSC arrays. The engine's arrays are valid by construction (the bridge
# builds them from the dense beta), so the slots are set without methods::new()'s validity
# check, which alone costs ~1 ms at p = 200 (the R layer's budget is a few ms per path).
.dgc <- function(i, p, x, dim, dimnames) {
  m <- .mlxs$dgc_proto
  if (is.null(m)) m <- .mlxs$dgc_proto <- methods::new("dgCMatrix")
  methods::slot(m, "i", check = FALSE) <- i
  methods::slot(m, "p", check = FALSE) <- p
  methods::slot(m, "x", check = FALSE) <- x
  methods::slot(m, "Dim", check = FALSE) <- as.integer(dim)
  methods::slot(m, "Dimnames", check = FALSE) <- dimnames
  m
}
