// The CPU backend of mlxs_glmnet: an MLX primitive whose eval_cpu runs python/mlxs_glmnet/
// kernels/path.kern (the same kernel source the GPU backends compile), one problem per block,
// blocks spread over the host's cores. Bound with nanobind in MLX's nanobind domain.
#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/variant.h>
#include <nanobind/stl/vector.h>

#include "mlx/backend/cpu/encoder.h"
#include "mlx/mlx.h"
#include "mlx/primitives.h"

#include "prelude_cpu.h"

namespace nb = nanobind;
using namespace mlx::core;

namespace mlxs_glmnet {

using std::exp;
using std::fabs;
using std::log;
using std::pow;
using std::sqrt;

template <typename real_t>
static void path_block(const KCtx<real_t>& kctx, int K_BLOCK, const real_t* x, const real_t* y, const real_t* w,
                       const real_t* off, const real_t* gram, const real_t* gst, const real_t* pf,
                       const real_t* cl, const int* jx, const real_t* ulam, const int* ip,
                       const real_t* dp, const int* gsl, const real_t* rsp, const int* rip,
                       const real_t* rbe, const real_t* rad, real_t* beta_o, real_t* a0_o, real_t* lam_o,
                       real_t* dev_o, real_t* nd_o, int* info_o, real_t* wsp, real_t* wsn,
                       int* wip) {
#include "path.kern"
}

enum In { X, Y, W, OFF, GRAM, GST, PF, CL, JX, ULAM, IP, DP, GSL, RSP, RIP, RBE, RAD, NIN };
enum { NOUT = 9 };   // beta, a0, lambda, dev, nulldev, info; then the three workspaces

// The data pointers of one call, whoever owns the memory (MLX arrays or numpy buffers).
struct Ptrs {
  const void* in[NIN];
  void* out[NOUT];
  const int* sp_p = nullptr;   // a sparse x's column pointers (p + 1) and row indices (nnz)
  const int* sp_i = nullptr;
};

// Every problem of a call: B blocks, nthreads host threads in all, block_threads per problem.
// The outputs must be zero where a path stops early (they are never read, but not garbage).
template <typename T>
static void solve_all(const Ptrs& ptr, int B, int nthreads, int block_threads) {
  const int bt = std::max(1, block_threads);
  const int nt = std::max(1, std::min(B, nthreads / bt));   // problems solved side by side
  auto I = [&](int k) { return static_cast<const T*>(ptr.in[k]); };
  auto II = [&](int k) { return static_cast<const int*>(ptr.in[k]); };
  auto O = [&](int k) { return static_cast<T*>(ptr.out[k]); };
  auto ctx_of = [&](int t, int nt, KBarrier* bar, T* red) {
    KCtx<T> c{t, nt, bar, red};
    c.sp_p = ptr.sp_p;
    c.sp_i = ptr.sp_i;
    return c;
  };
  auto run = [&](const KCtx<T>& ctx, int b) {
    path_block<T>(ctx, b, I(X), I(Y), I(W), I(OFF), I(GRAM), I(GST), I(PF), I(CL), II(JX),
                  I(ULAM), II(IP), I(DP), II(GSL), I(RSP), II(RIP), I(RBE), I(RAD), O(0), O(1),
                  O(2), O(3), O(4), static_cast<int*>(ptr.out[5]), O(6), O(7),
                  static_cast<int*>(ptr.out[8]));
  };
  // one problem on bt threads (the calling thread is thread 0)
  auto solve = [&](int b) {
    if (bt == 1) {
      run(ctx_of(0, 1, nullptr, nullptr), b);
      return;
    }
    KBarrier bar;
    std::vector<T> red(4 * bt);
    std::vector<std::thread> helpers;
    for (int t = 1; t < bt; ++t)
      helpers.emplace_back([&, t]() { run(ctx_of(t, bt, &bar, red.data()), b); });
    run(ctx_of(0, bt, &bar, red.data()), b);
    for (auto& h : helpers) h.join();
  };
  if (nt == 1) {
    for (int b = 0; b < B; ++b) solve(b);
    return;
  }
  std::atomic<int> next{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < nt; ++t)
    pool.emplace_back([&]() {
      for (int b = next.fetch_add(1); b < B; b = next.fetch_add(1)) solve(b);
    });
  for (auto& th : pool) th.join();
}

class GlmnetPath : public Primitive {
 public:
  GlmnetPath(Stream s, int nthreads, int block_threads)
      : Primitive(s), nthreads_(nthreads), block_threads_(block_threads) {}

