test_that("gaussian path matches glmnet field by field", {
  d <- sim_data(family = "gaussian")
  ours <- mlxs_glmnet(d$x, d$y, thresh = 1e-10)
  ref <- glmnet(d$x, d$y, thresh = 1e-10)
  expect_glmnet_parity(ours, ref)
  expect_identical(class(ours), c("elnet", "glmnet"))
  expect_identical(deparse(ours$call), "mlxs_glmnet(x = d$x, y = d$y, thresh = 1e-10)")
})

test_that("gaussian options (alpha, weights, offset, penalty.factor, exclude, limits, no intercept) match glmnet", {
  d <- sim_data(n = 150, p = 12, family = "gaussian", seed = 2)
  set.seed(3)
  w <- runif(150, 0.5, 2)
  off <- rnorm(150, sd = 0.1)
  pf <- c(0, rep(1, 10), 2)
  args <- list(list(alpha = 0.3), list(weights = w), list(offset = off),
               list(penalty.factor = pf), list(exclude = c(2, 7)),
               list(lower.limits = -0.5, upper.limits = 0.7), list(intercept = FALSE),
               list(standardize = FALSE), list(nlambda = 30, lambda.min.ratio = 0.05),
               list(lambda = c(0.5, 0.2, 0.1, 0.05, 0.01)))
  for (a in args) {
    ours <- do.call(mlxs_glmnet, c(list(x = d$x, y = d$y, thresh = 1e-10), a))
    ref <- do.call(glmnet, c(list(x = d$x, y = d$y, thresh = 1e-10), a))
    expect_glmnet_parity(ours, ref)
  }
})

test_that("binomial path matches glmnet, with factor classnames", {
  d <- sim_data(family = "binomial")
  yf <- factor(ifelse(d$y == 1, "yes", "no"), levels = c("yes", "no"))
  ours <- mlxs_glmnet(d$x, yf, family = "binomial", thresh = 1e-13)
  ref <- glmnet(d$x, yf, family = "binomial", thresh = 1e-13)
  expect_glmnet_parity(ours, ref)
  expect_identical(ours$classnames, c("yes", "no"))
  expect_identical(class(ours), c("lognet", "glmnet"))
  # family object with the canonical link; 0/1 numeric response
  ours2 <- mlxs_glmnet(d$x, d$y, family = binomial(), thresh = 1e-13)
  ref2 <- glmnet(d$x, d$y, family = "binomial", thresh = 1e-13)
  expect_glmnet_parity(ours2, ref2)
})

test_that("poisson path matches glmnet (with offset)", {
  d <- sim_data(family = "poisson")
  ours <- mlxs_glmnet(d$x, d$y, family = "poisson", thresh = 1e-12)
  ref <- glmnet(d$x, d$y, family = "poisson", thresh = 1e-12)
  expect_glmnet_parity(ours, ref)
  expect_identical(class(ours), c("fishnet", "glmnet"))
  off <- log(seq(1, 2, length.out = nrow(d$x)))
  ours <- mlxs_glmnet(d$x, d$y, family = poisson(), offset = off, thresh = 1e-12)
  ref <- glmnet(d$x, d$y, family = "poisson", offset = off, thresh = 1e-12)
  expect_glmnet_parity(ours, ref)
})

test_that("glmnet's example data sets give the same paths", {
  data(QuickStartExample, package = "glmnet", envir = environment())
  expect_glmnet_parity(mlxs_glmnet(QuickStartExample$x, QuickStartExample$y, thresh = 1e-10),
                       glmnet(QuickStartExample$x, QuickStartExample$y, thresh = 1e-10))
  data(BinomialExample, package = "glmnet", envir = environment())
  expect_glmnet_parity(
    mlxs_glmnet(BinomialExample$x, BinomialExample$y, family = "binomial", thresh = 1e-14),
    glmnet(BinomialExample$x, BinomialExample$y, family = "binomial", thresh = 1e-14))
})

test_that("column names, data frames and integer matrices are handled", {
  d <- sim_data(n = 80, p = 6)
  colnames(d$x) <- letters[1:6]
  ours <- mlxs_glmnet(d$x, d$y)
  expect_identical(rownames(ours$beta), letters[1:6])
  fit_df <- mlxs_glmnet(as.data.frame(d$x), d$y)
  expect_equal(fit_df$beta, ours$beta)
  xi <- matrix(sample(0:5, 80 * 6, TRUE), 80)
  expect_equal(mlxs_glmnet(xi, d$y)$beta, mlxs_glmnet(xi * 1.0, d$y)$beta)
})
