#include "kernels/cpu/block_cache.h"

#include <cstdlib>
#include <map>
#include <mutex>

namespace whet::cpu {

namespace {
// What may stay cached: enough for a large model's activations, gradients and temporaries of
// a few steps; beyond it, frees go back to the system.
constexpr size_t kMaxKeptBytes = size_t(4) << 30;

struct State {
  std::mutex mutex;
  std::multimap<size_t, void*> free;  // by size
  size_t kept = 0;
};
State& state() {
  static State* s = new State;  // never destroyed: tensors may be freed during static exit
  return *s;
}
}  // namespace

BlockCache& BlockCache::host() {
  static BlockCache cache;
  return cache;
}

void* BlockCache::take(size_t nbytes) {
  if (nbytes < kMinBytes) return nullptr;
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  auto it = s.free.find(nbytes);
  if (it == s.free.end()) return nullptr;
  void* p = it->second;
  s.free.erase(it);
  s.kept -= nbytes;
  return p;
}

bool BlockCache::keep(void* p, size_t nbytes) {
  if (nbytes < kMinBytes) return false;
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (s.kept + nbytes > kMaxKeptBytes) return false;
  s.free.emplace(nbytes, p);
  s.kept += nbytes;
  return true;
}

void BlockCache::release_all() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  for (auto& kv : s.free) std::free(kv.second);
  s.free.clear();
  s.kept = 0;
}

size_t BlockCache::kept_bytes() const {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  return s.kept;
}

}  // namespace whet::cpu
