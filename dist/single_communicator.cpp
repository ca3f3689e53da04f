// The group of one: every collective is an identity, after the same argument checks as MPI's.
#include "dist/communicator.h"
#include "dist/detail.h"

namespace whet::dist {
namespace {

class SingleCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  std::string backend() const override { return "single"; }
  void all_reduce(Tensor& t, ReduceOp) override { detail::check_collective_arg(t, "all_reduce"); }
  void broadcast(Tensor& t, int root) override {
    detail::check_collective_arg(t, "broadcast");
    WHET_CHECK(root == 0, "broadcast: root ", root, " is not a rank of a group of 1");
  }
  void barrier() override {}
};

}  // namespace

std::shared_ptr<Communicator> single_process() {
  static const auto single = std::make_shared<SingleCommunicator>();
  return single;
}

}  // namespace whet::dist
