# The bad-input catalogue (bad_inputs.txt, shared with tests/python/test_bad_inputs.py), R side:
# every case through mlxs_glmnet() / mlxs_cv_glmnet() / predict(), and the same input through
# glmnet::glmnet() / cv.glmnet() to confirm the table's record of what glmnet 4.1-6 does. The
# caller's objects must be unchanged (serialized bytes) and the session must keep working.

.catalogue <- function() {
  lines <- readLines(test_path("bad_inputs.txt"), warn = FALSE)
  lines <- lines[nzchar(trimws(lines)) & !startsWith(lines, "#")]
  fields <- c("id", "entry", "family", "expect", "names", "glmnet", "python", "r", "decision")
  rows <- lapply(strsplit(lines, " | ", fixed = TRUE), function(p) {
    if (length(p) != length(fields)) stop("bad catalogue line: ", paste(p, collapse = " | "))
    stats::setNames(as.list(trimws(p)), fields)
  })
  rows
}

.base_data <- function(family) {
  set.seed(20261129)
  n <- 40; p <- 5
  x <- matrix(rnorm(n * p), n, p)
  y <- switch(family,
              gaussian = drop(x %*% c(1, -1, 0.5, 0, 0)) + rnorm(n),
              binomial = rep(0:1, length.out = n),
              poisson = rpois(n, 2))
  list(x = x, y = y, n = n, p = p, w = rep(1, n), z = rep(0, n),
       put = function(a, i, v) { a[i] <- v; a })
}

# Runs one case with either implementation; returns list(error = message or NULL, warnings).
.run_case <- function(case, impl = c("ours", "glmnet")) {
  impl <- match.arg(impl)
  env <- .base_data(case$family)
  over <- eval(parse(text = case$r), envir = env)
  args <- list(x = env$x, y = env$y, family = case$family)
  args[names(over)] <- over
  if (impl == "glmnet") args$device <- NULL
  before <- lapply(args, serialize, connection = NULL)
  base_before <- serialize(env[c("x", "y")], NULL)
  warns <- character(0)
  err <- NULL
  res <- withCallingHandlers(
    tryCatch({
      set.seed(1)
      switch(case$entry,
        fit = do.call(if (impl == "ours") mlxs_glmnet else glmnet::glmnet, args),
        cv = {
          if (is.null(args$nfolds) && is.null(args$foldid)) args$nfolds <- 5
          do.call(if (impl == "ours") mlxs_cv_glmnet else glmnet::cv.glmnet, args)
        },
        predict = {
          fit <- if (impl == "ours") mlxs_glmnet(env$x, env$y, family = case$family)
                 else glmnet::glmnet(env$x, env$y, family = case$family)
          pargs <- list(newx = env$x, s = 0.1)
          pargs[names(over)] <- over
          do.call(stats::predict, c(list(fit), pargs))
        })
    }, error = function(e) { err <<- conditionMessage(e); NULL }),
    warning = function(w) {
      warns <<- c(warns, conditionMessage(w))
      invokeRestart("muffleWarning")
    })
  after <- lapply(args[names(before)], serialize, connection = NULL)
  list(error = err, warnings = warns, result = res,
       unchanged = identical(before, after) && identical(base_before, serialize(env[c("x", "y")], NULL)))
}

test_that("every catalogue case gives the documented error/warning, naming the argument", {
  cases <- .catalogue()
  expect_gte(length(cases), 40L)
  for (case in cases) {
    r <- .run_case(case, "ours")
    lab <- paste0("[", case$id, "] ")
    expect_true(r$unchanged, label = paste0(lab, "caller's objects unchanged"))
    if (case$expect == "error") {
      expect_false(is.null(r$error), label = paste0(lab, "an error was raised"))
      if (!is.null(r$error)) {
        expect_true(grepl(case$names, r$error, perl = TRUE),
                    label = paste0(lab, "error '", r$error, "' matches ", case$names))
        expect_false(grepl("Traceback|py_call_impl", r$error), label = paste0(lab, "no traceback"))
      }
    } else {
      expect_null(r$error, label = paste0(lab, "no error (", paste(r$error), ")"))
      if (case$expect == "warning") {
        expect_true(any(grepl(case$names, r$warnings, perl = TRUE)),
                    label = paste0(lab, "a warning matching ", case$names, " (got: ",
                                   paste(r$warnings, collapse = " // "), ")"))
      } else {
        expect_identical(r$warnings, character(0), label = paste0(lab, "no warnings"))
      }
    }
  }
  # the session survives every case and fits as before
  d <- sim_data(n = 60, p = 6)
  expect_glmnet_parity(mlxs_glmnet(d$x, d$y, thresh = 1e-12), glmnet::glmnet(d$x, d$y, thresh = 1e-12))
})

test_that("the catalogue's glmnet column is what glmnet 4.1-6 does", {
  skip_if_not(utils::packageVersion("glmnet") == "4.1.6", "the table records glmnet 4.1-6")
  for (case in .catalogue()) {
    if (case$glmnet == "n/a") next
    r <- .run_case(case, "glmnet")
    got <- if (!is.null(r$error)) "error" else if (length(r$warnings)) "warning" else "ok"
    expect_identical(got, case$glmnet,
                     label = paste0("[", case$id, "] glmnet's outcome (", paste(r$error, r$warnings), ")"))
  }
})

