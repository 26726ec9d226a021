// CUDA prelude for path.kern (used as the `header` of mx.fast.cuda_kernel).
// One thread block per problem; the block size must be a multiple of 32, at most 1024.
typedef float real_t;
#define K_BLOCK ((int)blockIdx.x)
#define K_TID ((int)threadIdx.x)
#define K_NT ((int)blockDim.x)
#define K_SYNC() __syncthreads()
#define K_FOR(i, n) for (int i = K_TID; i < (n); i += K_NT)
#define K_PROGRESS() ((void)0)
// Covariance mode's inner passes over an active set of at most K_ICAP variables run on the first
// warp from shared copies of its state (path.kern). MLXS_GPU_ICAP (gpu.py) may define it first.
// H200, path kernel / least-squares kernel times, K_ICAP 1024 / 256 / 128 / 0 (every pass on the
// block): gaussian n = 1e6 5.2-5.7 / 6.0 / 5.9 / 6.7 ms; binomial n = 1e6 least-squares steps
// (|A| up to 758) 378-425 / 310 / 351 / 342 ms; separate processes, +-10% between them. One warp
// wins on small active sets (no block barrier per update); on hundreds of actives 32 lanes
// gathering the column serially lose to 512 threads.
#ifndef K_ICAP
#define K_ICAP 256
#endif
#define K_LANES 32
#define K_LSYNC() __syncwarp()
#define K_SHARED(T, name, size) __shared__ T name[size]
// Covariance mode's gradients in shared memory up to p = K_GSH (16 KB of the 48 KB static
// shared memory; a generic pointer into it, so the code that updates them is the same).
#ifndef K_GSH
#define K_GSH 4096
#endif
// Block-wide sum: warp shuffles, one shared slot per warp, three barriers.
__device__ inline float k_block_sum(float v) {
  __shared__ float wsum[32];
  __shared__ float total;
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5;
  __syncthreads();                       /* readers of the previous total are done */
  if (lane == 0) wsum[wid] = v;
  __syncthreads();
  if (wid == 0) {
    v = (lane < (int)(blockDim.x >> 5)) ? wsum[lane] : 0.f;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    if (lane == 0) total = v;
  }
  __syncthreads();
  return total;
}
#define K_RED(v) k_block_sum(v)
// Block-wide exclusive prefix sum of v in thread order (*total: the sum over the block); three
// barriers. With K_CHUNK (each thread a contiguous range) it gives ordered parallel appends.
__device__ inline int k_block_scan(int v, int* total) {
  __shared__ int wpre[32];
  const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = (int)(blockDim.x >> 5);
  int x = v;
  for (int o = 1; o < 32; o <<= 1) {
    const int y = __shfl_up_sync(0xffffffffu, x, o);
    if (lane >= o) x += y;
  }
  __syncthreads();                       /* readers of the previous scan are done */
  if (lane == 31) wpre[wid] = x;
  __syncthreads();
  if (wid == 0) {
    int t = lane < nw ? wpre[lane] : 0;
    for (int o = 1; o < 32; o <<= 1) {
      const int y = __shfl_up_sync(0xffffffffu, t, o);
      if (lane >= o) t += y;
    }
    if (lane < nw) wpre[lane] = t;
  }
  __syncthreads();
  *total = wpre[nw - 1];
  return (wid > 0 ? wpre[wid - 1] : 0) + x - v;
}
#define K_SCAN(v, total) k_block_scan((v), (total))
#define K_CHUNK(lo, hi, n) do { const int c_ = ((n) + K_NT - 1) / K_NT; \
  lo = K_TID * c_ < (n) ? K_TID * c_ : (n); hi = lo + c_ < (n) ? lo + c_ : (n); } while (0)
__device__ inline float k_dot(const float* a, const float* b, int n) {
  float s = 0.f;
  for (int i = threadIdx.x; i < n; i += blockDim.x) s += a[i] * b[i];
  return k_block_sum(s);
}
__device__ inline void k_upd(float* r, const float* v, const float* x, float c1, float c0, int n) {
  for (int i = threadIdx.x; i < n; i += blockDim.x) r[i] -= c1 * v[i] * (x[i] - c0);
}
__device__ inline void k_axpyc(float* e, const float* x, float c1, float c0, int n) {
  for (int i = threadIdx.x; i < n; i += blockDim.x) e[i] += c1 * (x[i] - c0);
}
__device__ inline void k_wsums(const float* v, const float* x, int n, float* a, float* c) {
  float sa = 0.f, sc = 0.f;
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    const float t = v[i] * x[i];
    sa += t * x[i];
    sc += t;
  }
  *a = k_block_sum(sa);
  *c = k_block_sum(sc);
}
// Covariance-mode gradient update g[k] -= c1 (gk[k] - c0 xm[k]) ixs[k] over k < n (sl == nullptr) or
// over k = sl[q], q < n. A plain strided loop: restrict-qualified pointers with four elements
// loaded before any store measured 134 ms against 127 ms for a deep path's coordinate descent on
// an H200 (61194 updates, clock64 timers); an update's cost is its latency (barriers, the read of
// the coordinate's gradient), not this loop's loads.
__device__ inline void k_gupd(float* g, const float* gk, const float* xm, const float* ixs,
                              const int* sl, float c1, float c0, int n) {
  for (int q = threadIdx.x; q < n; q += blockDim.x) {
    const int k = sl ? sl[q] : q;
    g[k] -= c1 * (gk[k] - c0 * xm[k]) * ixs[k];
  }
}
// At most 512 threads a block (gpu.THREADS): declared to the compiler, so that it keeps the kernel
// within 128 registers a thread. Without the bound NVRTC gave it 132 (nvcc -Xptxas -v, sm_90), a
// 512-thread block no longer fitted, gpu._launch fell back to 384 threads, and the naive binomial
// path at n = 1e4, p = 100 took 330 ms instead of 270 ms (H200). MLX writes the kernel's signature
// itself, after this header: its `__global__` is the one place to attach the bound.
#undef __global__
#define __global__ __location__(global) __launch_bounds__(512)
