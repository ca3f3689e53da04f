// torch.save's zip archive -> named tensors. The archive layout and storage conventions follow
// torch/serialization.py (_save, _load) and caffe2/serialize/inline_container.cc.
#include "io/pth.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <map>

#include "core/error.h"
#include "core/shape.h"
#include "io/mapped_file.h"
#include "io/unpickler.h"
#include "io/zip_reader.h"

namespace whet::io {

namespace {

using pickle::Kind;
using pickle::StorageRef;
using pickle::Value;

// PROTO 2, LONG1 of 10 bytes: the start of torch's legacy magic number 0x1950a86a20f9469cfc6c.
constexpr uint8_t kLegacyMagic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46};

bool is_legacy_pickle(const uint8_t* p, size_t n) {
  return n >= sizeof kLegacyMagic && std::memcmp(p, kLegacyMagic, sizeof kLegacyMagic) == 0;
}
bool is_tar(const uint8_t* p, size_t n) {
  return n >= 262 && std::memcmp(p + 257, "ustar", 5) == 0;
}

std::string hex_head(const uint8_t* p, size_t n) {
  std::string s;
  for (size_t i = 0; i < std::min<size_t>(n, 8); ++i) {
    s += "0123456789abcdef"[p[i] >> 4];
    s += "0123456789abcdef"[p[i] & 15];
    s += ' ';
  }
  return s.substr(0, s.size() - 1);
}

// A storage as tensors index it: little-endian, aligned for its dtype, bools 0 or 1.
struct LoadedStorage {
  StorageRef ref;
  std::shared_ptr<uint8_t> data;
  size_t nbytes = 0;
};

class StorageLoader {
 public:
  StorageLoader(const ZipReader& zip, std::string prefix, bool big_endian,
                const std::string& source)
      : zip_(zip), prefix_(std::move(prefix)), big_endian_(big_endian), source_(source) {}

  const LoadedStorage& get(const StorageRef& ref) {
    auto it = cache_.find(ref.key);
    if (it != cache_.end()) {
      const StorageRef& had = it->second.ref;
      WHET_CHECK(had.dtype == ref.dtype && had.numel == ref.numel, source_, ": storage '", ref.key,
                 "' is used both as ", had.numel, " ", dtype_name(had.dtype), " and as ", ref.numel,
                 " ", dtype_name(ref.dtype));
      return it->second;
    }
    const std::string name = prefix_ + "/data/" + ref.key;
    const ZipEntry* e = zip_.find(name);
    WHET_CHECK(e, source_, ": storage '", ref.key, "' has no entry ", name, " in the archive");
    size_t es = dtype_size(ref.dtype);
    WHET_CHECK(uint64_t(ref.numel) <= std::numeric_limits<uint64_t>::max() / es &&
                   uint64_t(ref.numel) * es == e->size,
               source_, ": storage '", ref.key, "' (", ref.type_name, " of ", ref.numel,
               " elements, ", es, " bytes each) does not match its entry ", name, " of ", e->size,
               " bytes");
    ZipBytes b = zip_.read(*e);
    LoadedStorage s{ref, b.data, b.size};
    const uint8_t* src = b.data.get();
    bool misaligned = reinterpret_cast<uintptr_t>(src) % es != 0;
    bool swap = big_endian_ && es > 1;
    bool dirty_bools = ref.dtype == DType::boolean &&
                       std::any_of(src, src + b.size, [](uint8_t v) { return v > 1; });
    if (misaligned || swap || dirty_bools) {
      s.data = std::static_pointer_cast<uint8_t>(allocate_storage(b.size, Device::cpu()).data);
      uint8_t* dst = s.data.get();
      if (swap) {
        for (size_t i = 0; i < b.size; i += es) std::reverse_copy(src + i, src + i + es, dst + i);
      } else if (dirty_bools) {
        for (size_t i = 0; i < b.size; ++i) dst[i] = src[i] != 0;
      } else {
        std::memcpy(dst, src, b.size);
      }
    }
    return cache_.emplace(ref.key, std::move(s)).first->second;
  }

 private:
  const ZipReader& zip_;
  std::string prefix_;
  bool big_endian_;
  const std::string& source_;
  std::map<std::string, LoadedStorage> cache_;
};

// _rebuild_tensor_v2's (storage, offset, size, stride) -> a contiguous whet tensor.
class TensorRebuilder {
 public:
  TensorRebuilder(StorageLoader& storages, uint64_t copy_budget, const std::string& source)
      : storages_(storages), copy_budget_(copy_budget), source_(source) {}

