"""Run R glmnet on many cases in ONE Rscript process and read the results back.

No rpy2: every array goes to R as a raw little-endian float64 file (``numpy.tofile``; matrices in
column-major order) and comes back the same way (``writeBin``).  The R script is generated here with
the scalar arguments written as R literals, so nothing beyond base R + glmnet is needed on the
R side (no jsonlite).  Each case is wrapped in ``tryCatch`` so that an R error in one case is
reported for that case instead of killing the whole batch; warnings are recorded too.

A case is a dict::

    {"name": str, "x": (n, p) array, "y": array (numbers or strings), "family": str,
     "args": {R-argument-name: value, ...},           # e.g. {"alpha": 0.5, "weights": w}
     "predict": [{"newx": array, "s": array|None, "type": "link", "newoffset": array|None,
                  "exact": False}, ...]}               # optional

Values in ``args`` may be Python scalars (bool/int/float/str), None (argument omitted) or numpy
arrays (written to a file and read with readBin).  The result for each case is a dict with
``a0, beta (p, k), lambda, df, dev_ratio, nulldev, npasses, jerr, nobs, classnames, warnings,
error, predict`` (a list of arrays, one per predict request; ``class`` predictions are strings).
"""
from __future__ import annotations

import math
import os
import shutil
import subprocess
import tempfile

import numpy as np

RSCRIPT = os.environ.get("RSCRIPT", "Rscript")


def rscript_path():
    """The Rscript executable; raises (never skips) when R is missing: CI has R."""
    exe = shutil.which(RSCRIPT)
    if exe is None:
        raise RuntimeError(
            "Rscript not found on PATH: the parity suite needs R with glmnet installed "
            "(set $RSCRIPT to point at it)")
    return exe


def _rlit(v):
    if isinstance(v, (bool, np.bool_)):
        return "TRUE" if v else "FALSE"
    if isinstance(v, (int, np.integer)):
        return f"{int(v)}L"
    if isinstance(v, (float, np.floating)):
        v = float(v)
        if math.isinf(v):
            return "Inf" if v > 0 else "-Inf"
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    raise TypeError(f"cannot write {v!r} as an R literal")


def _wbin(path, a):
    np.ascontiguousarray(np.asarray(a, dtype="<f8").ravel(order="F")).tofile(path)


_PRELUDE = r"""
suppressMessages(library(glmnet))
rd <- function(f) readBin(f, "double", n = file.info(f)$size / 8, endian = "little")
wb <- function(v, f) writeBin(as.double(v), f, endian = "little")
run_case <- function(pre, x, y, args, preds) {
  bad <- setdiff(names(args), names(formals(glmnet)))
  if (length(bad)) stop("rbridge: unknown glmnet argument(s): ", paste(bad, collapse = ", "))
  warns <- character(0)
  fit <- withCallingHandlers(
    tryCatch(do.call(glmnet, c(list(x = x, y = y), args)), error = function(e) e),
    warning = function(w) { warns <<- c(warns, conditionMessage(w)); invokeRestart("muffleWarning") })
  writeLines(warns, paste0(pre, "warnings.txt"))
  if (inherits(fit, "error")) { writeLines(conditionMessage(fit), paste0(pre, "error.txt")); return(invisible()) }
  wb(fit$a0, paste0(pre, "a0.bin"))
  wb(as.matrix(fit$beta), paste0(pre, "beta.bin"))
  wb(fit$lambda, paste0(pre, "lambda.bin"))
  wb(fit$df, paste0(pre, "df.bin"))
  wb(fit$dev.ratio, paste0(pre, "dev_ratio.bin"))
  wb(c(fit$nulldev, fit$npasses, fit$jerr, fit$nobs, length(fit$lambda)), paste0(pre, "scalars.bin"))
  if (!is.null(fit$classnames)) writeLines(fit$classnames, paste0(pre, "classnames.txt"))
  for (j in seq_along(preds)) {
    pr <- preds[[j]]
    a <- list(fit, newx = pr$newx, type = pr$type)
    if (!is.null(pr$s)) a$s <- pr$s
    if (!is.null(pr$newoffset)) a$newoffset <- pr$newoffset
    if (isTRUE(pr$exact)) a <- c(a, list(exact = TRUE, x = x, y = y), args)
    out <- tryCatch(do.call(predict, a), error = function(e) e)
    f <- paste0(pre, "pred", j)
    if (inherits(out, "error")) { writeLines(conditionMessage(out), paste0(f, "_error.txt")); next }
    if (is.list(out)) {                       # type = "nonzero": a list (or data frame) of indices
      writeLines(vapply(out, function(v) paste(v, collapse = " "), ""), paste0(f, "_nz.txt"))
    } else if (is.character(out)) {
      writeLines(as.vector(out), paste0(f, "_chr.txt")); wb(dim(as.matrix(out)), paste0(f, "_dim.bin"))
    } else {
      out <- as.matrix(out); wb(out, paste0(f, ".bin")); wb(dim(out), paste0(f, "_dim.bin"))
    }
  }
}
"""


_PY2R = {"lambda_": "lambda", "lambda_min_ratio": "lambda.min.ratio",
         "penalty_factor": "penalty.factor", "lower_limits": "lower.limits",
         "upper_limits": "upper.limits", "trace_it": "trace.it"}


