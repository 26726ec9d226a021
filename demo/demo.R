# make demo: fit regularisation paths from R with mlxs_glmnet() on data sets that ship with R,
# next to glmnet() on the same inputs, with timings, a coefficient comparison and a plot.
suppressPackageStartupMessages({
  library(mlxsglmnet)
  library(glmnet)
})

args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", grep("^--file=", args, value = TRUE)[1])))
png_file <- file.path(here, "demo_paths.png")

# Median wall time (ms) of `reps` evaluations; the first (warm-up) call is not timed.
time_ms <- function(expr, reps = 20) {
  e <- substitute(expr); env <- parent.frame()
  eval(e, env)
  t <- system.time(for (i in seq_len(reps)) eval(e, env))[["elapsed"]]
  1000 * t / reps
}
fmt <- function(v) formatC(v, format = "f", digits = 2)
side_by_side <- function(ours, theirs, rows = 8) {
  k <- seq_len(min(rows, length(ours$lambda), length(theirs$lambda)))
  d <- data.frame(Df = ours$df[k], `%Dev` = round(100 * ours$dev.ratio[k], 2),
                  Lambda = signif(ours$lambda[k], 5), `|` = "|",
                  Df.glmnet = theirs$df[k], `%Dev.glmnet` = round(100 * theirs$dev.ratio[k], 2),
                  Lambda.glmnet = signif(theirs$lambda[k], 5), check.names = FALSE)
  print(d, row.names = FALSE)
  cat(sprintf("  ... path lengths: mlxs_glmnet %d lambdas, glmnet %d lambdas\n",
              length(ours$lambda), length(theirs$lambda)))
}

info <- mlxs_engine_info()
cat(sprintf("mlxs_glmnet engine %s (Python %s at %s, numpy %s)\n\n", info$engine, info$version,
            info$python, info$numpy))

# ---------------------------------------------------------------- 1. gaussian: mtcars
cat("== 1. Gaussian lasso on mtcars: mpg ~ the other 10 variables (32 cars) ==\n")
x <- as.matrix(mtcars[, -1]); y <- mtcars$mpg
fit <- mlxs_glmnet(x, y, thresh = 1e-10)
ref <- glmnet(x, y, thresh = 1e-10)
side_by_side(fit, ref)
cat(sprintf("  time per path: mlxs_glmnet %s ms, glmnet %s ms (mean of 20)\n",
            fmt(time_ms(mlxs_glmnet(x, y, thresh = 1e-10))),
            fmt(time_ms(glmnet(x, y, thresh = 1e-10)))))
s <- ref$lambda[min(20, length(ref$lambda))]
cmp <- cbind(mlxs_glmnet = as.numeric(coef(fit, s = s)), glmnet = as.numeric(coef(ref, s = s)))
rownames(cmp) <- rownames(coef(ref, s = s))
cat(sprintf("  coefficients at s = %.4g:\n", s))
print(round(cmp, 5))
dc <- as.matrix(coef(fit, s = ref$lambda) - coef(ref, s = ref$lambda))
cat(sprintf("  max |coef difference| over the whole path: %.2e (relative to the largest |coef|: %.1e)\n\n",
            max(abs(dc)), max(abs(dc)) / max(abs(as.matrix(coef(ref))))))

# ---------------------------------------------------------------- 2. binomial: infert
cat("== 2. Logistic lasso on infert: case ~ age, parity, education, spontaneous, induced ==\n")
xb <- model.matrix(~ age + parity + education + spontaneous + induced, infert)[, -1]
yb <- factor(infert$case, labels = c("control", "case"))
fitb <- mlxs_glmnet(xb, yb, family = "binomial", thresh = 1e-10)
refb <- glmnet(xb, yb, family = "binomial", thresh = 1e-10)
side_by_side(fitb, refb, rows = 6)
cat(sprintf("  time per path: mlxs_glmnet %s ms, glmnet %s ms (mean of 20)\n",
            fmt(time_ms(mlxs_glmnet(xb, yb, family = "binomial", thresh = 1e-10))),
            fmt(time_ms(glmnet(xb, yb, family = "binomial", thresh = 1e-10)))))
cat("  predicted classes at s = 0.01 (first 8 women):\n")
print(rbind(mlxs_glmnet = predict(fitb, xb[1:8, ], s = 0.01, type = "class")[, 1],
            glmnet = predict(refb, xb[1:8, ], s = 0.01, type = "class")[, 1]))
set.seed(2024)
foldid <- sample(rep(1:10, length = nrow(xb)))
cvb <- mlxs_cv_glmnet(xb, yb, family = "binomial", foldid = foldid)
cvr <- cv.glmnet(xb, yb, family = "binomial", foldid = foldid)
cat(sprintf("  10-fold CV (same folds): lambda.min %.5f vs %.5f, lambda.1se %.5f vs %.5f\n",
            cvb$lambda.min, cvr$lambda.min, cvb$lambda.1se, cvr$lambda.1se))
