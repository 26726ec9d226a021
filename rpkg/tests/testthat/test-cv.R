test_that("cv object matches cv.glmnet with the same folds (gaussian)", {
  d <- sim_data(n = 200, p = 20, family = "gaussian")
  set.seed(11)
  foldid <- sample(rep(1:10, length = 200))
  ours <- mlxs_cv_glmnet(d$x, d$y, foldid = foldid, thresh = 1e-10)
  ref <- cv.glmnet(d$x, d$y, foldid = foldid, thresh = 1e-10)
  expect_s3_class(ours, "cv.glmnet")
  expect_identical(names(ours), names(ref))
  expect_identical(ours$name, ref$name)
  expect_equal(ours$lambda, ref$lambda, tolerance = 1e-10)
  expect_equal(ours$cvm, ref$cvm, tolerance = 1e-4)
  expect_equal(ours$cvsd, ref$cvsd, tolerance = 1e-3)
  expect_identical(ours$nzero, ref$nzero)
  expect_identical(dimnames(ours$index), dimnames(ref$index))
  expect_identical(ours$index, ref$index)
  expect_equal(ours$lambda.min, ref$lambda.min)
  expect_equal(ours$lambda.1se, ref$lambda.1se)
  expect_glmnet_parity(ours$glmnet.fit, ref$glmnet.fit)
  expect_equal(as.matrix(coef(ours, s = "lambda.min")), as.matrix(coef(ref, s = "lambda.min")),
               tolerance = 1e-5)
  expect_equal(predict(ours, d$x[1:5, ], s = "lambda.1se"),
               predict(ref, d$x[1:5, ], s = "lambda.1se"), tolerance = 1e-5)
  f <- tempfile(fileext = ".png")
  grDevices::png(f, type = if (capabilities("cairo")) "cairo" else NULL)
  expect_silent(plot(ours))
  expect_silent(plot(ours, sign.lambda = -1))
  grDevices::dev.off(); unlink(f)
  expect_output(print(ours), "Lambda")
})

test_that("cv binomial (deviance, class, auc) and poisson match cv.glmnet", {
  d <- sim_data(n = 300, p = 10, family = "binomial", seed = 4)
  set.seed(5)
  foldid <- sample(rep(1:5, length = 300))
  for (tm in c("deviance", "class", "auc", "mse", "mae")) {
    ours <- mlxs_cv_glmnet(d$x, d$y, family = "binomial", foldid = foldid, type.measure = tm,
                           thresh = 1e-12)
    ref <- cv.glmnet(d$x, d$y, family = "binomial", foldid = foldid, type.measure = tm,
                     thresh = 1e-12)
    expect_identical(ours$name, ref$name)
    expect_equal(ours$cvm, ref$cvm, tolerance = 1e-4, label = paste("cvm", tm))
    expect_identical(class(ours$glmnet.fit), class(ref$glmnet.fit))
  }
  expect_identical(predict(ours, d$x[1:5, ], s = "lambda.min", type = "class"),
                   predict(ref, d$x[1:5, ], s = "lambda.min", type = "class"))
  dp <- sim_data(n = 200, p = 10, family = "poisson", seed = 6)
  fp <- sample(rep(1:4, length = 200))
  ours <- mlxs_cv_glmnet(dp$x, dp$y, family = poisson(), foldid = fp, thresh = 1e-12)
  ref <- cv.glmnet(dp$x, dp$y, family = "poisson", foldid = fp, thresh = 1e-12)
  expect_identical(ours$name, ref$name)
  expect_equal(ours$cvm, ref$cvm, tolerance = 1e-4)
})

test_that("keep = TRUE returns fit.preval and foldid; default folds follow R's RNG", {
  d <- sim_data(n = 120, p = 8)
  set.seed(42)
  ours <- mlxs_cv_glmnet(d$x, d$y, keep = TRUE, nfolds = 5, thresh = 1e-10)
  set.seed(42)
  ref <- cv.glmnet(d$x, d$y, keep = TRUE, nfolds = 5, thresh = 1e-10)
  expect_identical(names(ours), names(ref))
  expect_identical(ours$foldid, ref$foldid)
  expect_identical(dim(ours$fit.preval), dim(ref$fit.preval))
  expect_identical(dimnames(ours$fit.preval), dimnames(ref$fit.preval))
  expect_equal(ours$fit.preval, ref$fit.preval, tolerance = 1e-4)
})

test_that("cv argument errors name the argument", {
  d <- sim_data(n = 50, p = 5)
  expect_error(mlxs_cv_glmnet(d$x, d$y, nfolds = 2), "nfolds")
  expect_error(mlxs_cv_glmnet(d$x, d$y, foldid = rep(1:2, 25)), "foldid")
  expect_error(mlxs_cv_glmnet(d$x, d$y, foldid = 1:3), "foldid")
  expect_error(mlxs_cv_glmnet(d$x, d$y, type.measure = "C"), "type.measure")
  expect_error(mlxs_cv_glmnet(d$x, d$y, lambda = 0.1), "lambda")
})

test_that("grouped = FALSE and alignment = \"fraction\" match cv.glmnet", {
  d <- sim_data(n = 150, p = 12, family = "binomial", seed = 8)
  set.seed(9)
  foldid <- sample(rep(1:5, length = 150))
  for (args in list(list(grouped = FALSE), list(alignment = "fraction"),
                    list(grouped = FALSE, alignment = "fraction"))) {
    ours <- do.call(mlxs_cv_glmnet, c(list(d$x, d$y, family = "binomial", foldid = foldid,
                                           thresh = 1e-12), args))
    ref <- do.call(cv.glmnet, c(list(d$x, d$y, family = "binomial", foldid = foldid,
                                     thresh = 1e-12), args))
    expect_identical(names(ours), names(ref))
    expect_equal(ours$cvm, ref$cvm, tolerance = 1e-5)
    expect_equal(ours$cvsd, ref$cvsd, tolerance = 1e-4)
    expect_equal(ours$cvup, ref$cvup, tolerance = 1e-5)
    expect_equal(ours$lambda.min, ref$lambda.min)
    expect_equal(ours$lambda.1se, ref$lambda.1se)
  }
  expect_error(mlxs_cv_glmnet(d$x, d$y, family = "binomial", grouped = NA), "grouped")
  expect_error(mlxs_cv_glmnet(d$x, d$y, family = "binomial", alignment = "middle"), "alignment")
})
