// The MPI process group: MPI_COMM_WORLD, duplicated so whet's collectives never mix with an
// embedding program's own messages. MPI starts on first use (MPI_THREAD_FUNNELED: only the
// main thread calls MPI; OpenMP workers never do) and finalizes at process exit, unless the
// program had started it itself. CUDA tensors travel through a host copy.
#include <mpi.h>

#include <algorithm>
#include <cstdio>

#include "dist/communicator.h"
#include "dist/detail.h"

namespace whet::dist {
namespace {

std::string mpi_error_string(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(code, text, &len) != MPI_SUCCESS) return "MPI error " + std::to_string(code);
  return std::string(text, size_t(len));
}

[[noreturn]] void throw_mpi(int code, const char* expr, const char* file, int line) {
  WHET_FAIL("MPI error: ", mpi_error_string(code), "\n  in ", expr, "\n  at ", file, ":", line);
}

// As WHET_CUDA_CHECK (kernels/cuda/check.cuh): throws naming the status, the call and the place.
#define WHET_MPI_CHECK(expr)                                                                     \
  do {                                                                                           \
    int whet_mpi_status_ = (expr);                                                               \
    if (whet_mpi_status_ != MPI_SUCCESS) throw_mpi(whet_mpi_status_, #expr, __FILE__, __LINE__); \
  } while (0)

// Owns MPI's lifetime when whet started it: a function-local static, built before the
// communicators that use MPI and therefore destroyed after them, at exit.
class MpiRuntime {
 public:
  static void ensure_started() {
    static MpiRuntime runtime;
    int level = 0;
    WHET_MPI_CHECK(MPI_Query_thread(&level));
    WHET_CHECK(level >= MPI_THREAD_FUNNELED, "MPI runs at thread level ", level,
               "; whet needs MPI_THREAD_FUNNELED or above");
  }
  MpiRuntime(const MpiRuntime&) = delete;
  MpiRuntime& operator=(const MpiRuntime&) = delete;

 private:
  MpiRuntime() {
    int initialized = 0;
    WHET_MPI_CHECK(MPI_Initialized(&initialized));
    if (initialized) return;
    int provided = 0;
    WHET_MPI_CHECK(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided));
    owned_ = true;
  }
  ~MpiRuntime() {
    int finalized = 1;
    if (!owned_ || MPI_Finalized(&finalized) != MPI_SUCCESS || finalized) return;
    int status = MPI_Finalize();
    if (status != MPI_SUCCESS)
      std::fprintf(stderr, "whet: MPI_Finalize failed: %s\n", mpi_error_string(status).c_str());
  }
  bool owned_ = false;
};

MPI_Datatype mpi_type(DType dt) {
  switch (dt) {
    case DType::f32:
      return MPI_FLOAT;
    case DType::f64:
      return MPI_DOUBLE;
    case DType::i64:
      return MPI_INT64_T;
    default:
      break;
  }
  WHET_FAIL("MPI: no datatype for ", dtype_name(dt));  // check_collective_arg refused it first
}

MPI_Op mpi_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::sum:
      return MPI_SUM;
    case ReduceOp::max:
      return MPI_MAX;
    case ReduceOp::min:
      return MPI_MIN;
  }
  WHET_FAIL("MPI: unknown reduce op");
}

class MpiCommunicator final : public Communicator {
 public:
  explicit MpiCommunicator(int64_t max_chunk_elements) : max_chunk_(max_chunk_elements) {
    WHET_CHECK(max_chunk_ > 0 && max_chunk_ <= INT_MAX, "MPI communicator: chunk of ", max_chunk_,
               " elements (1 to INT_MAX)");
    MpiRuntime::ensure_started();
    WHET_MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &comm_));
    // Errors come back as status codes, which WHET_MPI_CHECK turns into whet::Error, instead
    // of MPI's default of aborting the job.
    WHET_MPI_CHECK(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN));
    WHET_MPI_CHECK(MPI_Comm_rank(comm_, &rank_));
    WHET_MPI_CHECK(MPI_Comm_size(comm_, &size_));
    // A launcher from another MPI than the one whet links leaves each process a world of
    // one: every rank would then train alone and write the same files.
    const int announced = detail::launcher_world_size();
    WHET_CHECK(announced == 0 || announced == size_, "MPI: the launcher started ", announced,
               " ranks but MPI_COMM_WORLD holds ", size_, " (is mpirun from the MPI whet was "
               "built with?)");
  }
  ~MpiCommunicator() override {
    int finalized = 1;
    if (MPI_Finalized(&finalized) == MPI_SUCCESS && !finalized) MPI_Comm_free(&comm_);
  }
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;

  int rank() const override { return rank_; }
  int world_size() const override { return size_; }
  std::string backend() const override { return "mpi"; }

  void all_reduce(Tensor& t, ReduceOp op) override {
    detail::check_collective_arg(t, "all_reduce");
    const MPI_Datatype type = mpi_type(t.dtype());
    on_host(t, true, true, [&](char* p, int count) {
      WHET_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, p, count, type, mpi_op(op), comm_));
    });
  }

  void broadcast(Tensor& t, int root) override {
    detail::check_collective_arg(t, "broadcast");
    WHET_CHECK(root >= 0 && root < size_, "broadcast: root ", root, " is not a rank of a group of ",
               size_);
    const MPI_Datatype type = mpi_type(t.dtype());
    on_host(t, rank_ == root, rank_ != root,
            [&](char* p, int count) { WHET_MPI_CHECK(MPI_Bcast(p, count, type, root, comm_)); });
  }

  void barrier() override { WHET_MPI_CHECK(MPI_Barrier(comm_)); }

 private:
  // Runs f(pointer, count) over t's host memory in chunks of at most max_chunk_ elements.
  // A CUDA tensor goes through a host copy: filled from t when the collective reads this
  // rank's values, copied back when it writes them.
  template <class F>
  void on_host(Tensor& t, bool read, bool write, F&& f) const {
    if (t.numel() == 0) return;
    Tensor dst = t.detach();  // writable whatever autograd thinks of t (a parameter)
    Tensor host = dst.device().is_cpu()
                      ? dst
                      : (read ? dst.to(Device::cpu()) : Tensor::empty(dst.shape(), dst.dtype()));
    char* p = static_cast<char*>(host.raw_data());
    const int64_t n = host.numel();
    const size_t item = dtype_size(host.dtype());
    for (int64_t begin = 0; begin < n; begin += max_chunk_) {
      const int64_t count = std::min(max_chunk_, n - begin);
      f(p + size_t(begin) * item, int(count));
    }
    if (write && !dst.device().is_cpu()) dst.copy_(host);
  }

  int64_t max_chunk_;
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
};

}  // namespace

namespace detail {
std::shared_ptr<Communicator> make_mpi_communicator(int64_t max_chunk_elements) {
  return std::make_shared<MpiCommunicator>(max_chunk_elements);
}
}  // namespace detail

std::shared_ptr<Communicator> world() {
  static const std::shared_ptr<Communicator> group =
      launched_by_mpi() ? detail::make_mpi_communicator() : single_process();
  return group;
}

void abort_peers(int exit_code) {
  int initialized = 0, finalized = 1, size = 1;
  if (MPI_Initialized(&initialized) != MPI_SUCCESS || !initialized) return;
  if (MPI_Finalized(&finalized) != MPI_SUCCESS || finalized) return;
  if (MPI_Comm_size(MPI_COMM_WORLD, &size) != MPI_SUCCESS || size <= 1) return;
  MPI_Abort(MPI_COMM_WORLD, exit_code);
}

}  // namespace whet::dist
