#include "io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>

#include "core/error.h"

namespace whet::io {

namespace {
std::string dir_of(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}
std::string base_of(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}
}  // namespace

AtomicFileWriter::AtomicFileWriter(std::string path, std::string op)
    : path_(std::move(path)), op_(std::move(op)) {
  WHET_CHECK(!path_.empty() && path_.back() != '/', op_, ": ", path_, ": not a file path");
  // A hidden name in the same directory, so globs over the directory do not pick it up.
  std::random_device rd;
  std::string stem = dir_of(path_) + "/." + base_of(path_) + ".tmp." + std::to_string(getpid());
  for (int attempt = 0; fd_ < 0; ++attempt) {
    char suffix[16];
    std::snprintf(suffix, sizeof suffix, ".%08x", unsigned(rd()));
    tmp_ = stem + suffix;
    // 0666 less the umask: the permissions an ordinary create would give the target.
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd_ < 0 && !(errno == EEXIST && attempt < 100) && errno != EINTR) {
      int err = errno;
      tmp_.clear();  // nothing was created
      fail("cannot create a temporary file in " + dir_of(path_), err);
    }
  }
}

AtomicFileWriter::~AtomicFileWriter() {
  if (!committed_) discard();
}

void AtomicFileWriter::discard() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!tmp_.empty()) ::unlink(tmp_.c_str());
  tmp_.clear();
}

void AtomicFileWriter::fail(const std::string& what, int err) {
  discard();
  WHET_FAIL(op_, ": ", path_, ": ", what, ": ", std::strerror(err));
}

void AtomicFileWriter::write(const void* data, size_t n) {
  WHET_CHECK(fd_ >= 0 && !committed_, op_, ": ", path_, ": write after commit or failure");
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    // Linux moves at most ~2 GiB per call; short writes and EINTR just continue.
    ssize_t w = ::write(fd_, p, std::min<size_t>(n, size_t(1) << 30));
    if (w < 0) {
      if (errno == EINTR) continue;
      fail("write failed", errno);
    }
    p += w;
    n -= size_t(w);
  }
}

void AtomicFileWriter::commit() {
  WHET_CHECK(fd_ >= 0 && !committed_, op_, ": ", path_, ": commit after commit or failure");
  if (::fsync(fd_) != 0) fail("fsync failed", errno);
  int fd = fd_;
  fd_ = -1;
  // close can report a deferred write error (NFS, quota): the data would be incomplete.
  if (::close(fd) != 0) fail("close failed", errno);
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) fail("cannot rename the temporary file", errno);
  committed_ = true;
  tmp_.clear();
  // Best effort: the file is already complete under its name either way.
  int dir = ::open(dir_of(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    (void)::fsync(dir);
    ::close(dir);
  }
}

}  // namespace whet::io
