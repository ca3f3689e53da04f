// Linked instead of mpi_communicator.cpp when whet is built without MPI: the world is one
// process, and a run that mpirun started among several ranks stops rather than having each
// rank train alone.
#include "dist/communicator.h"
#include "dist/detail.h"

namespace whet::dist {

std::shared_ptr<Communicator> world() {
  const int n = detail::launcher_world_size();
  WHET_CHECK(n <= 1,
             "this whet was built without MPI (install libopenmpi-dev and rebuild); started by "
             "mpirun with ",
             n, " ranks");
  return single_process();
}

void abort_peers(int) {}

}  // namespace whet::dist
