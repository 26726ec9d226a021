// CPU prelude for path.kern. A block (one problem) runs on K_NT host threads (usually 1; more
// when there are fewer problems than cores and n is large): each thread owns a contiguous chunk
// of every n- and p-loop (K_FOR), barriers are a spinning sense counter, block sums go through a
// small shared array. The vector primitives are out-of-line restrict-qualified loops the compiler
// keeps in registers and vectorises (inlined into the big kernel body they spilled).
#pragma once
#include <atomic>
#include <cmath>
#include <cstddef>
#include <thread>
#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define K_PAUSE() _mm_pause()
#else
#define K_PAUSE() ((void)0)
#endif

namespace mlxs_glmnet {
inline std::atomic<long> g_progress{0};

struct KBarrier {
  std::atomic<int> count{0};
  std::atomic<int> gen{0};
};

template <class T>
struct KCtx {
  int tid = 0, nt = 1;
  KBarrier* bar = nullptr;
  T* red = nullptr;  // 4 nt slots shared by the block's threads (two phases of pairs)
  mutable unsigned phase = 0;  // block sums done so far (the same count on every thread)
  // a sparse x (compressed columns): column j's non-zeros are x[k] at rows sp_i[k] for
  // sp_p[j] <= k < sp_p[j + 1], rows ascending; nullptr: x is dense
  const int* sp_p = nullptr;
  const int* sp_i = nullptr;
  // the centring that the sparse column updates defer (every thread the same values):
  // rr = stored rr + rshift vv, et = stored et + eshift (path.kern's K_XFLUSH applies them)
  mutable T rshift = 0, eshift = 0;
};

inline void k_barrier_wait(KBarrier* b, int nt) {
  const int g = b->gen.load(std::memory_order_acquire);
  if (b->count.fetch_add(1, std::memory_order_acq_rel) == nt - 1) {
    b->count.store(0, std::memory_order_relaxed);
    b->gen.fetch_add(1, std::memory_order_release);
    return;
  }
  for (int spins = 0; b->gen.load(std::memory_order_acquire) == g; ++spins) {
    if (spins < 4096) K_PAUSE();
    else std::this_thread::yield();
  }
}

template <class T>
inline void k_sync(const KCtx<T>& c) {
  if (c.nt > 1) k_barrier_wait(c.bar, c.nt);
}

// Block sums: every thread gets the same total (summed in the same order). One barrier each:
// consecutive sums alternate between two halves of the slots, and a thread can only come back to
// a half after a later barrier, which every thread reaches only after reading that half.
template <class T>
inline void k_red2(const KCtx<T>& c, T& a, T& b) {
  if (c.nt == 1) return;
  T* buf = c.red + (c.phase++ & 1u) * 2 * c.nt;
  buf[2 * c.tid] = a;
  buf[2 * c.tid + 1] = b;
  k_barrier_wait(c.bar, c.nt);
  T sa = 0, sb = 0;
  for (int t = 0; t < c.nt; ++t) { sa += buf[2 * t]; sb += buf[2 * t + 1]; }
  a = sa;
  b = sb;
}
template <class T>
inline T k_red(const KCtx<T>& c, T v) {
  T dummy = 0;
  k_red2(c, v, dummy);
  return v;
}

// This thread's chunk of 0..n-1 (multiples of 8, for the vector loops).
template <class T>
inline int k_lo(const KCtx<T>& c, int n) {
  if (c.nt == 1) return 0;
  const long chunk = (((long)n + c.nt - 1) / c.nt + 7) & ~7L;
  const long lo = chunk * c.tid;
  return (int)(lo < n ? lo : n);
}
template <class T>
inline int k_hi(const KCtx<T>& c, int n) {
  if (c.nt == 1) return n;
  const long chunk = (((long)n + c.nt - 1) / c.nt + 7) & ~7L;
  const long hi = chunk * (c.tid + 1);
  return (int)(hi < n ? hi : n);
}

#define K_HOT __attribute__((noinline))
// 16 partial sums (four AVX2 registers) hide the add latency.
template <class T>
K_HOT static T k_dot1(const T* __restrict a, const T* __restrict b, int n) {
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
K_HOT static void k_upd1(T* __restrict r, const T* __restrict v, const T* __restrict x, T c1, T c0,
                         int n) {
#pragma omp simd
  for (int i = 0; i < n; ++i) r[i] -= c1 * v[i] * (x[i] - c0);
}
template <class T>
K_HOT static void k_axpyc1(T* __restrict e, const T* __restrict x, T c1, T c0, int n) {
#pragma omp simd
  for (int i = 0; i < n; ++i) e[i] += c1 * (x[i] - c0);
}
template <class T>
K_HOT static void k_wsums1(const T* __restrict v, const T* __restrict x, int n, T* a, T* c) {
  T pa[16] = {0}, pc[16] = {0};
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int k = 0; k < 16; ++k) pc[k] += v[i + k] * x[i + k];
    for (int k = 0; k < 16; ++k) pa[k] += v[i + k] * x[i + k] * x[i + k];
  }
  T sa = 0, sc = 0;
  for (int k = 0; k < 16; ++k) { sa += pa[k]; sc += pc[k]; }
  for (; i < n; ++i) {
    const T t = v[i] * x[i];
    sa += t * x[i];
    sc += t;
  }
  *a = sa;
  *c = sc;
}

