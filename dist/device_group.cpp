// dist::device_group: NCCL for a CUDA device where whet was built with it, else the host group.
#include "dist/communicator.h"
#include "dist/detail.h"

namespace whet::dist {

std::shared_ptr<Communicator> device_group(std::shared_ptr<Communicator> host, Device device) {
#ifdef WHET_WITH_NCCL
  if (device.is_cuda() && host->world_size() > 1)
    return detail::make_nccl_communicator(std::move(host), device);
#else
  (void)device;
#endif
  return host;
}

}  // namespace whet::dist
