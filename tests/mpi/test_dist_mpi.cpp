// dist/ over MPI, run by CTest as `mpiexec -n 2 whet_mpi_tests`: the collectives, the
// data-parallel helpers, and one SGD step on two half batches against one process on the
// whole batch. Every rank runs every case, in the same order; checks use CHECK rather than
// REQUIRE so that a failing rank still makes the collectives its peer waits in.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "core/autograd.h"
#include "core/backend.h"
#include "core/ops.h"
#include "dist/data_parallel.h"
#include "dist/detail.h"
#include "models/registry.h"
#include "optim/sgd.h"

using namespace whet;
using dist::Communicator;
using RedOp = dist::ReduceOp;  // whet::ReduceOp names the tensor reductions

namespace {

Communicator& comm() { return *dist::world(); }

bool bitwise_equal(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  Tensor ha = a.to(Device::cpu()), hb = b.to(Device::cpu());
  return std::memcmp(ha.raw_data(), hb.raw_data(), ha.nbytes()) == 0;
}

// Rank r's element i: small integers (exact in float32), halves on floating tensors, and on
// int64 a multiple of 2^40, beyond 32 bits.
double value(int r, int64_t i, DType dt) {
  double v = double((i * 7 + 3 * r) % 23) - 11.0;
  return dt == DType::i64 ? v + double(int64_t(r) << 40) * (i % 2 ? 1 : -1) : v + 0.5 * r;
}
Tensor rank_tensor(int r, int64_t n, DType dt) {
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = value(r, i, dt);
  return Tensor::from_vector(v, {n}, dt);
}

void check_reduced(Communicator& c, int64_t n, DType dt) {
  const int world = c.world_size();
  for (RedOp op : {RedOp::sum, RedOp::max, RedOp::min}) {
    Tensor t = rank_tensor(c.rank(), n, dt);
    c.all_reduce(t, op);
    std::vector<double> got = t.to_vector<double>();
    bool all_equal = true;
    for (int64_t i = 0; i < n; ++i) {
      double want = value(0, i, dt);
      for (int r = 1; r < world; ++r) {
        double v = value(r, i, dt);
        want = op == RedOp::sum   ? want + v
               : op == RedOp::max ? std::max(want, v)
                                  : std::min(want, v);
      }
      all_equal = all_equal && got[size_t(i)] == want;
    }
    INFO("dtype ", dtype_name(dt), ", ", n, " elements, op ", int(op));
    CHECK(all_equal);
  }
}

// |a - b| <= atol + rtol |b| elementwise, rtol 1e-5 and atol rtol times the tensor's largest
// magnitude: sums over the batch, split differently, cancel to near zero in some elements.
// (Measured: the half-batch split stays below 0.05 of this bound; a half batch alone, not
// averaged, exceeds it 10^5-fold.)
bool close(const Tensor& a, const Tensor& b, double rtol = 1e-5) {
  std::vector<double> x = a.to_vector<double>(), y = b.to_vector<double>();
  double scale = 0;
  for (double v : y) scale = std::max(scale, std::abs(v));
  const double atol = rtol * scale;
  for (size_t i = 0; i < x.size(); ++i)
    if (!(std::abs(x[i] - y[i]) <= atol + rtol * std::abs(y[i]))) return false;
  return true;
}

// True when t holds the same bytes on every rank.
bool same_on_all_ranks(const Tensor& t) {
  Tensor root = t.detach().clone();
  comm().broadcast(root, 0);
  Tensor ok = Tensor::from_vector<int64_t>({bitwise_equal(root, t) ? 1 : 0}, {1});
  comm().all_reduce(ok, RedOp::min);
  return ok.item() == 1;
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no exception)";
}

}  // namespace

TEST_CASE("mpi: all_reduce sum, max and min, float32/float64/int64, odd sizes") {
  CHECK(comm().backend() == "mpi");
  for (DType dt : {DType::f32, DType::f64, DType::i64})
    for (int64_t n : {1, 7, 1001}) check_reduced(comm(), n, dt);
  Tensor empty = zeros({0});
  comm().all_reduce(empty);
  CHECK(empty.numel() == 0);
}

TEST_CASE("mpi: tensors larger than one MPI call travel in chunks") {
  auto small = dist::detail::make_mpi_communicator(3);  // 10 elements: chunks of 3, 3, 3, 1
  CHECK(small->world_size() == comm().world_size());
  for (DType dt : {DType::f32, DType::f64, DType::i64}) check_reduced(*small, 10, dt);
  Tensor t = rank_tensor(small->rank(), 10, DType::f64);
  small->broadcast(t, 1);
  CHECK(bitwise_equal(t, rank_tensor(1, 10, DType::f64)));
  CHECK_THROWS_AS(dist::detail::make_mpi_communicator(0), Error);
}