// Block-wide versions: each thread works on its chunk.
template <class T>
inline T k_dot_b(const KCtx<T>& c, const T* a, const T* b, int n) {
  const int lo = k_lo(c, n), hi = k_hi(c, n);
  return k_red(c, k_dot1(a + lo, b + lo, hi - lo));
}
// Covariance-mode gradient update g[k] -= c1 (gk[k] - c0 xm[k]) ixs[k] over k (sl == nullptr) or over
// k = sl[q]: restrict-qualified, so the loads of one element need not wait for the last store.
template <class T>
K_HOT static void k_gupd1(T* __restrict g, const T* __restrict gk, const T* __restrict xm,
                          const T* __restrict ixs, const int* __restrict sl, T c1, T c0, int lo,
                          int hi) {
  if (sl == nullptr) {
#pragma omp simd
    for (int k = lo; k < hi; ++k) g[k] -= c1 * (gk[k] - c0 * xm[k]) * ixs[k];
  } else {
    for (int q = lo; q < hi; ++q) {
      const int k = sl[q];
      g[k] -= c1 * (gk[k] - c0 * xm[k]) * ixs[k];
    }
  }
}
template <class T>
inline void k_gupd_b(const KCtx<T>& c, T* g, const T* gk, const T* xm, const T* ixs, const int* sl,
                     T c1, T c0, int n) {
  k_gupd1(g, gk, xm, ixs, sl, c1, c0, k_lo(c, n), k_hi(c, n));
}
template <class T>
inline void k_upd_b(const KCtx<T>& c, T* r, const T* v, const T* x, T c1, T c0, int n) {
  const int lo = k_lo(c, n), hi = k_hi(c, n);
  k_upd1(r + lo, v + lo, x + lo, c1, c0, hi - lo);
}
template <class T>
inline void k_axpyc_b(const KCtx<T>& c, T* e, const T* x, T c1, T c0, int n) {
  const int lo = k_lo(c, n), hi = k_hi(c, n);
  k_axpyc1(e + lo, x + lo, c1, c0, hi - lo);
}
template <class T>
inline void k_wsums_b(const KCtx<T>& c, const T* v, const T* x, int n, T* a, T* cc) {
  const int lo = k_lo(c, n), hi = k_hi(c, n);
  T pa, pc;
  k_wsums1(v + lo, x + lo, hi - lo, &pa, &pc);
  k_red2(c, pa, pc);
  *a = pa;
  *cc = pc;
}

