suppressPackageStartupMessages(library(glmnet))

sim_data <- function(n = 200, p = 20, family = "gaussian", seed = 1) {
  set.seed(seed)
  x <- matrix(rnorm(n * p), n, p)
  eta <- drop(x[, 1:5] %*% c(1, -0.8, 0.6, 0.4, -0.3))
  y <- switch(family,
              gaussian = eta + rnorm(n),
              binomial = rbinom(n, 1, plogis(eta)),
              poisson = rpois(n, exp(0.5 * eta)))
  list(x = x, y = y)
}

# glmnet's fields in glmnet's order, with the same types and names.
expect_same_structure <- function(ours, ref) {
  expect_identical(class(ours), class(ref))
  expect_identical(names(ours), names(ref))
  for (nm in setdiff(names(ref), "call")) {
    expect_identical(typeof(ours[[nm]]), typeof(ref[[nm]]), label = paste("typeof", nm))
    expect_identical(class(ours[[nm]]), class(ref[[nm]]), label = paste("class", nm))
  }
  expect_identical(names(ours$a0), names(ref$a0))
  expect_identical(dimnames(ours$beta), dimnames(ref$beta))
  expect_true(methods::validObject(ours$beta))
}

# Field-by-field parity (coefficients to a relative tolerance on the path's scale).
expect_glmnet_parity <- function(ours, ref, tol = 1e-5) {
  expect_same_structure(ours, ref)
  expect_identical(length(ours$lambda), length(ref$lambda))
  expect_equal(ours$lambda, ref$lambda, tolerance = 1e-10)
  expect_identical(ours$dim, ref$dim)
  expect_identical(ours$nobs, ref$nobs)
  expect_identical(ours$offset, ref$offset)
  expect_identical(ours$jerr, ref$jerr)
  expect_identical(ours$classnames, ref$classnames)
  expect_equal(ours$nulldev, ref$nulldev, tolerance = 1e-10)
  expect_equal(ours$dev.ratio, ref$dev.ratio, tolerance = tol)
  scale <- max(abs(as.matrix(ref$beta)), 1)
  expect_lt(max(abs(as.matrix(ours$beta) - as.matrix(ref$beta))) / scale, tol)
  expect_lt(max(abs(ours$a0 - ref$a0)) / max(abs(ref$a0), 1), tol)
  # active sets agree except where a coefficient is at the level of the tolerance
  big <- abs(as.matrix(ref$beta)) > 1e3 * tol * scale
  expect_true(all((as.matrix(ours$beta) != 0)[big]))
  expect_lte(max(abs(ours$df - ref$df)), 1)
}