TEST_CASE("mpi: broadcast gives every rank the root's values") {
  for (DType dt : {DType::f32, DType::f64, DType::i64}) {
    Tensor t = rank_tensor(comm().rank(), 13, dt).reshape({13, 1});
    comm().broadcast(t, 1);
    CHECK(bitwise_equal(t, rank_tensor(1, 13, dt).reshape({13, 1})));
  }
  comm().barrier();
}

TEST_CASE("mpi: collectives refuse bad arguments on every rank, before any message") {
  Tensor f = zeros({4});
  CHECK(message_of([&] { comm().broadcast(f, 2); }) ==
        "broadcast: root 2 is not a rank of a group of 2");
  Tensor half = zeros({4}, DType::f16), undefined;
  CHECK_THROWS_AS(comm().all_reduce(half), Error);
  CHECK_THROWS_AS(comm().all_reduce(undefined), Error);
  Tensor after = rank_tensor(comm().rank(), 5, DType::f32);  // still in step
  comm().all_reduce(after);
  CHECK(bitwise_equal(after, rank_tensor(0, 5, DType::f32) + rank_tensor(1, 5, DType::f32)));
}

TEST_CASE("mpi: CUDA tensors are staged through the host") {
  Tensor devices = Tensor::from_vector<int64_t>({cuda_device_count()}, {1});
  comm().all_reduce(devices, RedOp::min);
  if (devices.item() == 0) {
    MESSAGE("skipped: no CUDA device on some rank");
    return;
  }
  const Device d = Device::cuda(comm().rank() % int(devices.item()));
  Tensor t = rank_tensor(comm().rank(), 1001, DType::f32).to(d);
  comm().all_reduce(t);
  CHECK(t.device() == d);
  CHECK(bitwise_equal(t, rank_tensor(0, 1001, DType::f32) + rank_tensor(1, 1001, DType::f32)));
  Tensor b = rank_tensor(comm().rank(), 7, DType::i64).to(d);
  comm().broadcast(b, 1);
  CHECK(bitwise_equal(b, rank_tensor(1, 7, DType::i64)));
}

TEST_CASE("mpi: broadcast_module makes differently seeded models equal, buffers included") {
  auto make = [](int seed) {
    manual_seed(uint64_t(100 + seed));
    auto m = models::create_model("small_cnn", {10});
    for (auto& [name, b] : m->named_buffers()) b.fill_(seed + 1);  // BN statistics, counts
    return m;
  };
  auto model = make(comm().rank());
  auto root = make(0);
  nn::NamedTensors got = model->state_dict(), want = root->state_dict();
  const Tensor first_weight = got[0].second;
  CHECK(bitwise_equal(got[0].second, want[0].second) == (comm().rank() == 0));

  dist::broadcast_module(*model, comm(), 0);

  got = model->state_dict();
  CHECK(got[0].second.same_storage(first_weight));  // in place
  for (size_t i = 0; i < got.size(); ++i) {
    INFO(got[i].first);
    CHECK(bitwise_equal(got[i].second, want[i].second));
  }
}

TEST_CASE("mpi: average_gradients leaves every rank with the exact mean") {
  manual_seed(3);
  auto model = models::create_model("small_cnn", {10});
  std::vector<Tensor> params = model->parameters();
  Tensor extra = zeros({3, 5}, DType::f64).set_requires_grad();
  params.push_back(extra);
  const size_t skipped = 1;  // no gradient on any rank
  auto grad_of = [](int r, size_t i, const Tensor& p) {
    std::vector<double> v(static_cast<size_t>(p.numel()));
    for (size_t k = 0; k < v.size(); ++k)
      v[k] = (double(k % 17) - 8.0) * (r + 1) + 0.25 * double(i);
    return Tensor::from_vector(v, p.shape(), p.dtype());
  };
  for (size_t bucket_bytes : {size_t(4096), size_t(25) << 20}) {
    INFO("bucket_bytes ", bucket_bytes);
    std::vector<Tensor> grads;
    for (size_t i = 0; i < params.size(); ++i) {
      params[i].set_grad(i == skipped ? Tensor() : grad_of(comm().rank(), i, params[i]));
      grads.push_back(params[i].grad());
    }
    dist::average_gradients(params, comm(), bucket_bytes);
    for (size_t i = 0; i < params.size(); ++i) {
      INFO("parameter ", i);
      if (i == skipped) {
        CHECK_FALSE(params[i].grad().defined());
        continue;
      }
      CHECK(params[i].grad().same_storage(grads[i]));
      Tensor want = (grad_of(0, i, params[i]) + grad_of(1, i, params[i])) * 0.5;
      CHECK(bitwise_equal(params[i].grad(), want));
    }
  }
}

