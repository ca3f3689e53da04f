// The NCCL group: CUDA tensors are reduced and broadcast by NCCL between the GPUs of the
// ranks, on each device's whet stream (kernels/cuda/context.cuh), so a gradient all-reduce
// is ordered after the backward kernels that wrote it and before the optimizer kernels that
// read it, without a host synchronisation. Everything else (host tensors, barriers) goes
// through the process group it was made from (MPI), which also carries NCCL's bootstrap id.
// Built where whet has CUDA and NCCL (CMakeLists.txt).
#include <cstring>

#include "dist/communicator.h"
#include "dist/detail.h"
#include "kernels/cuda/context.cuh"
#include "kernels/cuda/nccl_check.cuh"

namespace whet::dist {
namespace {

ncclDataType_t nccl_type(DType dt) {
  switch (dt) {
    case DType::f32:
      return ncclFloat32;
    case DType::f64:
      return ncclFloat64;
    case DType::i64:
      return ncclInt64;
    default:
      break;
  }
  WHET_FAIL("NCCL: no datatype for ", dtype_name(dt));  // check_collective_arg refused it first
}

ncclRedOp_t nccl_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::sum:
      return ncclSum;
    case ReduceOp::max:
      return ncclMax;
    case ReduceOp::min:
      return ncclMin;
  }
  WHET_FAIL("NCCL: unknown reduce op");
}

class NcclCommunicator final : public Communicator {
 public:
  // Collective over `host`: every rank calls it with its own device.
  NcclCommunicator(std::shared_ptr<Communicator> host, Device device)
      : host_(std::move(host)), device_(device.index) {
    WHET_CHECK(device.is_cuda(), "NCCL group: device ", device.str(), " is not a CUDA device");
    // Rank 0's id reaches the others through the host group, as 16 int64 words.
    static_assert(sizeof(ncclUniqueId) % sizeof(int64_t) == 0, "ncclUniqueId size");
    ncclUniqueId id{};
    if (host_->rank() == 0) WHET_NCCL_CHECK(ncclGetUniqueId(&id));
    Tensor words = Tensor::empty({int64_t(sizeof id / sizeof(int64_t))}, DType::i64);
    std::memcpy(words.raw_data(), &id, sizeof id);
    host_->broadcast(words, 0);
    std::memcpy(&id, words.raw_data(), sizeof id);
    cuda::DeviceGuard guard(device_);
    WHET_NCCL_CHECK(ncclCommInitRank(&comm_, host_->world_size(), id, host_->rank()));
  }
  ~NcclCommunicator() override {
    if (comm_) WHET_NCCL_WARN(ncclCommDestroy(comm_));
  }
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  int rank() const override { return host_->rank(); }
  int world_size() const override { return host_->world_size(); }
  std::string backend() const override { return "nccl+" + host_->backend(); }

  void all_reduce(Tensor& t, ReduceOp op) override {
    detail::check_collective_arg(t, "all_reduce");
    if (!on_device(t, "all_reduce")) return host_->all_reduce(t, op);
    if (t.numel() == 0) return;
    void* p = t.detach().raw_data();  // in place, whatever autograd thinks of t
    cuda::DeviceGuard guard(device_);
    WHET_NCCL_CHECK(ncclAllReduce(p, p, size_t(t.numel()), nccl_type(t.dtype()), nccl_op(op), comm_,
                                  stream()));
  }

  void broadcast(Tensor& t, int root) override {
    detail::check_collective_arg(t, "broadcast");
    WHET_CHECK(root >= 0 && root < world_size(), "broadcast: root ", root,
               " is not a rank of a group of ", world_size());
    if (!on_device(t, "broadcast")) return host_->broadcast(t, root);
    if (t.numel() == 0) return;
    void* p = t.detach().raw_data();
    cuda::DeviceGuard guard(device_);
    WHET_NCCL_CHECK(ncclBroadcast(p, p, size_t(t.numel()), nccl_type(t.dtype()), root, comm_,
                                  stream()));
  }

  void barrier() override {
    // Work already queued for NCCL finishes before the ranks meet, as torch.distributed's
    // barrier waits for the device.
    cuda::Context::get(device_).synchronize();
    host_->barrier();
  }

 private:
  // True for a tensor on this group's GPU; host tensors go to the host group; a tensor on
  // another GPU is a mistake that NCCL would turn into a hang or garbage.
  bool on_device(const Tensor& t, const char* op) const {
    if (!t.device().is_cuda()) return false;
    WHET_CHECK(t.device().index == device_, op, ": tensor on ", t.device().str(),
               ", but this rank's NCCL group is on cuda:", device_);
    return true;
  }
  cudaStream_t stream() const { return cuda::Context::get(device_).stream(); }

  std::shared_ptr<Communicator> host_;
  int device_;
  ncclComm_t comm_ = nullptr;
};

}  // namespace

namespace detail {
std::shared_ptr<Communicator> make_nccl_communicator(std::shared_ptr<Communicator> host,
                                                     Device device) {
  return std::make_shared<NcclCommunicator>(std::move(host), device);
}
}  // namespace detail

}  // namespace whet::dist
