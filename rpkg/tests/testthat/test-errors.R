test_that("bad input gives R errors that name the argument", {
  d <- sim_data(n = 40, p = 5)
  x <- d$x; y <- d$y
  xna <- x; xna[3, 2] <- NA
  expect_error(mlxs_glmnet(xna, y), "^x contains NaN or infinite values")
  expect_error(mlxs_glmnet(as.data.frame(xna), y), "^x contains NaN or infinite values")
  yna <- y; yna[7] <- NA
  expect_error(mlxs_glmnet(x, yna), "^y contains missing values")
  expect_error(mlxs_glmnet(x, y[-1]), "^y must have one value per row of x")
  expect_error(mlxs_glmnet(matrix(letters[1:20], 4), 1:4), "^x must be a numeric matrix")
  expect_error(mlxs_glmnet(x, rep(c("a", "b", "c"), length.out = 40), family = "binomial"),
               "^y: family \"binomial\" needs a response with exactly two classes; got 3")
  expect_error(mlxs_glmnet(x, y, weights = c(-1, rep(1, 39))), "^weights must be non-negative")
  expect_error(mlxs_glmnet(x, y, weights = rep(1, 39)), "^weights must have one value per row")
  expect_error(mlxs_glmnet(x, y, offset = rep(0, 3)), "^offset must have one value per row")
  expect_warning(mlxs_glmnet(x, y, alpha = 2), "^alpha >1; set to 1")   # as glmnet
  expect_warning(mlxs_glmnet(x, y, alpha = -0.1), "^alpha<0; set to 0")
  expect_error(mlxs_glmnet(x, y, lambda = c(0.1, 0.5, 0.2)), "^lambda must be in decreasing order")
  expect_error(mlxs_glmnet(x, y, lambda = c(0.5, -0.1)), "^lambda must be non-negative")
  expect_error(mlxs_glmnet(matrix(numeric(0), 0, 5), numeric(0)), "^x is empty")
  expect_error(mlxs_glmnet(matrix(numeric(0), 10, 0), rnorm(10)), "^x is empty")
  expect_error(mlxs_glmnet(x, y, nlambda = 0), "^nlambda must be")
  expect_error(mlxs_glmnet(x, y, thresh = 0), "^thresh must be")
  expect_error(mlxs_glmnet(x, y, penalty.factor = c(1, 1)), "^penalty.factor must be")
  expect_error(mlxs_glmnet(x, y, exclude = 9), "^exclude must hold column indices")
  expect_error(mlxs_glmnet(x, y, exclude = 1:5), "^exclude: cannot exclude all")
  expect_error(mlxs_glmnet(x, y, lower.limits = 1), "^lower.limits must be non-positive")
  expect_error(mlxs_glmnet(x, y, upper.limits = c(1, 2)), "^upper.limits must have length 1")
  expect_error(mlxs_glmnet(x, y, standardize = NA), "^standardize must be TRUE or FALSE")
  expect_error(mlxs_glmnet(x, y, device = "tpu"), "^device must be")
  expect_error(mlxs_glmnet(x, -abs(y), family = "poisson"), "^y: negative counts")
  expect_error(mlxs_glmnet(x, factor(y > 0), family = "gaussian"), "^y must be numeric")
  expect_error(mlxs_glmnet(x, y, lambda.min.ratio = 2), "^lambda.min.ratio must be")
  expect_error(mlxs_glmnet(data.frame(a = letters[1:40], b = 1:40), y), "^x: data frame columns")
})

test_that("unsupported families and links give clear errors naming them", {
  d <- sim_data(n = 40, p = 5)
  expect_error(mlxs_glmnet(d$x, d$y, family = "multinomial"), "\"multinomial\" is not supported")
  expect_error(mlxs_glmnet(d$x, d$y, family = "cox"), "\"cox\" is not supported")
  expect_error(mlxs_glmnet(d$x, d$y, family = "mgaussian"), "\"mgaussian\" is not supported")
  expect_error(mlxs_glmnet(d$x, d$y, family = "banana"), "^family: unknown family \"banana\"")
  expect_error(mlxs_glmnet(d$x, abs(d$y), family = Gamma()), "family: Gamma\\(link = \"inverse\"\\)")
  expect_error(mlxs_glmnet(d$x, d$y > 0, family = binomial(link = "probit")),
               "binomial\\(link = \"probit\"\\) is not supported.*canonical")
  expect_error(mlxs_glmnet(d$x, d$y, family = gaussian(link = "log")), "canonical")
})

test_that("engine errors surface as R errors with the engine's message, and R survives", {
  d <- sim_data(n = 40, p = 5)
  xinf <- d$x; xinf[1, 1] <- Inf
  err <- tryCatch(mlxs_glmnet(xinf, d$y), error = function(e) conditionMessage(e))
  expect_match(err, "x contains NaN or infinite values")
  expect_false(grepl("Traceback|Detailed traceback|py_call_impl", err))
  expect_error(mlxs_glmnet(d$x, y = rep(1, 40)), "^y is constant")
  expect_error(mlxs_glmnet(d$x, d$y, lower.limits = rep(-1, 5), upper.limits = c(1, 1, 1, 1, NaN)),
               "upper.limits")
  # the session keeps working afterwards
  expect_s3_class(mlxs_glmnet(d$x, d$y), "elnet")
})
