// CPU prelude for path.kern: one thread per block (blocks spread over host threads), and the
// vector primitives as small restrict-qualified loops that the compiler keeps in registers and
// vectorises (written inline in the big kernel body they spilled their accumulators).
#pragma once
#include <atomic>
#include <cmath>
#include <cstddef>

namespace mlxs_glmnet {
inline std::atomic<long> g_progress{0};

// Kept out of line: inlined into the large kernel body they lose their restrict-ness and their
// registers. The dot keeps 16 partial sums (four AVX2 registers) to hide the add latency.
#define K_HOT __attribute__((noinline))
template <class T>
K_HOT static T k_dot(const T* __restrict a, const T* __restrict b, int n) {
  T acc[16] = {0};
  int i = 0;
  for (; i + 16 <= n; i += 16)
    for (int k = 0; k < 16; ++k) acc[k] += a[i + k] * b[i + k];
  T s = 0;
  for (int k = 0; k < 16; ++k) s += acc[k];
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}
template <class T>
K_HOT static void k_upd(T* __restrict r, const T* __restrict v, const T* __restrict x, T c1, T c0,
                         int n) {
#pragma omp simd
  for (int i = 0; i < n; ++i) r[i] -= c1 * v[i] * (x[i] - c0);
}
template <class T>
K_HOT static void k_axpyc(T* __restrict e, const T* __restrict x, T c1, T c0, int n) {
#pragma omp simd
  for (int i = 0; i < n; ++i) e[i] += c1 * (x[i] - c0);
}
template <class T>
K_HOT static void k_wsums(const T* __restrict v, const T* __restrict x, int n, T* a, T* c) {
  T pa[8] = {0}, pc[8] = {0};
  int i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) {
      const T t = v[i + k] * x[i + k];
      pa[k] += t * x[i + k];
      pc[k] += t;
    }
  T sa = 0, sc = 0;
  for (int k = 0; k < 8; ++k) { sa += pa[k]; sc += pc[k]; }
  for (; i < n; ++i) {
    const T t = v[i] * x[i];
    sa += t * x[i];
    sc += t;
  }
  *a = sa;
  *c = sc;
}
}  // namespace mlxs_glmnet

#define K_TID 0
#define K_NT 1
#define K_SYNC() ((void)0)
#define K_RED(v) (v)
#define K_PROGRESS() (::mlxs_glmnet::g_progress.fetch_add(1, std::memory_order_relaxed))