def run_rscript(lines, workdir, timeout=600):
    """Write the R lines to workdir/run.R and run them with Rscript --vanilla; R failing is an
    error carrying its stderr."""
    script = os.path.join(workdir, "run.R")
    with open(script, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    proc = subprocess.run([rscript_path(), "--vanilla", script], capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"Rscript failed (rc={proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc


def r_args(**kw):
    """Python-API keyword arguments -> R glmnet arguments (names; exclude 0-based -> 1-based)."""
    out = {}
    for k, v in kw.items():
        if v is None or k in ("device", "dtype"):
            continue
        if k == "exclude":
            v = np.asarray(v, dtype=np.float64) + 1
        if isinstance(v, (list, tuple)):
            v = np.asarray(v, dtype=np.float64)
        out[_PY2R.get(k, k)] = v
    return out


def run_glmnet_cases(cases, workdir=None, timeout=600):
    """Fit every case with R glmnet in a single Rscript process; return a list of result dicts."""
    rscript_path()   # fail early and loudly when R is missing
    own = workdir is None
    d = tempfile.mkdtemp(prefix="rglmnet_") if own else str(workdir)
    try:
        lines = [_PRELUDE]
        for i, c in enumerate(cases):
            pre = os.path.join(d, f"c{i}_")
            x = np.asarray(c["x"], dtype=np.float64)
            _wbin(pre + "x.bin", x)
            y = np.asarray(c["y"])
            if y.dtype.kind in "biuf":
                _wbin(pre + "y.bin", y.astype(np.float64))
                ycode = f'rd("{pre}y.bin")'
            else:
                with open(pre + "y.txt", "w") as fh:
                    fh.write("\n".join(str(v) for v in y) + "\n")
                ycode = f'factor(readLines("{pre}y.txt"))'
            args = []
            for k, v in c.get("args", {}).items():
                if v is None:
                    continue
                if isinstance(v, (np.ndarray, list, tuple)):
                    _wbin(f"{pre}arg_{k}.bin", np.asarray(v, dtype=np.float64))
                    code = f'rd("{pre}arg_{k}.bin")'
                    if k == "exclude":
                        code = f"as.integer({code})"
                    args.append(f"`{k}` = {code}")
                else:
                    args.append(f"`{k}` = {_rlit(v)}")
            preds = []
            for j, pr in enumerate(c.get("predict", [])):
                nx = np.asarray(pr["newx"], dtype=np.float64)
                _wbin(f"{pre}p{j}_newx.bin", nx)
                parts = [f'newx = matrix(rd("{pre}p{j}_newx.bin"), {nx.shape[0]}L, {nx.shape[1]}L)',
                         f'type = {_rlit(pr.get("type", "link"))}']
                if pr.get("s") is not None:
                    _wbin(f"{pre}p{j}_s.bin", np.atleast_1d(pr["s"]))
                    parts.append(f's = rd("{pre}p{j}_s.bin")')
                if pr.get("newoffset") is not None:
                    _wbin(f"{pre}p{j}_off.bin", pr["newoffset"])
                    parts.append(f'newoffset = rd("{pre}p{j}_off.bin")')
                if pr.get("exact"):
                    parts.append("exact = TRUE")
                preds.append("list(" + ", ".join(parts) + ")")
            lines.append(
                f'run_case("{pre}", matrix(rd("{pre}x.bin"), {x.shape[0]}L, {x.shape[1]}L), {ycode}, '
                f'list({", ".join(args)}), list({", ".join(preds)}))')
        run_rscript(lines, d, timeout=timeout)
        return [_read_case(os.path.join(d, f"c{i}_"), c) for i, c in enumerate(cases)]
    finally:
        if own:
            shutil.rmtree(d, ignore_errors=True)


def _rdbin(path):
    return np.fromfile(path, dtype="<f8")


def _read_case(pre, case):
    res = {"name": case.get("name"), "error": None, "predict": []}
    with open(pre + "warnings.txt") as fh:
        res["warnings"] = [ln for ln in fh.read().splitlines() if ln]
    if os.path.exists(pre + "error.txt"):
        with open(pre + "error.txt") as fh:
            res["error"] = fh.read().strip()
        return res
    nulldev, npasses, jerr, nobs, k = _rdbin(pre + "scalars.bin")
    k = int(k)
    p = np.asarray(case["x"]).shape[1]
    res.update(a0=_rdbin(pre + "a0.bin"), beta=_rdbin(pre + "beta.bin").reshape((p, k), order="F"),
               lambda_=_rdbin(pre + "lambda.bin"), df=_rdbin(pre + "df.bin").astype(int),
               dev_ratio=_rdbin(pre + "dev_ratio.bin"), nulldev=float(nulldev),
               npasses=int(npasses), jerr=int(jerr), nobs=int(nobs), classnames=None)
    if os.path.exists(pre + "classnames.txt"):
        with open(pre + "classnames.txt") as fh:
            res["classnames"] = fh.read().splitlines()
    for j in range(len(case.get("predict", []))):
        f = f"{pre}pred{j + 1}"
        if os.path.exists(f + "_error.txt"):
            with open(f + "_error.txt") as fh:
                res["predict"].append(RuntimeError(fh.read().strip()))
        elif os.path.exists(f + "_nz.txt"):
            with open(f + "_nz.txt") as fh:
                res["predict"].append([np.array([int(t) - 1 for t in ln.split()], dtype=int)
                                       for ln in fh.read().splitlines()])
        elif os.path.exists(f + "_chr.txt"):
            dim = _rdbin(f + "_dim.bin").astype(int)
            with open(f + "_chr.txt") as fh:
                v = np.array(fh.read().splitlines(), dtype=object)
            res["predict"].append(v.reshape(tuple(dim), order="F"))
        else:
            dim = _rdbin(f + "_dim.bin").astype(int)
            res["predict"].append(_rdbin(f + ".bin").reshape(tuple(dim), order="F"))
    return res
