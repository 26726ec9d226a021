# Input checks done in R before anything reaches Python. Every error names the argument.
# These are checks and conversions only: no fitting and no statistics are computed here.

.stopf <- function(...) stop(paste0(...), call. = FALSE)

.glmnet_families <- c("gaussian", "binomial", "poisson", "multinomial", "cox", "mgaussian")
.engine_families <- c(gaussian = "identity", binomial = "logit", poisson = "log")

# Returns "gaussian", "binomial" or "poisson".
.check_family <- function(family) {
  if (is.function(family)) {
    family <- tryCatch(family(), error = function(e)
      .stopf("family: could not evaluate the family function: ", conditionMessage(e)))
  }
  if (inherits(family, "family")) {
    fam <- family$family
    link <- family$link
    if (!fam %in% names(.engine_families))
      .stopf("family: ", fam, "(link = \"", link, "\") is not supported by mlxs_glmnet; ",
             "supported: gaussian(), binomial(), poisson() with their canonical links, or the ",
             "strings \"gaussian\", \"binomial\", \"poisson\"")
    if (!identical(link, .engine_families[[fam]]))
      .stopf("family: ", fam, "(link = \"", link, "\") is not supported by mlxs_glmnet; only ",
             "the canonical link (", fam, "(link = \"", .engine_families[[fam]], "\")) is")
    return(fam)
  }
  if (!is.character(family) || length(family) < 1L || anyNA(family))
    .stopf("family must be a character string (\"gaussian\", \"binomial\", \"poisson\") or a ",
           "family object such as binomial()")
  fam <- family[1L]
  full <- .glmnet_families[pmatch(fam, .glmnet_families)]
  if (is.na(full))
    .stopf("family: unknown family \"", fam, "\"; mlxs_glmnet supports \"gaussian\", ",
           "\"binomial\" and \"poisson\"")
  if (!full %in% names(.engine_families))
    .stopf("family: \"", full, "\" is not supported by the mlxs_glmnet engine yet ",
           "(supported: \"gaussian\", \"binomial\", \"poisson\"); use glmnet::glmnet() for it")
  full
}

# x as a double matrix, or a sparse one as a dgCMatrix. A double matrix is returned untouched
# (it then reaches numpy without a copy), so is a dgCMatrix (it reaches the engine as a
# scipy.sparse CSC matrix over its slots); integer/logical matrices, data frames and other Matrix
# classes are converted once.
.check_x <- function(x) {
  if (is.null(x)) .stopf("x must be a numeric matrix, not NULL")
  if (isS4(x) && methods::is(x, "sparseMatrix")) {
    if (!methods::is(x, "dgCMatrix"))
      x <- methods::as(methods::as(methods::as(x, "CsparseMatrix"), "generalMatrix"), "dMatrix")
    if (nrow(x) == 0L || ncol(x) == 0L)
      .stopf("x is empty (", nrow(x), " x ", ncol(x), "); it needs at least one row and one column")
    if (anyNA(x@x) || any(!is.finite(x@x))) .stopf("x contains NaN or infinite values")
    return(x)
  }
  if (is.data.frame(x)) {
    ok <- vapply(x, function(col) is.numeric(col) || is.logical(col), logical(1))
    if (!all(ok))
      .stopf("x: data frame columns must all be numeric; not numeric: ",
             paste(names(x)[!ok], collapse = ", "))
    x <- as.matrix(x)
    if (!is.double(x)) storage.mode(x) <- "double"
  } else if (isS4(x) && methods::is(x, "Matrix")) {
    x <- as.matrix(x)
  }
  if (!is.matrix(x)) .stopf("x must be a matrix (or a data frame of numeric columns)")
  if (!is.double(x)) {
    if (is.integer(x) || is.logical(x)) {
      storage.mode(x) <- "double"
    } else {
      .stopf("x must be a numeric matrix; got a ", typeof(x), " matrix")
    }
  }
  if (nrow(x) == 0L || ncol(x) == 0L)
    .stopf("x is empty (", nrow(x), " x ", ncol(x), "); it needs at least one row and one column")
  # NA/NaN/Inf in x: the engine scans x once (np.isfinite) and raises "x contains NaN or infinite
  # values", which arrives here as an R error naming x. A second O(n*p) scan in R (anyNA: ~1 ms
  # for 5000 x 200) would double that cost for nothing, so R does not repeat it.
  x
}

