# Finding Python, loading the engine lazily, and calling it.
#
# Nothing here runs at package load: Python is chosen and the engine imported on the first call
# of mlxs_glmnet()/mlxs_cv_glmnet() (so library(mlxsglmnet) and R CMD check work without Python).

.mlxs <- new.env(parent = emptyenv())

# Which Python to use, in order: option "mlxsglmnet.python", env var MLXSGLMNET_PYTHON, the path
# that `make install` wrote into the installed package (inst/python_path), else reticulate's own
# choice (RETICULATE_PYTHON, a virtualenv, PATH, ...).
.python_choice <- function() {
  opt <- getOption("mlxsglmnet.python")
  if (is.character(opt) && length(opt) == 1L && nzchar(opt))
    return(list(path = path.expand(opt), source = "option 'mlxsglmnet.python'"))
  env <- Sys.getenv("MLXSGLMNET_PYTHON", "")
  if (nzchar(env))
    return(list(path = path.expand(env), source = "environment variable MLXSGLMNET_PYTHON"))
  f <- system.file("python_path", package = "mlxsglmnet")
  if (nzchar(f)) {
    p <- trimws(readLines(f, n = 1L, warn = FALSE))
    if (length(p) == 1L && nzchar(p))
      return(list(path = p, source = paste0("file ", f, " (written by 'make install')")))
  }
  NULL
}

.strip_traceback <- function(msg) {
  msg <- sub("\n*Detailed traceback:.*$", "", msg)
  msg <- sub("^Error[^:]*: *", "", msg)
  trimws(msg)
}

# The bridge module (mlxs_glmnet.rbridge in the Python package), imported once per session.
.bridge <- function() {
  if (!is.null(.mlxs$bridge)) return(.mlxs$bridge)
  choice <- .python_choice()
  if (!is.null(choice)) {
    if (!file.exists(choice$path))
      stop("mlxsglmnet: the Python interpreter '", choice$path, "' (from ", choice$source,
           ") does not exist; run 'make install' again or set options(mlxsglmnet.python = ",
           "\"/path/to/python\")", call. = FALSE)
    if (!reticulate::py_available(initialize = FALSE)) {
      reticulate::use_python(choice$path, required = TRUE)
    }
  }
  bridge <- tryCatch(withCallingHandlers({
    b <- reticulate::import("mlxs_glmnet.rbridge", convert = FALSE)
    b$engine()
    b
  }, warning = function(w) {
    # reticulate 1.28 warns about Poetry whenever the working directory holds a pyproject.toml
    # (e.g. the mlxs_glmnet repository itself); the interpreter is chosen above, so ignore it.
    if (grepl("poetry", conditionMessage(w), ignore.case = TRUE))
      invokeRestart("muffleWarning")
  }), error = function(e) {
    used <- tryCatch(reticulate::py_config()$python, error = function(e2) "<none>")
    stop("mlxsglmnet: cannot load the Python engine 'mlxs_glmnet' (Python: ", used, "): ",
         .strip_traceback(conditionMessage(e)),
         "\nRun 'make install' in the mlxs_glmnet repository, or point the package at a Python ",
         "that has mlxs_glmnet installed with options(mlxsglmnet.python = \"/path/to/python\").",
         call. = FALSE)
  })
  .mlxs$bridge <- bridge
  bridge
}

#' Python engine configuration
#'
#' Loads the Python engine if needed and reports which interpreter and engine are in use.
#'
#' The interpreter is chosen, in order, from \code{options(mlxsglmnet.python = )}, the
#' environment variable \code{MLXSGLMNET_PYTHON}, the path recorded by \code{make install}
#' (the file \code{python_path} inside the installed package), and finally reticulate's own
#' discovery. The choice is made once per R session, on first use.
#'
#' @return A list with the Python executable, its version, the numpy version, the engine
#'   version and the engine's location.
#' @export
mlxs_engine_info <- function() {
  b <- .bridge()
  reticulate::py_to_r(b$info())
}

