"""The vignettes execute, so they cannot rot.

- vignettes/python_walkthrough.md: every ```python block, in order, as one script in a fresh
  interpreter (the same one that runs the tests) in a scratch directory;
- vignettes/mlxsglmnet.Rmd: knitted with knitr::knit (markdown output, no pandoc needed) with
  errors fatal except in chunks marked error = TRUE, using the installed R package mlxsglmnet
  pointed at this interpreter.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

from rbridge import rscript_path

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VIG = os.path.join(ROOT, "vignettes")


def _env():
    env = dict(os.environ, MPLBACKEND="Agg", MLXSGLMNET_PYTHON=sys.executable)
    # the child must import the same mlxs_glmnet as this process
    import mlxs_glmnet
    pkg_parent = os.path.dirname(os.path.dirname(mlxs_glmnet.__file__))
    env["PYTHONPATH"] = os.pathsep.join([pkg_parent] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return env


def python_blocks(path):
    with open(path) as fh:
        text = fh.read()
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def test_python_walkthrough_runs(tmp_path):
    blocks = python_blocks(os.path.join(VIG, "python_walkthrough.md"))
    assert len(blocks) >= 8
    joined = "\n".join(blocks)
    for needle in ("cv_glmnet", "pd.DataFrame", "make_x", ".plot(", "to_r(", "fit_r(", "from_r("):
        assert needle in joined, f"the walkthrough should show {needle}"
    script = tmp_path / "walkthrough.py"
    script.write_text("".join(f"# --- block {i + 1}\n{b}\n" for i, b in enumerate(blocks)))
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=_env(),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"walkthrough failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    png = tmp_path / "walkthrough_plots.png"
    assert png.exists() and png.stat().st_size > 10000
    out = proc.stdout
    assert "y must have length 2000" in out                      # the error example printed
    assert "make_x" in out and "'siteeast', 'sitenorth', 'sitesouth'" in out
    assert '"elnet"  "glmnet"' in out


def test_r_vignette_knits(tmp_path):
    if subprocess.run([rscript_path(), "-e", "quit(status = !requireNamespace('knitr', quietly = TRUE))"],
                      capture_output=True).returncode != 0:
        pytest.fail("R package knitr is missing (make install adds r-cran-knitr)")
    shutil.copy(os.path.join(VIG, "mlxsglmnet.Rmd"), tmp_path)
    expr = ('knitr::opts_chunk$set(error = FALSE); '
            'knitr::knit("mlxsglmnet.Rmd", "mlxsglmnet.md", quiet = TRUE)')
    proc = subprocess.run([rscript_path(), "-e", expr], cwd=tmp_path, env=_env(),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"knitting failed:\n{proc.stderr[-4000:]}"
    md = (tmp_path / "mlxsglmnet.md").read_text()
    assert '## [1] "elnet"  "glmnet"' in md
    assert "mlxs_cv_glmnet" in md and "cv.glmnet" in md
    assert re.search(r"## seconds +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+", md), "speed table missing"
    errors = md.split("## Errors")[1]
    assert errors.count("## Error") >= 2 and "cox" in errors       # the error chunk shows them
    figs = list((tmp_path / "figure").glob("*.png"))
    assert len(figs) >= 2 and all(f.stat().st_size > 2000 for f in figs)