# y as an R 1-d array (so it reaches numpy without a copy) and, for binomial, the classnames.
.check_y <- function(y, family, nobs) {
  if (is.null(y)) .stopf("y must not be NULL")
  if (is.matrix(y) || is.data.frame(y)) {
    if (NCOL(y) != 1L)
      .stopf("y must be a vector (or a one-column matrix) for family \"", family, "\"; got ",
             NCOL(y), " columns")
    y <- if (is.data.frame(y)) y[[1L]] else drop(y)
  }
  if (length(y) != nobs)
    .stopf("y must have one value per row of x: length(y) = ", length(y), ", nrow(x) = ", nobs)
  if (anyNA(y)) .stopf("y contains missing values (NA)")
  classnames <- NULL
  if (family == "binomial") {
    yf <- if (is.factor(y)) y else as.factor(y)
    lev <- levels(yf)
    if (length(lev) != 2L)
      .stopf("y: family \"binomial\" needs a response with exactly two classes; got ",
             length(lev), " (", paste(utils::head(lev, 5L), collapse = ", "),
             if (length(lev) > 5L) ", ..." else "", ")")
    classnames <- lev
    y <- as.double(as.integer(yf) == 2L)
  } else {
    if (is.factor(y) || !(is.numeric(y) || is.logical(y)))
      .stopf("y must be numeric for family \"", family, "\"; got ", class(y)[1L])
    if (!is.double(y)) y <- as.double(y)
    if (family == "gaussian" && nobs > 1L && all(y == y[1L]))
      .stopf("y is constant; gaussian glmnet fails at standardization step")
    if (family == "poisson" && any(y < 0))
      .stopf("y: negative counts are not allowed for family \"poisson\"")
  }
  list(y = as.array(y), classnames = classnames)
}

.check_obs_vector <- function(v, name, nobs) {
  if (is.null(v)) return(NULL)
  if (is.matrix(v) && ncol(v) == 1L) v <- drop(v)
  if (!is.numeric(v) || !is.null(dim(v)) && length(dim(v)) > 1L)
    .stopf(name, " must be a numeric vector")
  if (length(v) != nobs)
    .stopf(name, " must have one value per row of x: length(", name, ") = ", length(v),
           ", nrow(x) = ", nobs)
  if (anyNA(v)) .stopf(name, " contains missing values (NA)")
  if (!is.double(v)) v <- as.double(v)
  as.array(v)
}

.check_scalar <- function(v, name, lower = -Inf, upper = Inf, integer = FALSE,
                          lower_open = FALSE) {
  if (!is.numeric(v) || length(v) != 1L || is.na(v))
    .stopf(name, " must be a single number")
  if (v < lower || (lower_open && v <= lower) || v > upper)
    .stopf(name, " must be ", if (lower_open) "> " else ">= ", lower,
           if (is.finite(upper)) paste0(" and <= ", upper) else "", "; got ", v)
  if (integer) {
    if (v != round(v)) .stopf(name, " must be a whole number; got ", v)
    return(as.integer(v))
  }
  as.double(v)
}

.check_flag <- function(v, name) {
  if (!is.logical(v) || length(v) != 1L || is.na(v)) .stopf(name, " must be TRUE or FALSE")
  v
}

.check_lambda <- function(lambda) {
  if (is.null(lambda)) return(NULL)
  if (!is.numeric(lambda) || length(lambda) == 0L)
    .stopf("lambda must be a non-empty numeric vector")
  if (anyNA(lambda)) .stopf("lambda contains missing values (NA)")
  if (any(lambda < 0)) .stopf("lambda must be non-negative")
  if (length(lambda) > 1L && is.unsorted(rev(lambda)))
    .stopf("lambda must be in decreasing order (e.g. lambda = sort(lambda, decreasing = TRUE))")
  as.array(as.double(lambda))
}

.check_per_var <- function(v, name, nvars) {
  if (!is.numeric(v) || anyNA(v)) .stopf(name, " must be numeric without missing values")
  if (length(v) != 1L && length(v) != nvars)
    .stopf(name, " must have length 1 or ncol(x) = ", nvars, "; got ", length(v))
  if (length(v) == 1L) as.double(v) else as.array(as.double(v))
}

.check_exclude <- function(exclude, x, y, weights, nvars) {
  if (is.null(exclude)) return(NULL)
  if (is.function(exclude)) exclude <- exclude(x = x, y = y, weights = weights)
  if (length(exclude) == 0L) return(NULL)
  if (!is.numeric(exclude) || anyNA(exclude) || any(exclude != round(exclude)) ||
      any(exclude < 1) || any(exclude > nvars))
    .stopf("exclude must hold column indices of x between 1 and ", nvars)
  ex <- sort(unique(as.integer(exclude)))
  if (length(ex) >= nvars) .stopf("exclude: cannot exclude all ", nvars, " variables")
  as.array(ex - 1L)   # the engine counts from 0
}

.check_device <- function(device) {
  if (is.null(device)) return(NULL)
  if (!is.character(device) || length(device) != 1L || !device %in% c("auto", "cpu", "gpu"))
    .stopf("device must be \"auto\", \"cpu\" or \"gpu\"")
  if (device == "auto") NULL else device
}