# R's glmnet.control() values that shape a path (fdev, devmax, eps, mnlam, pmin), for the engine
# to use in this call as glmnet would: control_<name> keyword arguments (rbridge). Values glmnet
# has at their factory settings are not sent. exmx and big, which the engine does not use, give a
# warning when changed; prec, mxit, epsnr and mxitnr belong to multinomial fits (unsupported).
.control_kwargs <- function(ctl) {
  factory <- list(fdev = 1e-05, devmax = 0.999, eps = 1e-06, mnlam = 5, pmin = 1e-09)
  out <- list()
  for (nm in names(factory))
    if (!isTRUE(all.equal(ctl[[nm]], factory[[nm]], tolerance = 0)))
      out[[paste0("control_", nm)]] <- ctl[[nm]]
  unused <- list(exmx = 250, big = 9.9e+35)
  changed <- names(unused)[!vapply(names(unused), function(nm)
    isTRUE(all.equal(ctl[[nm]], unused[[nm]])), TRUE)]
  if (length(changed))
    warning("mlxs_glmnet: glmnet.control(", paste(changed, collapse = ", "), ") changed; the ",
            "engine does not use it", call. = FALSE)
  out
}

# Call one bridge entry point. Engine errors come back as text and become R errors; Python
# warnings become R warnings; any other Python failure is caught and turned into an R error.
.engine_call <- function(entry, x, y, family, kwargs) {
  b <- .bridge()
  ctl <- glmnet::glmnet.control()
  kwargs <- c(kwargs, .control_kwargs(ctl))
  if (isTRUE(ctl$itrace > 0) && !isTRUE(kwargs$trace_it > 0))
    kwargs$trace_it <- 1L        # glmnet.control(itrace = 1) shows glmnet's progress bars too
  # Flatten the keyword arguments: scalars into one double vector, strings into one character
  # vector, arrays (zero-copy views) into a short list. reticulate 1.28 converts a named list
  # element by element (~50 us each, ~1 ms for glmnet's 18 arguments); this costs ~0.1 ms.
  kwargs <- kwargs[!vapply(kwargs, is.null, TRUE)]
  is_chr <- vapply(kwargs, is.character, TRUE)
  is_scal <- !is_chr & lengths(kwargs) == 1L & vapply(kwargs, function(v) is.null(dim(v)), TRUE)
  scal <- vapply(kwargs[is_scal], as.double, 0)
  strs <- unlist(kwargs[is_chr], use.names = TRUE)
  arrs <- kwargs[!is_chr & !is_scal]
  # the entry point's Python function, looked up once a session (reticulate's attribute lookup
  # cost ~0.2 ms of a 1.5 ms mtcars path)
  fn <- .mlxs$entries[[entry]]
  if (is.null(fn)) {
    if (is.null(.mlxs$entries)) .mlxs$entries <- list()
    fn <- .mlxs$entries[[entry]] <- b[[entry]]
  }
  res <- tryCatch(
    reticulate::py_to_r(fn(x, y, family, unname(scal), names(scal), unname(strs), names(strs),
                           arrs)),
    error = function(e)
      stop("mlxs_glmnet engine: ", .strip_traceback(conditionMessage(e)), call. = FALSE)
  )
  for (w in res$warnings) warning(w, call. = FALSE)
  if (!is.null(res$error)) stop(res$error, call. = FALSE)
  res$result
}

# Seconds spent inside the engine call by the last fit (for overhead measurements).
.last_engine_seconds <- function() {
  if (is.null(.mlxs$bridge)) return(NA_real_)
  reticulate::py_to_r(.mlxs$bridge$last_timing())$engine_s
}

# Address and flags of the numpy array that reticulate makes from an R object (tests use this to
# show that a double matrix reaches Python without a copy).
.handoff_info <- function(x) {
  reticulate::py_to_r(.bridge()$array_info(x))
}
