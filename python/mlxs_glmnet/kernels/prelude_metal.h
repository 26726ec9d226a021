// Metal prelude for path.kern (the `header` of mx.fast.metal_kernel). gpu.metal_source() builds
// the kernel body: the declarations below (k_tg, k_bid, k_tid, k_nt) followed by path.kern with
// every pointer qualified as `device` (Metal needs an address space on each pointer).
// One threadgroup per problem; the threadgroup size must be a multiple of 32, at most 1024.
typedef float real_t;
#define K_BLOCK ((int)k_bid)
#define K_TID ((int)k_tid)
#define K_NT ((int)k_nt)
#define K_SYNC() threadgroup_barrier(mem_flags::mem_device | mem_flags::mem_threadgroup)
#define K_FOR(i, n) for (int i = K_TID; i < (n); i += K_NT)
#define K_PROGRESS() ((void)0)
// Covariance mode's inner passes over an active set of at most K_ICAP variables run on the first
// simdgroup from threadgroup copies of its state (path.kern); 5 K_ICAP words of the 32 KB.
#ifndef K_ICAP
#define K_ICAP 256
#endif
#define K_LANES 32
#define K_LSYNC() simdgroup_barrier(mem_flags::mem_threadgroup)
#define K_SHARED(T, name, size) threadgroup T name[size]
// (no K_GSH: a pointer is either device or threadgroup in Metal, so the gradients stay in the
// problem's scratch)
#define K_GSH 0
#define K_RED(v) k_block_sum((v), k_tg, K_TID, K_NT)
#define K_SCAN(v, total) k_block_scan_((v), (total), k_tg, K_TID, K_NT)
#define K_CHUNK(lo, hi, n) do { const int c_ = ((n) + K_NT - 1) / K_NT; \
  lo = K_TID * c_ < (n) ? K_TID * c_ : (n); hi = lo + c_ < (n) ? lo + c_ : (n); } while (0)
#define k_dot(a, b, n) k_dot_((a), (b), (n), k_tg, K_TID, K_NT)
#define k_upd(r, v, x, c1, c0, n) k_upd_((r), (v), (x), (c1), (c0), (n), K_TID, K_NT)
#define k_axpyc(e, x, c1, c0, n) k_axpyc_((e), (x), (c1), (c0), (n), K_TID, K_NT)
#define k_wsums(v, x, n, a, c) k_wsums_((v), (x), (n), (a), (c), k_tg, K_TID, K_NT)
#define k_gupd(g, gk, xm, ixs, sl, c1, c0, n) \
  k_gupd_((g), (gk), (xm), (ixs), (sl), (c1), (c0), (n), K_TID, K_NT)

// Threadgroup-wide sum: simdgroup sums, one threadgroup slot per simdgroup, three barriers
// (the first keeps the previous total readable until every thread has read it).
inline float k_block_sum(float v, threadgroup float* tg, int tid, int nt) {
  v = simd_sum(v);
  const int lane = tid & 31, wid = tid >> 5;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (lane == 0) tg[wid] = v;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (wid == 0) {
    float t = (lane < (nt >> 5)) ? tg[lane] : 0.f;
    t = simd_sum(t);
    if (lane == 0) tg[32] = t;
  }
  threadgroup_barrier(mem_flags::mem_threadgroup);
  return tg[32];
}
inline float k_dot_(const device float* a, const device float* b, int n, threadgroup float* tg,
                    int tid, int nt) {
  float s = 0.f;
  for (int i = tid; i < n; i += nt) s += a[i] * b[i];
  return k_block_sum(s, tg, tid, nt);
}
inline void k_upd_(device float* r, const device float* v, const device float* x, float c1,
                   float c0, int n, int tid, int nt) {
  for (int i = tid; i < n; i += nt) r[i] -= c1 * v[i] * (x[i] - c0);
}
inline void k_axpyc_(device float* e, const device float* x, float c1, float c0, int n, int tid,
                     int nt) {
  for (int i = tid; i < n; i += nt) e[i] += c1 * (x[i] - c0);
}
inline void k_wsums_(const device float* v, const device float* x, int n, thread float* a,
                     thread float* c, threadgroup float* tg, int tid, int nt) {
  float sa = 0.f, sc = 0.f;
  for (int i = tid; i < n; i += nt) {
    const float t = v[i] * x[i];
    sa += t * x[i];
    sc += t;
  }
  *a = k_block_sum(sa, tg, tid, nt);
  *c = k_block_sum(sc, tg, tid, nt);
}
// Covariance-mode gradient update g[k] -= c1 (gk[k] - c0 xm[k]) ixs[k] over k < n (sl null) or
// over k = sl[q].
inline void k_gupd_(device float* g, const device float* gk, const device float* xm,
                    const device float* ixs, const device int* sl, float c1, float c0, int n,
                    int tid, int nt) {
  for (int q = tid; q < n; q += nt) {
    const int k = sl ? sl[q] : q;
    g[k] -= c1 * (gk[k] - c0 * xm[k]) * ixs[k];
  }
}
// Threadgroup-wide exclusive prefix sum of v in thread order (*total: the sum); two barriers (the
// first keeps the previous scan's or sum's slots readable until every thread has read them).
inline int k_block_scan_(int v, thread int* total, threadgroup float* tg, int tid, int nt) {
  const int lane = tid & 31, wid = tid >> 5, nw = nt >> 5;
  const int x = simd_prefix_exclusive_sum(v);
  const int ws = simd_sum(v);
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (lane == 0) tg[wid] = (float)ws;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  int before = 0, tot = 0;
  for (int w = 0; w < nw; ++w) {
    const int c = (int)tg[w];
    before += (w < wid) ? c : 0;
    tot += c;
  }
  *total = tot;
  return before + x;
}
