with_null_png <- function(code) {
  f <- tempfile(fileext = ".png")
  grDevices::png(f, type = if (capabilities("cairo")) "cairo" else NULL)
  on.exit({ grDevices::dev.off(); unlink(f) })
  force(code)
}

test_that("glmnet's methods work on a gaussian fit and agree with glmnet", {
  d <- sim_data(family = "gaussian")
  ours <- mlxs_glmnet(d$x, d$y, thresh = 1e-10)
  ref <- glmnet(d$x, d$y, thresh = 1e-10)
  out <- capture.output(print(ours))
  expect_true(any(grepl("Df", out)) && any(grepl("%Dev", out)))
  expect_identical(length(out), length(capture.output(print(ref))))
  s <- c(0.5, 0.1, 0.013)
  cf <- coef(ours, s = s)
  expect_s4_class(cf, "dgCMatrix")
  expect_equal(as.matrix(cf), as.matrix(coef(ref, s = s)), tolerance = 1e-5)
  newx <- d$x[1:10, ]
  expect_equal(predict(ours, newx, s = s), predict(ref, newx, s = s), tolerance = 1e-5)
  expect_equal(predict(ours, newx, s = 0.1, type = "response"),
               predict(ref, newx, s = 0.1, type = "response"), tolerance = 1e-5)
  expect_equal(as.matrix(predict(ours, s = 0.1, type = "coefficients")),
               as.matrix(predict(ref, s = 0.1, type = "coefficients")), tolerance = 1e-5)
  expect_identical(predict(ours, s = c(0.5, 0.1), type = "nonzero"),
                   predict(ref, s = c(0.5, 0.1), type = "nonzero"))
  expect_equal(deviance(ours), deviance(ref), tolerance = 1e-5)
  with_null_png({
    expect_silent(plot(ours, xvar = "lambda"))
    expect_silent(plot(ours, xvar = "norm", label = TRUE))
    expect_silent(plot(ours, xvar = "dev"))
  })
})

test_that("glmnet's methods work on binomial and poisson fits", {
  d <- sim_data(family = "binomial")
  ours <- mlxs_glmnet(d$x, d$y, family = "binomial", thresh = 1e-13)
  ref <- glmnet(d$x, d$y, family = "binomial", thresh = 1e-13)
  newx <- d$x[1:15, ]
  expect_equal(predict(ours, newx, s = 0.02, type = "link"),
               predict(ref, newx, s = 0.02, type = "link"), tolerance = 1e-5)
  expect_equal(predict(ours, newx, s = 0.02, type = "response"),
               predict(ref, newx, s = 0.02, type = "response"), tolerance = 1e-5)
  expect_identical(predict(ours, newx, s = 0.02, type = "class"),
                   predict(ref, newx, s = 0.02, type = "class"))
  expect_equal(deviance(ours), deviance(ref), tolerance = 1e-5)
  expect_output(print(ours), "Df")
  with_null_png(expect_silent(plot(ours)))

  dp <- sim_data(family = "poisson")
  ours <- mlxs_glmnet(dp$x, dp$y, family = "poisson", thresh = 1e-12)
  ref <- glmnet(dp$x, dp$y, family = "poisson", thresh = 1e-12)
  expect_equal(predict(ours, dp$x[1:5, ], s = 0.05, type = "response"),
               predict(ref, dp$x[1:5, ], s = 0.05, type = "response"), tolerance = 1e-5)
  expect_equal(as.matrix(coef(ours, s = 0.05)), as.matrix(coef(ref, s = 0.05)), tolerance = 1e-5)
  expect_equal(deviance(ours), deviance(ref), tolerance = 1e-5)
})

test_that("coef(exact = TRUE) refits through the stored call", {
  d <- sim_data(n = 100, p = 8)
  x <- d$x; y <- d$y
  ours <- mlxs_glmnet(x, y, thresh = 1e-10)
  ref <- glmnet(x, y, thresh = 1e-10)
  expect_equal(as.matrix(coef(ours, s = 0.0123, exact = TRUE, x = x, y = y)),
               as.matrix(coef(ref, s = 0.0123, exact = TRUE, x = x, y = y)), tolerance = 1e-5)
})

test_that("trace.it shows progress without changing the fit", {
  d <- sim_data(n = 100, p = 8)
  a <- mlxs_glmnet(d$x, d$y, trace.it = 1)
  b <- mlxs_glmnet(d$x, d$y)
  expect_equal(a$beta, b$beta)
})
