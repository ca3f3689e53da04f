#include "io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace whet::io {

namespace {
// Closes the descriptor on every path out of open(): the mapping does not need it.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};
}  // namespace

std::shared_ptr<MappedFile> MappedFile::open(const std::string& path) {
  Fd f;
  do {
    f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  } while (f.fd < 0 && errno == EINTR);
  WHET_CHECK(f.fd >= 0, path, ": cannot open: ", std::strerror(errno));
  struct stat st;
  WHET_CHECK(::fstat(f.fd, &st) == 0, path, ": cannot stat: ", std::strerror(errno));
  WHET_CHECK(S_ISREG(st.st_mode), path, ": not a regular file");
  size_t size = size_t(st.st_size);
  if (size == 0) return std::shared_ptr<MappedFile>(new MappedFile(path, nullptr, 0));
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, f.fd, 0);
  WHET_CHECK(p != MAP_FAILED, path, ": cannot map ", size, " bytes: ", std::strerror(errno));
  return std::shared_ptr<MappedFile>(new MappedFile(path, static_cast<uint8_t*>(p), size));
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(data_, size_);
}

}  // namespace whet::io