cat(sprintf("  max |cvm difference| %.2e (%s)\n\n", max(abs(cvb$cvm - cvr$cvm[seq_along(cvb$cvm)])),
            cvb$name))

# ---------------------------------------------------------------- 3. poisson: quakes
cat("== 3. Poisson elastic net (alpha = 0.5) on quakes: stations ~ lat, long, depth, mag ==\n")
xp <- as.matrix(quakes[, c("lat", "long", "depth", "mag")]); yp <- quakes$stations
fitp <- mlxs_glmnet(xp, yp, family = poisson(), alpha = 0.5, thresh = 1e-10)
refp <- glmnet(xp, yp, family = "poisson", alpha = 0.5, thresh = 1e-10)
side_by_side(fitp, refp, rows = 6)
cat(sprintf("  time per path: mlxs_glmnet %s ms, glmnet %s ms (mean of 20)\n",
            fmt(time_ms(mlxs_glmnet(xp, yp, family = "poisson", alpha = 0.5, thresh = 1e-10))),
            fmt(time_ms(glmnet(xp, yp, family = "poisson", alpha = 0.5, thresh = 1e-10)))))
cat(sprintf("  deviance at the end of the path: %.3f vs %.3f\n\n",
            utils::tail(deviance(fitp), 1), utils::tail(deviance(refp), 1)))

# ---------------------------------------------------------------- 4. relaxed lasso: infert
cat("== 4. Relaxed lasso on infert (relax = TRUE): each active set refitted without penalty ==\n")
fitr <- mlxs_glmnet(xb, yb, family = "binomial", relax = TRUE)
refr <- glmnet(xb, yb, family = "binomial", relax = TRUE)
cat(sprintf("  time: mlxs_glmnet %s ms, glmnet %s ms (mean of 10)\n",
            fmt(time_ms(mlxs_glmnet(xb, yb, family = "binomial", relax = TRUE), reps = 10)),
            fmt(time_ms(glmnet(xb, yb, family = "binomial", relax = TRUE), reps = 10))))
cat(sprintf("  max |relaxed coef difference| over the path: %.2e\n",
            max(abs(as.matrix(fitr$relaxed$beta) - as.matrix(refr$relaxed$beta)))))
cvrl <- mlxs_cv_glmnet(xb, yb, family = "binomial", foldid = foldid, relax = TRUE)
cvrr <- cv.glmnet(xb, yb, family = "binomial", foldid = foldid, relax = TRUE)
cat(sprintf("  10-fold CV over gamma and lambda: gamma.min %.2f vs %.2f, lambda.min %.5f vs %.5f\n\n",
            cvrl$relaxed$gamma.min, cvrr$relaxed$gamma.min, cvrl$relaxed$lambda.min,
            cvrr$relaxed$lambda.min))

# ---------------------------------------------------------------- 5. a bigger path, and the R layer
cat("== 5. A 5000 x 200 Gaussian path (simulated), and the cost of the R layer ==\n")
set.seed(1)
X <- matrix(rnorm(5000 * 200), 5000)
Y <- drop(X[, 1:10] %*% rnorm(10)) + rnorm(5000)
t_ours <- time_ms(mlxs_glmnet(X, Y), reps = 10)
t_ref <- time_ms(glmnet(X, Y), reps = 3)
over <- vapply(1:10, function(i) {
  t0 <- proc.time()[["elapsed"]]; mlxs_glmnet(X, Y); t1 <- proc.time()[["elapsed"]]
  1000 * (t1 - t0 - mlxsglmnet:::.last_engine_seconds())
}, 0)
cat(sprintf("  time per path: mlxs_glmnet %s ms, glmnet %s ms; R layer + handoff: %s ms\n\n",
            fmt(t_ours), fmt(t_ref), fmt(stats::median(over))))

# ---------------------------------------------------------------- plot
dev_type <- if (capabilities("cairo")) "cairo" else NULL
grDevices::png(png_file, width = 1800, height = 1000, res = 110, type = dev_type)
op <- par(mfrow = c(2, 3))
plot(fit, xvar = "lambda", label = TRUE); title("mlxs_glmnet: mtcars", line = 2.5)
plot(ref, xvar = "lambda", label = TRUE); title("glmnet: mtcars", line = 2.5)
plot(fitr, xvar = "lambda", gamma = 0); title("mlxs_glmnet relaxed (gamma 0): infert", line = 2.5)
plot(cvb); title("mlxs_cv_glmnet: infert", line = 2.5)
plot(cvr); title("cv.glmnet: infert", line = 2.5)
plot(cvrl); title("mlxs_cv_glmnet, relax = TRUE: infert", line = 3)
par(op)
invisible(grDevices::dev.off())
cat("coefficient paths and CV curves saved to", png_file, "\n")
