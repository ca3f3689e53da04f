// dist/nccl_communicator.cpp on the one GPU of the test machine: an NCCL group of one rank
// runs every collective through NCCL (a sum over one rank is the identity), so the calls,
// datatypes, in-place pointers and streams are exercised; several ranks need several GPUs.
#include "tests/gpu/gpu_test_util.h"

#ifdef WHET_WITH_NCCL
#include "core/ops.h"
#include "dist/communicator.h"
#include "dist/detail.h"

using namespace whet;
using namespace whet::gputest;

TEST_CASE("nccl: a group of one reduces and broadcasts CUDA tensors in place, on its stream") {
  auto comm = dist::detail::make_nccl_communicator(dist::single_process(), dev());
  CHECK(comm->backend() == "nccl+single");
  CHECK(comm->world_size() == 1);
  for (DType dt : {DType::f32, DType::f64, DType::i64}) {
    CAPTURE(dtype_name(dt));
    const Tensor host = dt == DType::i64 ? randint_cpu({4099}, dt, -50, 50, 3)
                                         : uniform_cpu({4099}, dt, -2, 2, 3);
    const std::vector<double> want = values(host);
    for (dist::ReduceOp op : {dist::ReduceOp::sum, dist::ReduceOp::max, dist::ReduceOp::min}) {
      Tensor t = to_gpu(host);
      comm->all_reduce(t, op);
      CHECK(mismatch(values(t), want, {0, 0}) == "");
    }
    Tensor t = to_gpu(host);
    comm->broadcast(t, 0);
    CHECK(mismatch(values(t), want, {0, 0}) == "");
  }
  // Host tensors go to the host group; a parameter (requires grad) is reduced in place too.
  Tensor on_host = ones({3});
  comm->all_reduce(on_host);
  CHECK(values(on_host) == std::vector<double>{1, 1, 1});
  Tensor param = ones({5}).to(dev()).set_requires_grad();
  comm->all_reduce(param);
  CHECK(values(param) == std::vector<double>(5, 1.0));
  comm->barrier();
  Tensor half = ones({2}, DType::f16).to(dev());
  CHECK_THROWS_WITH_AS(comm->all_reduce(half), doctest::Contains("not supported"), Error);
  CHECK_THROWS_WITH_AS(comm->broadcast(param, 1), doctest::Contains("root 1"), Error);
}

TEST_CASE("nccl: device_group keeps the host group for one rank or a CPU device") {
  auto host = dist::single_process();
  CHECK(dist::device_group(host, dev()) == host);
  CHECK(dist::device_group(host, Device::cpu()) == host);
}
#endif
