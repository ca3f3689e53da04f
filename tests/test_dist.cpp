// dist/ without MPI: the group of one, reading the launcher's environment, and the
// data-parallel helpers over a group of one and over a simulated group of two (the
// multi-process tests are tests/mpi/, run under mpirun).
#include <doctest/doctest.h>

#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "core/ops.h"
#include "dist/data_parallel.h"
#include "models/registry.h"

using namespace whet;
using dist::Communicator;
using RedOp = dist::ReduceOp;  // whet::ReduceOp names the tensor reductions

namespace {

bool bitwise_equal(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  Tensor ha = a.to(Device::cpu()), hb = b.to(Device::cpu());
  return std::memcmp(ha.raw_data(), hb.raw_data(), ha.nbytes()) == 0;
}

// Sets an environment variable for a scope and restores what was there.
class EnvVar {
 public:
  EnvVar(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    value ? setenv(name, value, 1) : unsetenv(name);
  }
  ~EnvVar() { old_ ? setenv(name_, old_->c_str(), 1) : unsetenv(name_); }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// A simulated rank 0 of two whose peer always holds the same values: a sum doubles, max and
// min change nothing. Records each all-reduce's dtype and size.
class MirroredPair final : public Communicator {
 public:
  struct Call {
    DType dtype;
    int64_t numel;
  };
  std::vector<Call> calls;

