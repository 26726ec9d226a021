test_that("a double matrix reaches numpy without a copy", {
  set.seed(1)
  x <- matrix(rnorm(2000 * 50), 2000)
  a <- mlxsglmnet:::.handoff_info(x)
  b <- mlxsglmnet:::.handoff_info(x)
  expect_identical(a$dtype, "float64")
  expect_equal(as.integer(unlist(a$shape)), c(2000L, 50L))
  expect_true(a$f_contiguous)
  expect_false(a$owndata)      # a view of memory numpy does not own: R's
  expect_false(a$writeable)
  expect_identical(a$address, b$address)   # two handoffs, one buffer: R's own memory
  # the argument checks in mlxs_glmnet() leave a double matrix untouched (no R-side copy)
  chk <- mlxsglmnet:::.check_x(x)
  expect_identical(mlxsglmnet:::.handoff_info(chk)$address, a$address)
  # an integer matrix is converted once, to double
  xi <- matrix(1:20, 5)
  expect_identical(mlxsglmnet:::.handoff_info(mlxsglmnet:::.check_x(xi))$dtype, "float64")
})

test_that("handing over a large matrix costs no more than a tiny one (no copy)", {
  big <- matrix(0.5, 4000, 2500)              # 80 MB
  small <- matrix(0.5, 10, 10)
  t_big <- system.time(for (i in 1:20) mlxsglmnet:::.handoff_info(big))[["elapsed"]]
  t_small <- system.time(for (i in 1:20) mlxsglmnet:::.handoff_info(small))[["elapsed"]]
  # a copy of 80 MB takes >= 10 ms, i.e. >= 0.2 s for 20 handoffs
  expect_lt(t_big, t_small + 0.1)
})

test_that("the R layer adds little time to a 5000 x 200 path", {
  set.seed(1)
  x <- matrix(rnorm(5000 * 200), 5000)
  y <- drop(x[, 1:10] %*% rnorm(10)) + rnorm(5000)
  mlxs_glmnet(x, y)
  over <- vapply(1:10, function(i) {
    t0 <- proc.time()[["elapsed"]]
    mlxs_glmnet(x, y)
    1000 * (proc.time()[["elapsed"]] - t0 - mlxsglmnet:::.last_engine_seconds())
  }, 0)
  expect_lt(stats::median(over), 5)
})