  Tensor operator()(const StorageRef& ref, int64_t offset, const std::vector<int64_t>& size,
                    const std::vector<int64_t>& stride) {
    const LoadedStorage& s = storages_.get(ref);
    auto what = [&] {
      return detail::cat(source_, ": tensor of size ", shape_str(size), ", stride ",
                         shape_str(stride), " at offset ", offset, " in storage '", ref.key, "' (",
                         ref.numel, " ", dtype_name(ref.dtype), ")");
    };
    WHET_CHECK(offset >= 0, what(), ": negative offset");
    const int64_t kMax = std::numeric_limits<int64_t>::max();
    int64_t numel = 1, last = offset;  // `last`: the highest element the tensor reads
    for (size_t d = 0; d < size.size(); ++d) {
      WHET_CHECK(size[d] >= 0 && stride[d] >= 0, what(), ": negative size or stride");
      if (size[d] == 0) numel = 0;
      WHET_CHECK(numel == 0 || size[d] <= kMax / numel, what(), ": element count overflows");
      numel *= size[d];
      if (size[d] > 1) {
        WHET_CHECK(stride[d] <= (kMax - last) / (size[d] - 1), what(), ": reaches past 2^63");
        last += (size[d] - 1) * stride[d];
      }
    }
    Shape shape(size.begin(), size.end());
    if (numel == 0) return Tensor::empty(shape, ref.dtype);
    WHET_CHECK(last < ref.numel, what(), ": reaches element ", last, ", past the storage's end");

    bool contiguous = true;
    for (int64_t d = int64_t(size.size()) - 1, expect = 1; d >= 0; --d) {
      if (size[size_t(d)] != 1 && stride[size_t(d)] != expect) contiguous = false;
      expect *= size[size_t(d)];
    }
    if (contiguous) {
      auto impl = std::make_shared<TensorImpl>();
      impl->storage.data = std::shared_ptr<void>(s.data, s.data.get());
      impl->storage.nbytes = s.nbytes;
      impl->storage.device = Device::cpu();
      impl->offset = offset;
      impl->shape = std::move(shape);
      impl->dtype = ref.dtype;
      return Tensor(std::move(impl));
    }
    return gather(s, offset, size, stride, numel, what);
  }

 private:
  // A strided view as a contiguous copy. All copies together are bounded by a multiple of the
  // file's size, so a small file cannot ask for a huge allocation through expanded (stride 0)
  // or many repeated views.
  template <class What>
  Tensor gather(const LoadedStorage& s, int64_t offset, const std::vector<int64_t>& size,
                const std::vector<int64_t>& stride, int64_t numel, const What& what) {
    size_t es = dtype_size(s.ref.dtype);
    uint64_t bytes = uint64_t(numel) > copy_budget_ / es ? copy_budget_ + 1 : uint64_t(numel) * es;
    WHET_CHECK(bytes <= copy_budget_, what(),
               ": strided tensors in this file would need more copying than its size allows");
    copy_budget_ -= bytes;
    Tensor t = Tensor::empty(Shape(size.begin(), size.end()), s.ref.dtype);
    const uint8_t* src = s.data.get();
    uint8_t* dst = static_cast<uint8_t*>(t.raw_data());
    size_t r = size.size();
    std::vector<int64_t> idx(r, 0);
    int64_t at = offset;
    for (int64_t k = 0; k < numel; ++k) {
      std::memcpy(dst + size_t(k) * es, src + size_t(at) * es, es);
      for (size_t d = r; d-- > 0;) {  // odometer step over the dims, last fastest
        if (++idx[d] < size[d]) {
          at += stride[d];
          break;
        }
        at -= stride[d] * (size[d] - 1);
        idx[d] = 0;
      }
    }
    return t;
  }