// ---- a sparse x: the column primitives over column j's non-zeros, x[k] at rows sp_i[k] for
// sp_p[j] <= k < sp_p[j + 1]. A problem with a sparse x runs on one thread (glmnet_path_host sees
// to it: a column's update costs its non-zeros, far less than a block barrier).
// x - c0 is not sparse: its c0 term (the centring) is deferred as a multiple of vv in rr and a
// constant in et (KCtx's rshift, eshift), which K_XFLUSH applies when the kernel reads rr or et
// row by row; every update and dot is then O(non-zeros). Statistics of a column are computed by
// the thread that owns it.
// x_j' rr with rr's deferred multiple of vv: sum over the non-zeros of x (r + rshift v); xv1:
// x_j' vv for every j when the caller has it (gaussian: vv is wn, and x_j' wn the column mean)
template <class T>
inline T k_sdot_b(const KCtx<T>& c, const T* x, int j, const T* r, const T* v, const T* xv1) {
  const int k0 = c.sp_p[j], k1 = c.sp_p[j + 1];
  T s = 0;
  if (c.rshift == 0 || xv1 != nullptr) {
    for (int k = k0; k < k1; ++k) s += x[k] * r[c.sp_i[k]];
    return k_red(c, s) + (c.rshift == 0 ? T(0) : c.rshift * xv1[j]);
  }
  T sv = 0;
  for (int k = k0; k < k1; ++k) {
    const int i = c.sp_i[k];
    s += x[k] * r[i];
    sv += x[k] * v[i];
  }
  k_red2(c, s, sv);
  return s + c.rshift * sv;
}
// rr -= c1 vv (x_j - c0): the non-zeros' part now, the centring's (+ c1 c0 vv) deferred
template <class T>
inline void k_supd_b(const KCtx<T>& c, T* r, const T* v, const T* x, int j, T c1, T c0) {
  const int k0 = c.sp_p[j], k1 = c.sp_p[j + 1];
  for (int k = k0; k < k1; ++k) {
    const int i = c.sp_i[k];
    r[i] -= c1 * v[i] * x[k];
  }
  c.rshift += c1 * c0;
}
// et += c1 (x_j - c0): the non-zeros' part now, the constant - c1 c0 deferred
template <class T>
inline void k_saxpyc_b(const KCtx<T>& c, T* e, const T* x, int j, T c1, T c0) {
  const int k0 = c.sp_p[j], k1 = c.sp_p[j + 1];
  for (int k = k0; k < k1; ++k) e[c.sp_i[k]] += c1 * x[k];
  c.eshift -= c1 * c0;
}
template <class T>
inline void k_sflush(const KCtx<T>& c, T* r, const T* v, T* e, int n) {
  if (c.rshift == 0 && c.eshift == 0) return;
  const int lo = k_lo(c, n), hi = k_hi(c, n);
  const T rs = c.rshift, es = c.eshift;
#pragma omp simd
  for (int i = lo; i < hi; ++i) {
    r[i] += rs * v[i];
    e[i] += es;
  }
  c.rshift = 0;
  c.eshift = 0;
}
template <class T>
inline void k_swsums_b(const KCtx<T>& c, const T* v, const T* x, int j, T* a, T* cc) {
  const int k0 = c.sp_p[j], k1 = c.sp_p[j + 1];
  T pa = 0, pc = 0;
  for (int k = k0; k < k1; ++k) {
    const T t = v[c.sp_i[k]] * x[k];
    pc += t;
    pa += t * x[k];
  }
  k_red2(c, pa, pc);
  *a = pa;
  *cc = pc;
}
// Column j's weighted mean m1, variance about it, sum wn x^2, and whether it varies over the
// nobs positive-weight rows (the implicit zeros count as values); wn sums to 1.
template <class T>
inline void k_sstats(const KCtx<T>& c, const T* x, int j, const T* wb, const T* wn, int nobs,
                     T* m1, T* var, T* m2, int* varies) {
  const int k0 = c.sp_p[j], k1 = c.sp_p[j + 1];
  T s1 = 0, s2 = 0, wnz = 0, lo = 0, hi = 0;
  int cnt = 0;
  for (int k = k0; k < k1; ++k) {
    const int i = c.sp_i[k];
    const T xv = x[k];
    s1 += wn[i] * xv;
    s2 += wn[i] * xv * xv;
    wnz += wn[i];
    if (wb[i] > 0) {
      if (!cnt) { lo = xv; hi = xv; }
      lo = xv < lo ? xv : lo;
      hi = xv > hi ? xv : hi;
      ++cnt;
    }
  }
  if (cnt < nobs) {                    // some positive-weight rows hold an implicit zero
    lo = lo < 0 ? lo : 0;
    hi = hi > 0 ? hi : 0;
  }
  T v = 0;                             // sum over the non-zeros, then the zeros' (x - m1)^2 = m1^2
  for (int k = k0; k < k1; ++k) {
    const T d = x[k] - s1;
    v += wn[c.sp_i[k]] * d * d;
  }
  const T rest = 1 - wnz;
  v += (rest > 0 ? rest : 0) * s1 * s1;
  *m1 = s1;
  *m2 = s2;
  *var = v;
  *varies = hi > lo ? 1 : 0;
}
}  // namespace mlxs_glmnet