TEST_CASE("mpi: average_gradients throws on every rank when ranks disagree") {
  std::vector<Tensor> params = {zeros({3}), zeros({2, 2}), zeros({5}), zeros({1})};
  for (size_t i = 0; i < params.size(); ++i) {
    params[i].set_requires_grad();
    if (!(comm().rank() == 1 && i == 2))
      params[i].set_grad(full(params[i].shape(), comm().rank() + 1));
  }
  std::string msg = message_of([&] { dist::average_gradients(params, comm()); });
  INFO(msg);
  CHECK(msg.find("parameter 2 of shape (5,) has a gradient on some ranks and none on others") !=
        std::string::npos);
  CHECK(bitwise_equal(params[0].grad(), full({3}, comm().rank() + 1)));  // nothing averaged

  std::vector<Tensor> fewer(params.begin(), params.begin() + (comm().rank() == 1 ? 3 : 4));
  CHECK(message_of([&] { dist::average_gradients(fewer, comm()); }) ==
        "average_gradients: ranks pass different numbers of parameters (3 to 4)");

  std::vector<Tensor> sized = {zeros({comm().rank() + 1}).set_requires_grad()};
  sized[0].set_grad(ones(sized[0].shape()));
  CHECK(message_of([&] {
          dist::average_gradients(sized, comm());
        }).find("has different sizes on different ranks (1 to 2 elements)") != std::string::npos);

  Tensor after = rank_tensor(comm().rank(), 5, DType::i64);  // still in step
  comm().all_reduce(after, RedOp::max);
  CHECK(
      bitwise_equal(after, maximum(rank_tensor(0, 5, DType::i64), rank_tensor(1, 5, DType::i64))));
}

TEST_CASE("mpi: an SGD step on half batches equals one process on the whole batch") {
  const int64_t batch = 8, half = batch / 2;
  manual_seed(7);                              // the same data on every rank
  const Tensor x = randn({batch, 28, 28, 1});  // (N, H, W, C)
  const Tensor y = randint(0, 10, {batch});    // (N)

  manual_seed(uint64_t(200 + comm().rank()));
  auto model = models::create_model("small_cnn", {10});
  model->eval();  // BatchNorm on running statistics, equal on every rank and batch split
  dist::broadcast_module(*model, comm());
  auto ref = models::create_model("small_cnn", {10});
  CHECK(ref->load_state_dict(model->state_dict()).ok());
  ref->eval();

  optim::SGDOptions o;
  o.lr = 0.1;
  o.momentum = 0.9;
  optim::SGD opt(model->parameters(), o), ref_opt(ref->parameters(), o);

  const int64_t begin = comm().rank() * half;
  cross_entropy((*model)(x.slice(begin, begin + half)), y.slice(begin, begin + half)).backward();
  std::vector<Tensor> params = model->parameters(), ref_params = ref->parameters();
  std::vector<Tensor> local;
  for (const Tensor& p : params) local.push_back(p.grad().clone());
  dist::average_gradients(params, comm());
  cross_entropy((*ref)(x), y).backward();

  int local_differs = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    INFO("parameter ", i, " ", shape_str(params[i].shape()));
    CHECK(close(params[i].grad(), ref_params[i].grad()));
    local_differs += !close(local[i], ref_params[i].grad());
  }
  CHECK(local_differs > int(params.size()) / 2);  // half a batch alone is told apart

  opt.step();
  ref_opt.step();
  for (size_t i = 0; i < params.size(); ++i) {
    INFO("parameter ", i, " ", shape_str(params[i].shape()));
    CHECK(close(params[i], ref_params[i]));
    CHECK(same_on_all_ranks(params[i]));
  }
}

int main(int argc, char** argv) {
  auto group = dist::world();
  if (group->world_size() != 2) {
    std::fprintf(stderr,
                 "whet_mpi_tests: run under an MPI launcher with 2 ranks "
                 "(mpiexec -n 2 whet_mpi_tests); this is a group of %d\n",
                 group->world_size());
    return 1;
  }
  doctest::Context context(argc, argv);
  const int failed = context.run() != 0 || context.shouldExit();
  // Every rank fails when one does, whichever rank the launcher reports.
  Tensor any = Tensor::from_vector<int64_t>({failed}, {1});
  group->all_reduce(any, RedOp::max);
  return any.item() != 0 ? 1 : 0;
}