  int rank() const override { return 0; }
  int world_size() const override { return 2; }
  std::string backend() const override { return "mirrored"; }
  void all_reduce(Tensor& t, RedOp op) override {
    calls.push_back({t.dtype(), t.numel()});
    if (op == RedOp::sum) t.copy_(t * 2.0);
  }
  void broadcast(Tensor&, int) override {}
  void barrier() override {}
};

}  // namespace

TEST_CASE("dist: single_process is a group of one whose collectives are identities") {
  auto comm = dist::single_process();
  CHECK(comm->rank() == 0);
  CHECK(comm->world_size() == 1);
  CHECK(comm->backend() == "single");
  CHECK(dist::single_process() == comm);
  for (DType dt : {DType::f32, DType::f64, DType::i64}) {
    Tensor t = arange(-3, 4, 1, dt).reshape({7});
    Tensor before = t.clone();
    for (RedOp op : {RedOp::sum, RedOp::max, RedOp::min}) comm->all_reduce(t, op);
    comm->broadcast(t, 0);
    comm->barrier();
    CHECK(bitwise_equal(t, before));
  }
}

TEST_CASE("dist: single_process checks its arguments as MPI does") {
  auto comm = dist::single_process();
  Tensor undefined;
  CHECK_THROWS_AS(comm->all_reduce(undefined), Error);
  Tensor half = zeros({3}, DType::f16);
  CHECK_THROWS_WITH_AS(comm->all_reduce(half),
                       "all_reduce: dtype float16 is not supported (float32, float64 and int64 "
                       "only)",
                       Error);
  Tensor i32 = zeros({3}, DType::i32);
  CHECK_THROWS_AS(comm->broadcast(i32, 0), Error);
  Tensor f = zeros({3});
  CHECK_THROWS_WITH_AS(comm->broadcast(f, 1), "broadcast: root 1 is not a rank of a group of 1",
                       Error);
}

TEST_CASE("dist: launched_by_mpi reads the launcher's environment") {
  EnvVar ompi("OMPI_COMM_WORLD_SIZE", nullptr), pmi("PMI_SIZE", nullptr),
      mv2("MV2_COMM_WORLD_SIZE", nullptr);
  CHECK_FALSE(dist::launched_by_mpi());
  {
    EnvVar v("OMPI_COMM_WORLD_SIZE", "2");
    CHECK(dist::launched_by_mpi());
  }
  {
    EnvVar v("OMPI_COMM_WORLD_SIZE", "1");  // mpirun -np 1: nothing to talk to
    CHECK_FALSE(dist::launched_by_mpi());
  }
  {
    EnvVar v("OMPI_COMM_WORLD_SIZE", "2x");
    CHECK_FALSE(dist::launched_by_mpi());
  }
  {
    EnvVar v("PMI_SIZE", "4");
    CHECK(dist::launched_by_mpi());
  }
  {
    EnvVar v("MV2_COMM_WORLD_SIZE", "3");
    CHECK(dist::launched_by_mpi());
  }
  CHECK_FALSE(dist::launched_by_mpi());
}

TEST_CASE("dist: local_ranks and local_rank read the launcher's environment") {
  EnvVar size("OMPI_COMM_WORLD_LOCAL_SIZE", nullptr), rank("OMPI_COMM_WORLD_LOCAL_RANK", nullptr),
      mpich_size("MPI_LOCALNRANKS", nullptr), mpich_rank("MPI_LOCALRANKID", nullptr),
      mv2_size("MV2_COMM_WORLD_LOCAL_SIZE", nullptr), mv2_rank("MV2_COMM_WORLD_LOCAL_RANK", nullptr);
  CHECK(dist::local_ranks() == 1);  // not said: alone on the machine
  CHECK(dist::local_rank() == 0);
  {
    EnvVar s("OMPI_COMM_WORLD_LOCAL_SIZE", "4"), r("OMPI_COMM_WORLD_LOCAL_RANK", "0");
    CHECK(dist::local_ranks() == 4);
    CHECK(dist::local_rank() == 0);  // rank 0 is a rank, not "unset"
  }
  {
    EnvVar s("MPI_LOCALNRANKS", "2"), r("MPI_LOCALRANKID", "1");
    CHECK(dist::local_ranks() == 2);
    CHECK(dist::local_rank() == 1);
  }
  {
    EnvVar s("OMPI_COMM_WORLD_LOCAL_SIZE", "0"), r("OMPI_COMM_WORLD_LOCAL_RANK", "-1");
    CHECK(dist::local_ranks() == 1);  // nonsense values are not believed
    CHECK(dist::local_rank() == 0);
  }
}

TEST_CASE("dist: world is the group of one outside mpirun") {
  if (dist::launched_by_mpi()) return;  // the suite itself was started by mpirun
  auto comm = dist::world();
  CHECK(comm->backend() == "single");
  CHECK(dist::world() == comm);
}

#if !defined(WHET_WITH_MPI)
TEST_CASE("dist: a build without MPI refuses to run under mpirun") {
  EnvVar v("OMPI_COMM_WORLD_SIZE", "2");
  CHECK_THROWS_WITH_AS(dist::world(),
                       "this whet was built without MPI (install libopenmpi-dev and rebuild); "
                       "started by mpirun with 2 ranks",
                       Error);
}
#endif

TEST_CASE("dist: with one rank, broadcast_module and average_gradients change nothing") {
  auto model = models::create_model("small_cnn", {10});
  std::vector<Tensor> params = model->parameters();
  std::vector<Tensor> grads, before;
  for (size_t i = 0; i < params.size(); ++i) {
    if (i % 3 == 2) continue;  // some parameters without a gradient
    params[i].set_grad(randn(params[i].shape()));
  }
  for (const Tensor& p : params) {
    grads.push_back(p.grad());
    before.push_back(p.grad().defined() ? p.grad().clone() : Tensor());
  }
  nn::NamedTensors state_before;
  for (const auto& [name, t] : model->state_dict()) state_before.push_back({name, t.clone()});

  dist::broadcast_module(*model, *dist::single_process());
  dist::average_gradients(params, *dist::single_process(), 64);

  for (size_t i = 0; i < params.size(); ++i) {
    INFO("parameter ", i);
    CHECK(params[i].grad().defined() == before[i].defined());
    if (!before[i].defined()) continue;
    CHECK(params[i].grad().same_storage(grads[i]));
    CHECK(bitwise_equal(params[i].grad(), before[i]));
  }
  nn::NamedTensors state = model->state_dict();
  for (size_t i = 0; i < state.size(); ++i)
    CHECK(bitwise_equal(state[i].second, state_before[i].second));
}

TEST_CASE("dist: average_gradients scales by 1/world, in buckets per dtype of bounded size") {
  // Two ranks holding equal gradients: the mean is the gradient itself, exactly. Forgetting to
  // scale, or reducing a gradient twice, doubles it.
  std::vector<Tensor> params = {zeros({10}),  zeros({3}, DType::f64), zeros({20}),
                                zeros({4}),   zeros({6}, DType::f16), zeros({5}),
                                zeros({2, 5})};
  std::vector<Tensor> want;
  for (size_t i = 0; i < params.size(); ++i) {
    params[i].set_requires_grad();
    if (i == 5) {  // no gradient on any rank: skipped
      want.push_back(Tensor());
      continue;
    }
    Tensor g = (arange(0, double(params[i].numel()), 1, DType::f32) * 0.75 - double(i))
                   .reshape(params[i].shape())
                   .to(params[i].dtype());
    params[i].set_grad(g);
    want.push_back(g.clone());
  }
  MirroredPair comm;
  dist::average_gradients(params, comm, 64);  // 16 float32 elements per bucket

  for (size_t i = 0; i < params.size(); ++i) {
    INFO("parameter ", i);
    CHECK(params[i].grad().defined() == want[i].defined());
    if (want[i].defined()) CHECK(bitwise_equal(params[i].grad(), want[i]));
  }
  // Two agreement checks (the parameter count, then one entry per parameter as max and -min),
  // then the buckets as they were opened, in parameter order: float32 {10} (10 + 20 would
  // not fit), float64 {3}, float32 {20} alone (larger than a bucket), float32 {4, 10}, and the
  // float16 {6} reduced in float32.
  std::vector<std::pair<DType, int64_t>> got,
      expected = {{DType::i64, 2},  {DType::i64, 14}, {DType::f32, 10}, {DType::f64, 3},
                  {DType::f32, 20}, {DType::f32, 14}, {DType::f32, 6}};
  for (const auto& c : comm.calls) got.push_back({c.dtype, c.numel});
  CHECK(got == expected);
}
