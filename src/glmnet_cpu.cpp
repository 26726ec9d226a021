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
    const int bt = std::max(1, block_threads_);
    const int nt = std::max(1, std::min(B, nthreads_ / bt));   // problems solved side by side
    enc.dispatch([=, in = in, out = out]() mutable {
      // results past a path's early stop stay zero (they are never read, but must not be garbage)
      for (int k = 0; k < 6; ++k) std::memset(out[k].data<char>(), 0, out[k].nbytes());
      auto run = [&](const KCtx<T>& ctx, int b) {
        path_block<T>(ctx, b, in[X].data<T>(), in[Y].data<T>(), in[W].data<T>(),
                      in[OFF].data<T>(), in[GRAM].data<T>(), in[GST].data<T>(), in[PF].data<T>(),
                      in[CL].data<T>(), in[JX].data<int>(), in[ULAM].data<T>(),
                      in[IP].data<int>(), in[DP].data<T>(), in[GSL].data<int>(),
                      in[RSP].data<T>(), in[RIP].data<int>(), in[RBE].data<T>(), in[RAD].data<T>(), out[0].data<T>(), out[1].data<T>(),
                      out[2].data<T>(), out[3].data<T>(), out[4].data<T>(), out[5].data<int>(),
                      out[6].data<T>(), out[7].data<T>(), out[8].data<int>());
      };
      // one problem on bt threads (the calling thread is thread 0)
      auto solve = [&](int b) {
        if (bt == 1) {
          run(KCtx<T>{}, b);
          return;
        }
        KBarrier bar;
        std::vector<T> red(4 * bt);
        std::vector<std::thread> helpers;
        for (int t = 1; t < bt; ++t)
          helpers.emplace_back([&, t]() { run(KCtx<T>{t, bt, &bar, red.data()}, b); });
        run(KCtx<T>{0, bt, &bar, red.data()}, b);
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
    });
  }
};

// The kernel trusts its int parameters (ip) for every index it forms, so they must agree with
// the shapes of the arrays it reads and writes; checked here, before the graph is built, so that
// a bad call raises a Python exception instead of reading or writing out of bounds (found with
// AddressSanitizer: tests/SANITIZER.md).
static void check_inputs(const std::vector<array>& in, int L) {
  auto fail = [](const std::string& m) { throw std::invalid_argument("glmnet_path: " + m); };
  if (in[W].ndim() != 2) fail("weights must be a (B, n) matrix");
  if (in[IP].ndim() != 1 || in[IP].size() < 15) fail("int parameters must hold 15 values");
  array ipa = in[IP];
  ipa.eval();
  const int* ip = ipa.data<int>();
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
  if (in[DP].size() < 4 * B) fail("real parameters must be (B, 4)");
  if (ip[5] == 1 && in[ULAM].size() < static_cast<size_t>(L)) fail("fewer user lambdas than nlam");
  if (mode == 0 && in[X].size() != n * p) fail("x must be (p, n) in naive mode");
  if (mode == 1) {
    const size_t K = static_cast<size_t>(ip[11]), G = ip[12] ? 1 : B;
    if (ip[11] < 1 || K > p || in[GRAM].size() != G * K * p || in[GST].size() != B * (3 * p + 2))
      fail("gram (B, K, p) with 1 <= K <= p and gram statistics (B, 3p + 2) are required in covariance mode");
    if (in[GSL].size() != p) fail("the Gram slot map must have p entries");
    array ga = in[GSL];
    ga.eval();
    const int* gs = ga.data<int>();
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
  check_inputs(in, L);
  std::vector<Shape> shapes = {{B, L, p}, {B, L}, {B, L}, {B, L}, {B}, {B, 4},
                               {B, 10 * p + 16}, {B, 4 * n}, {B, 6 * p}};
  std::vector<Dtype> dtypes = {dt, dt, dt, dt, dt, int32, dt, dt, int32};
  return array::make_arrays(std::move(shapes), std::move(dtypes),
                            std::make_shared<GlmnetPath>(to_stream(s), nthreads, block_threads), in);
}

}  // namespace mlxs_glmnet

NB_MODULE(_core, m) {
  m.doc() = "mlxs_glmnet CPU backend: the path kernel as an MLX primitive";
  m.def("glmnet_path", &mlxs_glmnet::glmnet_path, nb::arg("inputs"), nb::arg("nlam"), nb::arg("nthreads") = 1, nb::arg("block_threads") = 1,
        nb::kw_only(), nb::arg("stream") = nb::none());
  m.def("progress", []() { return mlxs_glmnet::g_progress.load(); });
}