  void eval_cpu(const std::vector<array>& in, std::vector<array>& out) override {
    for (auto& o : out) o.set_data(allocator::malloc(o.nbytes()));
    auto& enc = cpu::get_command_encoder(stream());
    for (auto& a : in) enc.set_input_array(a);
    for (auto& o : out) enc.set_output_array(o);
    if (in[X].dtype() == float64) dispatch<double>(enc, in, out);
    else dispatch<float>(enc, in, out);
  }

  void eval_gpu(const std::vector<array>&, std::vector<array>&) override {
    throw std::runtime_error("GlmnetPath: the GPU backends use mx.fast kernels, not this primitive");
  }
  const char* name() const override { return "GlmnetPath"; }
  bool is_equivalent(const Primitive&) const override { return false; }

 private:
  int nthreads_;        // host threads in all
  int block_threads_;   // threads per problem (> 1 when there are fewer problems than cores)

  template <typename T>
  void dispatch(cpu::CommandEncoder& enc, const std::vector<array>& in, std::vector<array>& out) {
    const int B = static_cast<int>(in[W].shape(0));
    const int nthreads = nthreads_, block_threads = block_threads_;
    enc.dispatch([=, in = in, out = out]() mutable {
      // results past a path's early stop stay zero (they are never read, but must not be garbage)
      for (int k = 0; k < 6; ++k) std::memset(out[k].data<char>(), 0, out[k].nbytes());
      Ptrs ptr;
      for (int k = 0; k < NIN; ++k) ptr.in[k] = in[k].data<void>();
      for (int k = 0; k < NOUT; ++k) ptr.out[k] = out[k].data<void>();
      solve_all<T>(ptr, B, nthreads, block_threads);
    });
  }
};

// The kernel trusts its int parameters (ip) for every index it forms, so they must agree with
// the shapes of the arrays it reads and writes; checked here, before the graph is built, so that
// a bad call raises a Python exception instead of reading or writing out of bounds (found with
// AddressSanitizer: tests/SANITIZER.md).
struct Desc {   // what the checks need of an input: its size and shape, an int input's data
  size_t n = 0;
  int nd = 0;
  size_t sh[2] = {0, 0};
  const int* ints = nullptr;
  size_t size() const { return n; }
  int ndim() const { return nd; }
  size_t shape(int i) const { return sh[i]; }
};

static void check_inputs(const std::vector<Desc>& in, int L, bool sparse_x = false) {
  auto fail = [](const std::string& m) { throw std::invalid_argument("glmnet_path: " + m); };
  if (in[W].ndim() != 2) fail("weights must be a (B, n) matrix");
  if (in[IP].ndim() != 1 || in[IP].size() < 16) fail("int parameters must hold 16 values");
  const int* ip = in[IP].ints;
  const size_t B = in[W].shape(0), n = in[W].shape(1), p = in[PF].size();
  const int mode = ip[4];
  if (B < 1 || n < 1 || p < 1) fail("empty problem (B, n and p must be positive)");
  if (static_cast<size_t>(ip[0]) != n || static_cast<size_t>(ip[1]) != p || ip[2] != L)
    fail("int parameters (n, p, nlam) do not match the shapes of weights, penalty factors, nlam");
  if (ip[3] < 0 || ip[3] > 2 || mode < 0 || mode > 1 || ip[5] < 0 || ip[5] > 1 ||
      ip[12] < 0 || ip[12] > 1 || ip[13] < 0 || ip[13] > 1 || ip[14] < 0 || ip[14] > 1)
    fail("family, mode, user-lambda, shared-gram, resume or warm flag out of range");
  const bool warm = ip[14] == 1;
  if (warm && (mode != 1 || ip[5] != 1 || L != 1 || ip[13] == 1 ||
               in[RBE].size() != B * p))
    fail("warm start is for covariance mode, one user lambda, no resume, coefficients (B, 1, p)");
  if (mode == 1 && ip[3] != 0) fail("covariance mode is for the gaussian family only");
  if (mode == 0 && (in[Y].size() != B * n || in[OFF].size() != B * n)) fail("y and offset must be (B, n)");
  if (in[JX].size() != p || in[CL].size() != (warm ? B : 1) * 2 * p)
    fail("exclusions (p) or limits ((B,) 2, p) sized wrongly");
  if (in[DP].size() < 6 * B) fail("real parameters must be (B, 6)");
  if (ip[15] < 1) fail("mnlam must be positive");
  if (ip[5] == 1 && in[ULAM].size() < static_cast<size_t>(L)) fail("fewer user lambdas than nlam");
  if (mode == 0 && !sparse_x && in[X].size() != n * p) fail("x must be (p, n) in naive mode");
  if (sparse_x && mode != 0) fail("a sparse x is for naive mode only");
  if (mode == 1) {
    const size_t K = static_cast<size_t>(ip[11]), G = ip[12] ? 1 : B;
    if (ip[11] < 1 || K > p || in[GRAM].size() != G * K * p || in[GST].size() != B * (3 * p + 2))
      fail("gram (B, K, p) with 1 <= K <= p and gram statistics (B, 3p + 2) are required in covariance mode");
    if (in[GSL].size() != p) fail("the Gram slot map must have p entries");
    const int* gs = in[GSL].ints;
    for (size_t j = 0; j < p; ++j)
      if (gs[j] < -1 || gs[j] >= ip[11]) fail("Gram slot map entry out of range");
    if (ip[13] && (in[RSP].size() != B * (10 * p + 16) || in[RIP].size() != B * 6 * p ||
                   in[RBE].size() != B * L * p || in[RAD].size() != B * 3 * static_cast<size_t>(L)))
      fail("resume state sized wrongly");
  } else if (ip[13]) {
    fail("resume is for covariance mode only");
  }
}

static std::vector<array> glmnet_path(const std::vector<array>& inputs, int nlam, int nthreads,
                                      int block_threads, StreamOrDevice s) {
  if (inputs.size() != NIN) throw std::invalid_argument("glmnet_path: expected 17 inputs");
  const Dtype dt = inputs[X].dtype();
  if (dt != float64 && dt != float32)
    throw std::invalid_argument("glmnet_path: x must be float32 or float64");
  std::vector<array> in;
  for (int k = 0; k < NIN; ++k) {
    const bool is_int = (k == JX || k == IP || k == GSL || k == RIP);
    Dtype want = is_int ? int32 : dt;
    if (inputs[k].dtype() != want)
      throw std::invalid_argument("glmnet_path: input " + std::to_string(k) + " has the wrong dtype");
    // (an input that is already row-contiguous data, as every one from numpy is, goes in as it
    // is: 17 copy nodes in the graph cost ~0.3 ms, most of a small path's call)
    const array& a = inputs[k];
    in.push_back(a.is_available() && a.flags().row_contiguous ? a : contiguous(a, false, s));
  }
  const int B = static_cast<int>(in[W].shape(0));
  const int n = static_cast<int>(in[W].shape(1));
  const int p = static_cast<int>(in[PF].shape(0));
  const int L = nlam;
  if (L < 1) throw std::invalid_argument("glmnet_path: nlam must be positive");
  {
    // the int parameters and the slot map are read by the checks: evaluated first
    array ipa = in[IP], gsa = in[GSL];
    ipa.eval();
    gsa.eval();
    std::vector<Desc> d(NIN);
    for (int k = 0; k < NIN; ++k) {
      d[k].n = in[k].size();
      d[k].nd = static_cast<int>(in[k].ndim());
      for (int i = 0; i < std::min(2, d[k].nd); ++i) d[k].sh[i] = in[k].shape(i);
    }
    d[IP].ints = ipa.data<int>();
    d[GSL].ints = gsa.data<int>();
    check_inputs(d, L);
  }
  std::vector<Shape> shapes = {{B, L, p}, {B, L}, {B, L}, {B, L}, {B}, {B, 4},
                               {B, 10 * p + 16}, {B, 4 * n}, {B, 6 * p}};
  std::vector<Dtype> dtypes = {dt, dt, dt, dt, dt, int32, dt, dt, int32};
  return array::make_arrays(std::move(shapes), std::move(dtypes),
                            std::make_shared<GlmnetPath>(to_stream(s), nthreads, block_threads), in);
}

// The same path on numpy's buffers, run now on the calling thread (and its helpers, the GIL
// released), without an MLX graph: MLX's 17 input arrays, graph and scheduler cost ~0.2 ms a
// call, as much as a small path (mtcars' 32 x 10: 0.47 -> 0.27 ms a fit), and an F-ordered x is
// read in place (engine.CPU_CALL). inputs: the 17 arrays of glmnet_path (C-contiguous, x's
// dtype, int32 where glmnet_path wants it; nothing is converted); outputs: six writable arrays
// of the sizes of glmnet_path's first six, zeroed here once the checks pass. The workspaces are
// allocated here. sp_indptr / sp_indices (int32): x is sparse, its non-zeros in compressed
// columns (naive mode; x then holds the non-zeros' values).
template <typename T>
using CIn = nb::ndarray<const T, nb::c_contig, nb::device::cpu>;
template <typename T>
using COut = nb::ndarray<T, nb::c_contig, nb::device::cpu>;

template <typename T>
static void host_call(const nb::list& inputs, const nb::list& outputs, int L, int nthreads,
                      int block_threads, const nb::object& sp_indptr, const nb::object& sp_indices) {
  std::vector<CIn<T>> rin(NIN);
  std::vector<CIn<int>> iin(NIN);
  std::vector<Desc> d(NIN);
  Ptrs ptr{};
  auto describe = [&](const auto& a, int k) {     // size, shape and data of input k
    d[k].nd = static_cast<int>(a.ndim());
    d[k].n = 1;
    for (int i = 0; i < d[k].nd; ++i) d[k].n *= a.shape(i);
    for (int i = 0; i < std::min(2, d[k].nd); ++i) d[k].sh[i] = a.shape(i);
    ptr.in[k] = a.data();
  };
  for (int k = 0; k < NIN; ++k) {
    const bool is_int = (k == JX || k == IP || k == GSL || k == RIP);
    nb::handle h = inputs[static_cast<size_t>(k)];
    if (is_int ? !nb::try_cast(h, iin[k], false) : !nb::try_cast(h, rin[k], false))
      throw std::invalid_argument("glmnet_path_host: input " + std::to_string(k) + " must be a " +
                                  "C-contiguous " + (is_int ? "int32 array" : "array of x's dtype"));
    if (is_int) {
      describe(iin[k], k);
      d[k].ints = iin[k].data();
    } else {
      describe(rin[k], k);
    }
  }
  // a sparse x: x holds the non-zeros; the structure is checked whole (the kernel trusts it)
  const bool sparse_x = !sp_indptr.is_none();
  CIn<int> spp, spi;
  if (sparse_x) {
    if (!nb::try_cast(sp_indptr, spp, false) || !nb::try_cast(sp_indices, spi, false) ||
        spp.ndim() != 1 || spi.ndim() != 1)
      throw std::invalid_argument("glmnet_path_host: sparse x: indptr and indices must be "
                                  "C-contiguous int32 vectors");
    const size_t p = d[PF].n, nnz = d[X].n;
    const size_t n = d[W].nd == 2 ? d[W].sh[1] : 0;
    const int* cp = spp.data();
    const int* ri = spi.data();
    if (spp.shape(0) != p + 1 || spi.shape(0) != nnz || cp[0] != 0 ||
        static_cast<size_t>(cp[p]) != nnz)
      throw std::invalid_argument("glmnet_path_host: sparse x: indptr must have p + 1 entries "
                                  "from 0 to the number of non-zeros, indices one per non-zero");
    for (size_t j = 0; j < p; ++j) {
      if (cp[j + 1] < cp[j])
        throw std::invalid_argument("glmnet_path_host: sparse x: indptr must not decrease");
      for (int k = cp[j]; k < cp[j + 1]; ++k)
        if (ri[k] < 0 || static_cast<size_t>(ri[k]) >= n || (k > cp[j] && ri[k] <= ri[k - 1]))
          throw std::invalid_argument("glmnet_path_host: sparse x: row indices must lie in "
                                      "[0, n) and ascend within a column");
    }
    ptr.sp_p = cp;
    ptr.sp_i = ri;
    block_threads = 1;                 // (one thread a problem: see prelude_cpu.h's sparse x)
  }
  check_inputs(d, L, sparse_x);
  const size_t B = d[W].sh[0], n = d[W].sh[1], p = d[PF].n;
  const size_t want[6] = {B * L * p, B * L, B * L, B * L, B, B * 4};
  std::vector<COut<T>> rout(5);
  COut<int> info;
  for (int k = 0; k < 6; ++k) {
    nb::handle h = outputs[static_cast<size_t>(k)];
    size_t got = 1;
    bool ok;
    if (k == 5) {
      ok = nb::try_cast(h, info, false);
      if (ok) for (size_t i = 0; i < info.ndim(); ++i) got *= info.shape(i);
      if (ok) ptr.out[5] = info.data();
    } else {
      ok = nb::try_cast(h, rout[k], false);
      if (ok) for (size_t i = 0; i < rout[k].ndim(); ++i) got *= rout[k].shape(i);
      if (ok) ptr.out[k] = rout[k].data();
    }
    if (!ok || got != want[k])
      throw std::invalid_argument("glmnet_path_host: output " + std::to_string(k) +
                                  " must be a writable C-contiguous array of " +
                                  std::to_string(want[k]) + " elements");
  }
  // (as the primitive: results past a path's early stop are zero, never garbage)
  for (int k = 0; k < 5; ++k) std::memset(ptr.out[k], 0, rout[k].size() * sizeof(T));
  std::memset(ptr.out[5], 0, info.size() * sizeof(int));
  std::vector<T> wsp(B * (10 * p + 16)), wsn(B * 4 * n);
  std::vector<int> wip(B * 6 * p);
  ptr.out[6] = wsp.data();
  ptr.out[7] = wsn.data();
  ptr.out[8] = wip.data();
  nb::gil_scoped_release release;
  solve_all<T>(ptr, static_cast<int>(B), nthreads, block_threads);
}

static void glmnet_path_host(const nb::list& inputs, const nb::list& outputs, int nlam,
                             int nthreads, int block_threads, const nb::object& sp_indptr,
                             const nb::object& sp_indices) {
  if (inputs.size() != NIN) throw std::invalid_argument("glmnet_path_host: expected 17 inputs");
  if (outputs.size() != 6) throw std::invalid_argument("glmnet_path_host: expected 6 outputs");
  if (nlam < 1) throw std::invalid_argument("glmnet_path_host: nlam must be positive");
  CIn<double> probe;
  if (nb::try_cast(inputs[static_cast<size_t>(X)], probe, false))
    host_call<double>(inputs, outputs, nlam, nthreads, block_threads, sp_indptr, sp_indices);
  else
    host_call<float>(inputs, outputs, nlam, nthreads, block_threads, sp_indptr, sp_indices);
}

}  // namespace mlxs_glmnet

NB_MODULE(_core, m) {
  m.doc() = "mlxs_glmnet CPU backend: the path kernel as an MLX primitive";
  m.def("glmnet_path", &mlxs_glmnet::glmnet_path, nb::arg("inputs"), nb::arg("nlam"), nb::arg("nthreads") = 1, nb::arg("block_threads") = 1,
        nb::kw_only(), nb::arg("stream") = nb::none());
  m.def("glmnet_path_host", &mlxs_glmnet::glmnet_path_host, nb::arg("inputs"), nb::arg("outputs"),
        nb::arg("nlam"), nb::arg("nthreads") = 1, nb::arg("block_threads") = 1,
        nb::arg("sp_indptr") = nb::none(), nb::arg("sp_indices") = nb::none());
  m.def("progress", []() { return mlxs_glmnet::g_progress.load(); });
}
