// A restricted pickle machine: exactly what a torch.save'd tensor state dict needs, and
// nothing that runs code. Python's pickle executes any callable a file names; this machine
// knows a fixed list of globals (collections.OrderedDict, torch._utils._rebuild_tensor_v2 and
// _rebuild_parameter, the typed torch storages) and gives each a fixed meaning, so a file can
// build dicts, lists, tuples, numbers, strings and tensors, and every other global or opcode
// ends in a whet::Error naming it.
//
// Opcodes: those of protocol 2 that torch.save emits (plus the protocol 4/5 framing and
// memoisation ops, so pickle_protocol=4 files load too). Tensors are made by a caller-given
// builder (io/pth.cpp, which knows the zip archive holding the storages).
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace whet::io::pickle {

enum class Kind : uint8_t {
  none,
  boolean,
  integer,
  floating,
  string,
  global,
  tuple,
  list,
  dict,
  storage,
  tensor
};
const char* kind_name(Kind k);

// The whitelisted globals.
enum class Global : uint8_t { ordered_dict, rebuild_tensor_v2, rebuild_parameter, storage_type };

struct Object;

// A stack value: scalars inline, everything else an Object owned by the Unpickled arena.
// Plain pointers make the memo share objects as Python does (a dict filled after it was
// memoised is the same dict everywhere) and make freeing any nesting depth non-recursive.
struct Value {
  Kind kind = Kind::none;
  int64_t i = 0;  // boolean, integer
  double f = 0;   // floating
  Object* o = nullptr;
};

// persistent_load's ('storage', storage_type, key, location, numel): the zip entry
// data/<key> holds `numel` elements of `dtype`.
struct StorageRef {
  DType dtype = DType::u8;
  std::string type_name;  // "torch.FloatStorage", for messages
  std::string key, location;
  int64_t numel = 0;
};

struct Object {
  Kind kind = Kind::none;
  std::string text;                               // string; global: "module.name"
  std::vector<Value> items;                       // tuple, list
  std::vector<std::pair<Value, Value>> entries;   // dict, in insertion order
  std::unordered_map<std::string, size_t> index;  // dict: key -> position in entries
  bool ordered = false;                           // dict made by collections.OrderedDict
  Global global = Global::ordered_dict;
  DType storage_dtype = DType::u8;  // global storage_type
  StorageRef storage;
  Tensor tensor;
};

struct Unpickled {
  Value root;
  std::vector<std::unique_ptr<Object>> arena;
};

// Makes the tensor _rebuild_tensor_v2(storage, storage_offset, size, stride, ...) describes.
// Sizes and strides arrive as integers of equal count, nothing more checked.
using TensorBuilder =
    std::function<Tensor(const StorageRef& storage, int64_t storage_offset,
                         const std::vector<int64_t>& size, const std::vector<int64_t>& stride)>;

// Runs the pickle in [data, data + n). Errors: "`source` byte N: <what is wrong>".
Unpickled unpickle(const uint8_t* data, size_t n, const TensorBuilder& build,
                   const std::string& source);

// A dict's value for a string key, or nullptr (also when `dict` is not a dict).
const Value* dict_get(const Value& dict, const std::string& key);
// For messages: "int", "str 'epoch'", "dict of 3 entries", "tensor float32 (4, 3)", ...
std::string describe(const Value& v);

}  // namespace whet::io::pickle
