# A sparse x (Matrix's dgCMatrix) stays sparse: the engine reads its compressed columns. Its fits
# are glmnet's fits of the same sparse x.

sparse_data <- function(n, p, density, family, seed) {
  set.seed(seed)
  x <- Matrix::rsparsematrix(n, p, density = density)
  eta <- drop(as.matrix(x[, 1:5]) %*% c(1.5, -1.5, 1, 0.8, -0.6))
  y <- switch(family, gaussian = eta + rnorm(n), binomial = rbinom(n, 1, plogis(eta)),
              poisson = rpois(n, exp(0.3 * eta)))
  list(x = x, y = y)
}

test_that("a dgCMatrix x gives glmnet's sparse fit (three families, options, p > n)", {
  for (fam in c("gaussian", "binomial", "poisson")) {
    for (sz in list(c(300, 40), c(100, 250))) {
      d <- sparse_data(sz[1], sz[2], 0.1, fam, seed = 40 + sz[2])
      w <- runif(sz[1], 0.5, 1.5)
      for (args in list(list(), list(weights = w, alpha = 0.5, standardize = FALSE))) {
        a <- c(list(d$x, d$y, family = fam, thresh = 1e-12), args)
        ours <- do.call(mlxs_glmnet, a)
        ref <- do.call(glmnet, a)
        expect_glmnet_parity(ours, ref, tol = 1e-6)
      }
    }
  }
})

test_that("sparse x: cross-validation, relax, predict with a sparse newx, other Matrix classes", {
  d <- sparse_data(400, 30, 0.15, "binomial", seed = 50)
  foldid <- rep_len(1:5, 400)
  ours <- mlxs_cv_glmnet(d$x, d$y, family = "binomial", foldid = foldid, thresh = 1e-12)
  ref <- cv.glmnet(d$x, d$y, family = "binomial", foldid = foldid, thresh = 1e-12)
  expect_equal(ours$cvm, ref$cvm, tolerance = 1e-6)
  r <- mlxs_glmnet(d$x, d$y, family = "binomial", relax = TRUE, thresh = 1e-12)
  rr <- glmnet(d$x, d$y, family = "binomial", relax = TRUE, thresh = 1e-12)
  expect_equal(as.matrix(r$relaxed$beta), as.matrix(rr$relaxed$beta), tolerance = 1e-6)
  expect_equal(predict(ours, d$x[1:6, ], s = "lambda.min"),
               predict(ref, d$x[1:6, ], s = "lambda.min"), tolerance = 1e-6)
  dense <- mlxs_glmnet(as.matrix(d$x), d$y, family = "binomial", thresh = 1e-12)
  for (m in list(methods::as(d$x, "TsparseMatrix"), methods::as(d$x, "RsparseMatrix")))
    expect_equal(as.matrix(mlxs_glmnet(m, d$y, family = "binomial", thresh = 1e-12)$beta),
                 as.matrix(dense$beta), tolerance = 1e-10)
})

test_that("sparse x: bad input is named, and the GPU is refused", {
  d <- sparse_data(50, 6, 0.3, "gaussian", seed = 51)
  bad <- d$x
  bad@x[2] <- NA
  expect_error(mlxs_glmnet(bad, d$y), "x contains NaN or infinite values")
  expect_error(mlxs_glmnet(d$x, d$y, device = "gpu"), "device: a sparse x")
  expect_error(mlxs_glmnet(d$x, d$y[-1]), "y must have one value per row of x")
})
