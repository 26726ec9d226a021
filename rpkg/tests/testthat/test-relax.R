# relax = TRUE: glmnet's relax.glmnet / cv.glmnet bookkeeping with every fit (the path, each
# fold's, each relaxed refit of an active set) made by the engine. Compared with glmnet's own
# relaxed fits at every lambda, and through glmnet's gamma-taking methods.

relax_cases <- function() {
  g <- sim_data(n = 150, p = 12, family = "gaussian", seed = 21)
  b <- sim_data(n = 200, p = 10, family = "binomial", seed = 22)
  p <- sim_data(n = 180, p = 8, family = "poisson", seed = 23)
  set.seed(24)
  w <- runif(180, 0.3, 2)
  off <- rnorm(180, sd = 0.1)
  list(
    gaussian = list(x = g$x, y = g$y, args = list(family = "gaussian")),
    gaussian_opts = list(x = g$x, y = g$y, args = list(family = "gaussian", alpha = 0.5,
                                                       penalty.factor = c(0, rep(1, 11)),
                                                       standardize = FALSE)),
    binomial = list(x = b$x, y = factor(b$y, labels = c("no", "yes")),
                    args = list(family = "binomial")),
    poisson = list(x = p$x, y = p$y, args = list(family = "poisson", weights = w,
                                                 offset = off, lower.limits = -0.2)))
}

test_that("relax = TRUE gives glmnet's relaxed fit at every lambda (three families, options)", {
  for (nm in names(relax_cases())) {
    cs <- relax_cases()[[nm]]
    args <- c(list(cs$x, cs$y, relax = TRUE, thresh = 1e-12), cs$args)
    ours <- do.call(mlxs_glmnet, args)
    ref <- do.call(glmnet, args)
    expect_identical(class(ours), class(ref), label = nm)
    expect_identical(names(ours), names(ref), label = nm)
    # the path itself and the relaxed refits of its active sets
    expect_equal(ours$lambda, ref$lambda, tolerance = 1e-10)
    expect_equal(as.matrix(ours$beta), as.matrix(ref$beta), tolerance = 1e-8)
    expect_glmnet_parity(ours$relaxed, ref$relaxed, tol = 1e-8)
    # glmnet's methods blend the two with gamma
    nx <- cs$x[1:7, ]
    no <- if (!is.null(cs$args$offset)) cs$args$offset[1:7] else NULL
    for (gam in c(0, 0.4, 1)) {
      s <- ref$lambda[c(3, 10)]
      expect_equal(predict(ours, nx, s = s, gamma = gam, newoffset = no),
                   predict(ref, nx, s = s, gamma = gam, newoffset = no), tolerance = 1e-8,
                   label = paste(nm, "predict gamma", gam))
      expect_equal(as.matrix(coef(ours, s = s, gamma = gam)),
                   as.matrix(coef(ref, s = s, gamma = gam)), tolerance = 1e-8)
    }
  }
})

test_that("relax = TRUE passes maxp and path to relax.glmnet, and keeps the call", {
  d <- sim_data(n = 100, p = 15, family = "gaussian", seed = 25)
  ours <- mlxs_glmnet(d$x, d$y, relax = TRUE, maxp = 4)
  ref <- glmnet(d$x, d$y, relax = TRUE, maxp = 4)
  expect_identical(length(ours$relaxed$lambda), length(ref$relaxed$lambda))
  expect_lt(length(ours$relaxed$lambda), length(ours$lambda))   # fits over 4 variables left out
  expect_equal(as.matrix(ours$relaxed$beta), as.matrix(ref$relaxed$beta), tolerance = 1e-6)
  ours_p <- mlxs_glmnet(d$x, d$y, relax = TRUE, path = TRUE, thresh = 1e-12)
  ref_p <- glmnet(d$x, d$y, relax = TRUE, path = TRUE, thresh = 1e-12)
  expect_equal(as.matrix(ours_p$relaxed$beta), as.matrix(ref_p$relaxed$beta), tolerance = 1e-6)
  expect_identical(ours$call[[1]], as.name("mlxs_glmnet"))
  expect_identical(ours$relaxed$call, ours$call)
  expect_output(print(ours), "Relaxed")
  f <- tempfile(fileext = ".png")
  grDevices::png(f, type = if (capabilities("cairo")) "cairo" else NULL)
  expect_silent(plot(ours, gamma = 0.5))
  grDevices::dev.off()
  expect_gt(file.size(f), 1000)
  unlink(f)
})