  StorageLoader& storages_;
  uint64_t copy_budget_;
  const std::string& source_;
};

bool is_state_dict(const Value& v) {
  if (v.kind != Kind::dict) return false;
  for (const auto& [k, x] : v.o->entries)
    if (k.kind != Kind::string || x.kind != Kind::tensor) return false;
  return true;
}

NamedTensors state_dict_of(const Value& root, const std::string& source) {
  WHET_CHECK(root.kind == Kind::dict, source, ": the file holds a ", pickle::describe(root),
             ", not a state dict (a dict of tensors)");
  const Value* sd = &root;
  if (!is_state_dict(root)) {
    sd = nullptr;
    for (const char* key : {"state_dict", "model"}) {
      const Value* v = pickle::dict_get(root, key);
      if (v && is_state_dict(*v)) {
        sd = v;
        break;
      }
    }
  }
  if (!sd) {
    std::string found;
    size_t shown = 0;
    for (const auto& [k, x] : root.o->entries) {
      if (shown++ == 12) {
        found += ", ...";
        break;
      }
      std::string key = k.kind == Kind::string ? "'" + k.o->text + "'" : pickle::describe(k);
      found += (found.empty() ? "" : ", ") + key + ": " + pickle::describe(x);
    }
    WHET_FAIL(source, ": no state dict found: the top-level dict holds {", found,
              "}; whet reads a dict of tensors, or one under the key 'state_dict' or 'model'");
  }
  NamedTensors out;
  out.reserve(sd->o->entries.size());
  for (const auto& [k, x] : sd->o->entries) out.emplace_back(k.o->text, x.o->tensor);
  return out;
}

// The archive's name prefix: torch writes every record under one folder (the file's stem, or
// "archive"), and data.pkl is the record that makes it a torch.save file. TorchScript archives
// (torch.jit.save) have one too, but pickle a scripted module: told apart by their code.
std::string archive_prefix(const ZipReader& zip, const std::string& source) {
  std::vector<std::string> found;
  for (const ZipEntry& e : zip.entries()) {
    size_t slash = e.name.find('/');
    if (slash == std::string::npos) continue;
    WHET_CHECK(e.name.compare(slash, std::string::npos, "/constants.pkl") != 0, source,
               ": this is a TorchScript archive (torch.jit.save), not a state dict; in Python, "
               "save the model's weights with torch.save(model.state_dict(), 'weights.pth')");
    if (e.name.compare(slash, std::string::npos, "/data.pkl") == 0)
      found.push_back(e.name.substr(0, slash));
  }
  WHET_CHECK(found.size() <= 1, source, ": the archive holds ", found.size(), " data.pkl records (",
             found[0], "/, ", found[1], "/ ...); torch.save writes one");
  if (found.size() == 1) return found[0];
  std::string names;
  for (size_t i = 0; i < zip.entries().size() && i < 5; ++i)
    names += (i ? ", " : "") + zip.entries()[i].name;
  WHET_FAIL(source, ": a zip archive without the <archive>/data.pkl record of torch.save ",
            "(it holds ", zip.entries().size(), " entries", names.empty() ? "" : ": ", names,
            zip.entries().size() > 5 ? ", ..." : "", ")");
}

bool big_endian_archive(const ZipReader& zip, const std::string& prefix,
                        const std::string& source) {
  const ZipEntry* e = zip.find(prefix + "/byteorder");
  if (!e) return false;  // torch before 1.13 wrote none, and was little-endian in practice
  ZipBytes b = zip.read(*e);
  std::string order(reinterpret_cast<const char*>(b.data.get()), b.size);
  WHET_CHECK(order == "little" || order == "big", source, ": byteorder record is '",
             order.substr(0, 16), "', neither 'little' nor 'big'");
  return order == "big";
}

}  // namespace

bool looks_like_pth(const uint8_t* head, size_t n) {
  return has_zip_magic(head, n) || is_legacy_pickle(head, n) || is_tar(head, n);
}

bool looks_like_pth(const std::string& path) {
  uint8_t head[512];
  std::ifstream f(path, std::ios::binary);
  f.read(reinterpret_cast<char*>(head), sizeof head);
  return looks_like_pth(head, size_t(f.gcount()));
}

NamedTensors load_pth(const std::string& path) {
  const std::string source = "load_pth: " + path;
  std::shared_ptr<MappedFile> file;
  try {
    file = MappedFile::open(path);
  } catch (const Error& e) {
    throw Error(std::string("load_pth: ") + e.what());
  }
  const uint8_t* head = file->data();
  size_t n = file->size();
  if (is_legacy_pickle(head, n) || is_tar(head, n)) {
    // Name the file in the command when it can be quoted as is.
    bool plain = path.find_first_of("'\"\\$`") == std::string::npos;
    std::string in = plain ? path : "IN.pth", out = plain ? path + ".zip.pth" : "OUT.pth";
    WHET_FAIL(source,
              ": this is PyTorch's legacy serialization format (torch.save before "
              "PyTorch 1.6, or with _use_new_zipfile_serialization=False), which whet does not "
              "read. Re-save it with a recent PyTorch:\n  python -c \"import torch; "
              "torch.save(torch.load('",
              in, "', map_location='cpu', weights_only=True), '", out, "')\"");
  }
  WHET_CHECK(n > 0, source, ": the file is empty");
  WHET_CHECK(has_zip_magic(head, n), source,
             ": not a PyTorch file: torch.save writes a zip "
             "archive (starting 'PK'), this starts with bytes ",
             hex_head(head, n));

  ZipReader zip(file, source);
  const std::string prefix = archive_prefix(zip, source);
  StorageLoader storages(zip, prefix, big_endian_archive(zip, prefix, source), source);
  TensorRebuilder rebuild(storages, 2 * uint64_t(n) + (uint64_t(1) << 20), source);
  ZipBytes pkl = zip.read(*zip.find(prefix + "/data.pkl"));
  pickle::Unpickled u = pickle::unpickle(pkl.data.get(), pkl.size, std::ref(rebuild),
                                         source + ": " + prefix + "/data.pkl");
  return state_dict_of(u.root, source);
}

}  // namespace whet::io
