// What every Communicator shares: the argument checks, and reading the MPI launcher's
// environment (without starting MPI).
#include "dist/communicator.h"

#include <algorithm>
#include <cerrno>
#include <initializer_list>
#include <string>
#include <cstdlib>

#include "dist/detail.h"

namespace whet::dist {
namespace detail {

namespace {
// The first of `vars` that holds an int >= least, or -1.
int first_int(std::initializer_list<const char*> vars, long least) {
  for (const char* var : vars) {
    const char* s = std::getenv(var);
    if (!s || !*s) continue;
    char* end = nullptr;
    errno = 0;
    long n = std::strtol(s, &end, 10);
    if (errno == 0 && *end == '\0' && n >= least && n <= INT_MAX) return int(n);
  }
  return -1;
}
}  // namespace

int launcher_world_size() {
  return std::max(0, first_int({"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MV2_COMM_WORLD_SIZE"}, 1));
}

void check_collective_arg(const Tensor& t, const char* op) {
  WHET_CHECK(t.defined(), op, ": undefined tensor");
  const DType dt = t.dtype();
  WHET_CHECK(dt == DType::f32 || dt == DType::f64 || dt == DType::i64, op, ": dtype ",
             dtype_name(dt), " is not supported (float32, float64 and int64 only)");
}

}  // namespace detail

bool launched_by_mpi() { return detail::launcher_world_size() > 1; }

int local_ranks() {
  const int n = detail::first_int(
      {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "MV2_COMM_WORLD_LOCAL_SIZE"}, 1);
  return n > 0 ? n : 1;
}

std::string rank_label() {
  if (!launched_by_mpi()) return "";
  const int r = detail::first_int({"OMPI_COMM_WORLD_RANK", "PMI_RANK", "MV2_COMM_WORLD_RANK"}, 0);
  return " (rank " + (r >= 0 ? std::to_string(r) : std::string("?")) + " of " +
         std::to_string(detail::launcher_world_size()) + ")";
}

int local_rank() {
  const int r = detail::first_int(
      {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "MV2_COMM_WORLD_LOCAL_RANK"}, 0);
  return r >= 0 ? r : 0;
}

}  // namespace whet::dist