test_that("relax must be TRUE or FALSE", {
  d <- sim_data(n = 50, p = 5)
  expect_error(mlxs_glmnet(d$x, d$y, relax = "yes"), "relax must be TRUE or FALSE")
  expect_error(mlxs_glmnet(d$x, d$y, relax = NA), "relax must be TRUE or FALSE")
  expect_error(mlxs_cv_glmnet(d$x, d$y, relax = c(TRUE, FALSE)), "relax must be TRUE or FALSE")
})

test_that("cv with relax = TRUE matches cv.glmnet's cv.relaxed object", {
  for (nm in c("gaussian", "binomial", "poisson")) {
    cs <- relax_cases()[[nm]]
    n <- nrow(cs$x)
    foldid <- rep_len(1:5, n)
    args <- c(list(cs$x, cs$y, relax = TRUE, foldid = foldid, gamma = c(0, 0.5)), cs$args)
    ours <- do.call(mlxs_cv_glmnet, args)
    ref <- do.call(cv.glmnet, args)
    expect_identical(class(ours), class(ref))
    expect_identical(names(ours), names(ref))
    expect_equal(ours$cvm, ref$cvm, tolerance = 1e-6, label = nm)
    expect_equal(ours$lambda.min, ref$lambda.min)
    expect_identical(names(ours$relaxed), names(ref$relaxed))
    for (g in names(ref$relaxed$statlist))
      expect_equal(ours$relaxed$statlist[[g]]$cvm, ref$relaxed$statlist[[g]]$cvm,
                   tolerance = 1e-6, label = paste(nm, g))
    expect_identical(ours$relaxed$gamma.min, ref$relaxed$gamma.min)
    expect_identical(ours$relaxed$index, ref$relaxed$index)
    expect_equal(as.matrix(coef(ours, s = "lambda.1se", gamma = "gamma.1se")),
                 as.matrix(coef(ref, s = "lambda.1se", gamma = "gamma.1se")), tolerance = 1e-6)
  }
  d <- sim_data(n = 120, p = 8, family = "gaussian", seed = 26)   # folds drawn as cv.glmnet draws them
  set.seed(5)
  ours <- mlxs_cv_glmnet(d$x, d$y, relax = TRUE, nfolds = 4)
  set.seed(5)
  ref <- cv.glmnet(d$x, d$y, relax = TRUE, nfolds = 4)
  expect_equal(ours$cvm, ref$cvm, tolerance = 1e-6)
  expect_identical(ours$call[[1]], as.name("mlxs_cv_glmnet"))
  expect_identical(ours$glmnet.fit$call[[1]], as.name("mlxs_glmnet"))
  expect_identical(ours$glmnet.fit$relaxed$call, ours$glmnet.fit$call)
  # keep = TRUE: every gamma's held-out predictions, as cv.glmnet keeps them
  ok <- mlxs_cv_glmnet(d$x, d$y, relax = TRUE, foldid = rep_len(1:4, 120), keep = TRUE,
                       gamma = c(0, 0.5))
  rk <- cv.glmnet(d$x, d$y, relax = TRUE, foldid = rep_len(1:4, 120), keep = TRUE,
                  gamma = c(0, 0.5))
  expect_identical(names(ok), names(rk))
  expect_identical(names(ok$fit.preval), names(rk$fit.preval))
  for (g in names(rk$fit.preval))
    expect_equal(ok$fit.preval[[g]], rk$fit.preval[[g]], tolerance = 1e-6)
  expect_identical(ok$foldid, rk$foldid)
  expect_warning(mlxs_cv_glmnet(d$x, d$y, relax = TRUE, gamma = c(0.5, 2), nfolds = 3),
                 "gamma values outside")
})
