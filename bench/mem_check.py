"""Peak memory of one fit against the size of x (run: python bench/mem_check.py binomial|gaussian).

x (200000 x 500 float64, Fortran order, 763 MB) is filled column by column so that the process
holds nothing else of that size before the fit; ru_maxrss after the fit minus before is what the
fit added."""
import numpy as np, resource, sys, mlxs_glmnet as mg, gc
fam = sys.argv[1]
n, p = 200000, 500
rng = np.random.default_rng(0)
x = np.empty((n, p), order='F')
for j in range(p): x[:, j] = rng.standard_normal(n)
y = x[:, :5].sum(1) + rng.standard_normal(n)
if fam == "binomial": y = (y > 0).astype(float)
gc.collect()
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
f = mg.glmnet(x, y, fam, nlambda=10)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
xs = x.nbytes / 2**20
print(f"{fam}: x {xs:.0f} MB, RSS before fit {base:.0f} MB, peak {peak:.0f} MB, growth {(peak-base)/xs:.2f} x size(x)")
