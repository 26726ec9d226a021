# glmnet.control(): the settings that shape a path (fdev, devmax, mnlam, eps, pmin) act on
# mlxs_glmnet() as they act on glmnet() (the R layer passes them with each call).

test_that("glmnet.control() settings give glmnet's paths", {
  on.exit(glmnet.control(factory = TRUE), add = TRUE)
  g <- sim_data(n = 120, p = 10, family = "gaussian", seed = 31)
  b <- sim_data(n = 200, p = 8, family = "binomial", seed = 32)
  for (ctl in list(list(fdev = 0), list(devmax = 0.8), list(mnlam = 20, fdev = 1e-3),
                   list(eps = 1e-3), list(pmin = 1e-4))) {
    do.call(glmnet.control, ctl)
    for (cs in list(list(g$x, g$y, "gaussian"), list(b$x, b$y, "binomial"))) {
      ours <- mlxs_glmnet(cs[[1]], cs[[2]], family = cs[[3]], lambda.min.ratio = 0,
                          thresh = 1e-12)
      ref <- glmnet(cs[[1]], cs[[2]], family = cs[[3]], lambda.min.ratio = 0, thresh = 1e-12)
      expect_glmnet_parity(ours, ref, tol = 1e-8)
    }
    glmnet.control(factory = TRUE)
  }
  # the factory settings again: the default path
  expect_identical(length(mlxs_glmnet(g$x, g$y)$lambda), length(glmnet(g$x, g$y)$lambda))
  # fdev = 0: every lambda, in the CV fits too
  glmnet.control(fdev = 0)
  cv <- mlxs_cv_glmnet(g$x, g$y, foldid = rep_len(1:5, 120))
  expect_identical(length(cv$lambda), 100L)
})

test_that("glmnet.control() settings the engine does not use are named in a warning", {
  on.exit(glmnet.control(factory = TRUE), add = TRUE)
  d <- sim_data(n = 50, p = 5)
  glmnet.control(exmx = 100)
  expect_warning(mlxs_glmnet(d$x, d$y), "glmnet.control\\(exmx\\) changed")
})
