# Two commands on a fresh Debian machine:  make demo   and   make test
# (make install does the installs alone). See README.md.

SHELL   := /bin/bash
ROOT    := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
PYTHON  ?= python3
VENV    := $(ROOT)/.venv
VPY     := $(VENV)/bin/python
RLIB    ?=
RPKGS   := r-base-core r-base-dev r-cran-glmnet r-cran-reticulate r-cran-testthat r-cran-matrix r-cran-knitr
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
R_INSTALL_FLAGS := $(if $(RLIB),-l $(RLIB),)

.PHONY: install r-deps venv rpkg demo test test-python test-r check-r clean

install: r-deps venv rpkg

# R and the R packages from Debian, only when something is missing.
r-deps:
	@if command -v Rscript >/dev/null 2>&1 && \
	    Rscript -e 'for (p in c("glmnet","reticulate","testthat","Matrix","knitr")) if (!requireNamespace(p, quietly=TRUE)) quit(status=1)' >/dev/null 2>&1; then \
	  echo "R, glmnet, reticulate, testthat, Matrix, knitr: present"; \
	else \
	  echo "installing $(RPKGS) from Debian"; \
	  $(SUDO) apt-get update && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y $(RPKGS); \
	fi

# The Python venv with the engine (a C++ extension built by scikit-build-core).
venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml CMakeLists.txt $(shell find python src -type f \( -name '*.py' -o -name '*.cpp' -o -name '*.h' -o -name '*.kern' \) 2>/dev/null)
	@[ -x $(VPY) ] || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --upgrade --quiet pip
	$(VPY) -m pip install --quiet "numpy<2" "pandas<3" "scipy<1.14" pytest hypothesis matplotlib "rpy2<3.6"
	$(VPY) -m pip install --quiet -C build-dir=build/venv-{wheel_tag} .
	@touch $@

# The R package; it records the venv's interpreter so that it works from any directory.
rpkg: venv
	mkdir -p rpkg/inst && echo "$(VPY)" > rpkg/inst/python_path
	R CMD INSTALL $(R_INSTALL_FLAGS) --no-multiarch rpkg

demo: install
	Rscript demo/demo.R

test: install test-python test-r check-r

test-python:
	cd $(ROOT) && $(VPY) -m pytest tests/python -q

test-r:
	cd rpkg/tests && Rscript -e 'testthat::test_dir("testthat", package = "mlxsglmnet", load_package = "installed", reporter = testthat::ProgressReporter$$new(show_praise = FALSE), stop_on_failure = TRUE)'

check-r:
	rm -rf build/rcheck && mkdir -p build/rcheck
	cd build/rcheck && R CMD build --no-build-vignettes $(ROOT)/rpkg && \
	  _R_CHECK_FORCE_SUGGESTS_=false R CMD check --no-manual --no-build-vignettes mlxsglmnet_*.tar.gz; \
	  status=$$?; \
	  if grep -qE "^Status: .*(ERROR|WARNING)" mlxsglmnet.Rcheck/00check.log; then \
	    cat mlxsglmnet.Rcheck/00check.log; \
	    for f in mlxsglmnet.Rcheck/tests/*.Rout.fail; do [ -f "$$f" ] && tail -50 "$$f"; done; exit 1; fi; \
	  exit $$status

clean:
	rm -rf build/rcheck rpkg/inst/python_path demo/*.png