// The kernel body sees a KCtx named kctx.
#define K_TID (kctx.tid)
#define K_NT (kctx.nt)
#define K_SYNC() ::mlxs_glmnet::k_sync(kctx)
#define K_RED(v) ::mlxs_glmnet::k_red(kctx, (v))
// Covariance mode's inner passes over at most K_ICAP active variables run from copies of their
// state, as on a GPU's first warp (path.kern): here the single thread of a one-thread block (the
// CPU runs covariance mode one thread a problem), so CI runs that code; larger active sets, and
// blocks of several threads, take the block pass.
#define K_ICAP 64
#define K_LANES 1
#define K_LSYNC() ((void)0)
#define K_SHARED(T, name, size) T name[size]
#define K_LANES_OK (K_NT == 1)
// The gradients of covariance mode in a local array of the one-thread block up to p = K_GSH (as
// a GPU keeps them in shared memory; 32 KB of the thread's stack), so CI runs that code too.
#define K_GSH 4096
#define K_SERIAL_APPEND 1       /* path.kern's K_APPEND: see there (no K_SCAN, K_CHUNK needed) */
#define K_FOR(i, n) \
  for (int i = ::mlxs_glmnet::k_lo(kctx, (n)), i##_end_ = ::mlxs_glmnet::k_hi(kctx, (n)); i < i##_end_; ++i)
#define k_dot(a, b, n) ::mlxs_glmnet::k_dot_b(kctx, (a), (b), (n))
#define k_upd(r, v, x, c1, c0, n) ::mlxs_glmnet::k_upd_b(kctx, (r), (v), (x), (c1), (c0), (n))
#define k_axpyc(e, x, c1, c0, n) ::mlxs_glmnet::k_axpyc_b(kctx, (e), (x), (c1), (c0), (n))
#define k_wsums(v, x, n, a, c) ::mlxs_glmnet::k_wsums_b(kctx, (v), (x), (n), (a), (c))
// x's columns (path.kern's K_X*): dense, or sparse when the call gave compressed columns
#define K_XSPARSE (kctx.sp_p != nullptr)
#define K_XDOT(j, r) (K_XSPARSE ? ::mlxs_glmnet::k_sdot_b(kctx, x, (j), (r), vv, \
                                                          fam == 0 ? sxv : (const real_t*)0) \
                                : k_dot(x + (size_t)(j) * n, (r), n))
#define K_XFLUSH() ((void)(K_XSPARSE && (::mlxs_glmnet::k_sflush(kctx, rr, vv, et, n), true)))
#define K_XUPD(r, v, j, c1, c0) \
  (K_XSPARSE ? ::mlxs_glmnet::k_supd_b(kctx, (r), (v), x, (j), (c1), (c0)) \
             : k_upd((r), (v), x + (size_t)(j) * n, (c1), (c0), n))
#define K_XAXPYC(e, j, c1, c0) \
  (K_XSPARSE ? ::mlxs_glmnet::k_saxpyc_b(kctx, (e), x, (j), (c1), (c0)) \
             : k_axpyc((e), x + (size_t)(j) * n, (c1), (c0), n))
#define K_XWSUMS(v, j, a, c) \
  (K_XSPARSE ? ::mlxs_glmnet::k_swsums_b(kctx, (v), x, (j), (a), (c)) \
             : k_wsums((v), x + (size_t)(j) * n, n, (a), (c)))
#define K_XSTATS(j, M1, VAR, M2, VARIES) \
  ::mlxs_glmnet::k_sstats(kctx, x, (j), wb, wn, nobs, &(M1), &(VAR), &(M2), &(VARIES))
#define k_gupd(g, gk, xm, ixs, sl, c1, c0, n) \
  ::mlxs_glmnet::k_gupd_b(kctx, (g), (gk), (xm), (ixs), (sl), (c1), (c0), (n))
#define K_PROGRESS() \
  ((void)(kctx.tid == 0 && (::mlxs_glmnet::g_progress.fetch_add(1, std::memory_order_relaxed), true)))