test_that("R matrices handed to the engine (zero-copy, read-only) are unchanged by every entry point", {
  d <- sim_data(n = 80, p = 6)
  set.seed(3)
  w <- runif(80, 0.5, 2); off <- runif(80, -0.2, 0.2)
  objs <- list(x = d$x, y = d$y, w = w, off = off, yb = as.double(d$y > 0), pf = c(0, 1, 1, 2, 1, 1),
               lam = c(0.3, 0.1, 0.03), lo = rep(-1, 6), hi = rep(2, 6))
  before <- lapply(objs, serialize, connection = NULL)
  with(objs, {
    f <- mlxs_glmnet(x, y, weights = w, offset = off, penalty.factor = pf, lower.limits = lo,
                     upper.limits = hi)
    mlxs_glmnet(x, y, lambda = lam, type.gaussian = "covariance")
    mlxs_glmnet(x, y, lambda = lam, type.gaussian = "naive")
    mlxs_glmnet(x, yb, family = "binomial", weights = w)
    mlxs_glmnet(x, round(abs(y)), family = "poisson", offset = off)
    predict(f, newx = x, s = 0.05, newoffset = off)
    coef(f, s = c(0.1, 0.01))
    cv <- mlxs_cv_glmnet(x, y, weights = w, nfolds = 4, keep = TRUE)
    predict(cv, newx = x, s = "lambda.min")
    mlxs_cv_glmnet(x, yb, family = "binomial", nfolds = 4, type.measure = "auc")
  })
  after <- lapply(objs, serialize, connection = NULL)
  for (nm in names(objs)) expect_identical(after[[nm]], before[[nm]], label = nm)
})

test_that("a fit beyond the memory budget is an R error, and the session fits afterwards", {
  d <- sim_data(n = 300, p = 200)
  mlxs_engine_info()                                   # the engine (and Python) is loaded
  environ <- reticulate::import("os")$environ          # Python's copy of the environment
  reticulate::py_set_item(environ, "MLXS_GLMNET_MEMORY_BUDGET", "100K")
  on.exit(reticulate::py_del_item(environ, "MLXS_GLMNET_MEMORY_BUDGET"), add = TRUE)
  expect_error(mlxs_glmnet(d$x, d$y), "MemoryError: the fit needs about .* of working memory")
  expect_error(mlxs_cv_glmnet(d$x, d$y, nfolds = 3), "MemoryError")
  reticulate::py_del_item(environ, "MLXS_GLMNET_MEMORY_BUDGET")
  on.exit()
  expect_s3_class(mlxs_glmnet(d$x, d$y), "elnet")
})

test_that("maxit reached: glmnet's warning (lambda index), its jerr and the path so far", {
  d <- sim_data(n = 60, p = 8, seed = 3)
  body <- function(w) sub("^from (glmnet C\\+\\+ code|mlxs_glmnet engine) \\(error code -?[0-9]+\\); ", "", w)
  catch <- function(expr) {
    ws <- character(0)
    v <- withCallingHandlers(expr, warning = function(w) {
      ws <<- c(ws, conditionMessage(w)); invokeRestart("muffleWarning") })
    list(fit = v, warnings = ws)
  }
  for (args in list(list(maxit = 20, thresh = 1e-14), list(maxit = 200, thresh = 1e-14),
                    list(pmax = 2))) {
    o <- catch(do.call(mlxs_glmnet, c(list(d$x, d$y), args)))
    g <- catch(do.call(glmnet::glmnet, c(list(d$x, d$y), args)))
    expect_identical(o$fit$jerr, g$fit$jerr)
    expect_identical(length(o$fit$lambda), length(g$fit$lambda))
    expect_identical(body(o$warnings), body(g$warnings))
    expect_match(o$warnings, paste0("^from mlxs_glmnet engine \\(error code ", o$fit$jerr, "\\)"))
    k <- length(g$fit$lambda)
    expect_equal(o$fit$lambda[-1], g$fit$lambda[-1], tolerance = 1e-8)
    expect_lt(max(abs(as.matrix(o$fit$beta) - as.matrix(g$fit$beta))), 1e-4)
  }
  # nothing converged: glmnet's two warnings and its empty model (one zero column at Inf)
  o <- catch(mlxs_glmnet(d$x, d$y, maxit = 1, thresh = 1e-14, lambda = c(0.01, 0.005)))
  g <- catch(glmnet::glmnet(d$x, d$y, maxit = 1, thresh = 1e-14, lambda = c(0.01, 0.005)))
  expect_identical(body(o$warnings), body(g$warnings))
  expect_identical(o$fit$jerr, -1L)
  expect_identical(o$fit$lambda, Inf)
  expect_identical(dim(o$fit$beta), c(8L, 1L))
  expect_output(print(o$fit), "Inf")
  expect_s3_class(mlxs_glmnet(d$x, d$y), "elnet")        # and the next fit works
})
