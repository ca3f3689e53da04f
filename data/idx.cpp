#include "data/idx.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <limits>

#include "core/error.h"

namespace whet::data {

namespace {

// A gzFile that closes itself; zlib reads plain files through the same calls.
struct GzFile {
  gzFile f = nullptr;
  std::string path;
  GzFile(const std::string& p, const char* mode) : f(gzopen(p.c_str(), mode)), path(p) {}
  ~GzFile() {
    if (f) gzclose(f);
  }
  GzFile(const GzFile&) = delete;
  GzFile& operator=(const GzFile&) = delete;

  // Reads up to n bytes; returns how many came (short only at the end of the file).
  size_t read(void* dst, size_t n) {
    size_t done = 0;
    while (done < n) {
      unsigned chunk = unsigned(std::min<size_t>(n - done, size_t(1) << 30));
      int got = gzread(f, static_cast<char*>(dst) + done, chunk);
      int code = Z_OK;
      const char* msg = gzerror(f, &code);
      if (got < 0) WHET_FAIL("read_idx: ", path, ": ", msg ? msg : "read error");
      // gzread hands out what it inflated and reports a gzip stream cut short (its CRC and
      // length trailer included) only as Z_BUF_ERROR: without this a file cut inside its
      // trailer would load unchecked.
      if (code == Z_BUF_ERROR)
        WHET_FAIL("read_idx: ", path, ": the gzip stream is truncated (", msg, ")");
      if (got == 0) break;
      done += size_t(got);
    }
    return done;
  }
  void write(const void* src, size_t n) {
    size_t done = 0;
    while (done < n) {
      unsigned chunk = unsigned(std::min<size_t>(n - done, size_t(1) << 30));
      int put = gzwrite(f, static_cast<const char*>(src) + done, chunk);
      WHET_CHECK(put > 0, "write_idx: ", path, ": write failed");
      done += size_t(put);
    }
  }
};

struct IdxType {
  uint8_t code;
  int file_size;  // bytes per element in the file
  DType dtype;    // in memory
};

constexpr IdxType kIdxTypes[] = {{0x08, 1, DType::u8},  {0x09, 1, DType::i32},
                                 {0x0B, 2, DType::i32}, {0x0C, 4, DType::i32},
                                 {0x0D, 4, DType::f32}, {0x0E, 8, DType::f64}};

uint64_t read_be(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = v << 8 | p[i];
  return v;
}

void write_be(uint8_t* p, uint64_t v, int n) {
  for (int i = n - 1; i >= 0; --i, v >>= 8) p[i] = uint8_t(v);
}

}  // namespace

Tensor read_idx(const std::string& path) {
  WHET_CHECK(std::filesystem::exists(path), "read_idx: ", path, ": no such file");
  GzFile in(path, "rb");
  WHET_CHECK(in.f != nullptr, "read_idx: ", path, ": cannot open");
  uint8_t head[4];
  WHET_CHECK(in.read(head, 4) == 4, "read_idx: ", path, ": shorter than an IDX header");
  WHET_CHECK(head[0] == 0 && head[1] == 0, "read_idx: ", path,
             ": bad magic (an IDX file starts with two zero bytes)");
  const IdxType* type = nullptr;
  for (const IdxType& t : kIdxTypes) {
    if (t.code == head[2]) type = &t;
  }
  WHET_CHECK(type != nullptr, "read_idx: ", path, ": unknown element type 0x", std::hex,
             int(head[2]));
  int rank = head[3];
  WHET_CHECK(rank > 0, "read_idx: ", path, ": rank 0");
  std::vector<uint8_t> dims_raw(size_t(rank) * 4);
  WHET_CHECK(in.read(dims_raw.data(), dims_raw.size()) == dims_raw.size(), "read_idx: ", path,
             ": header ends before its ", rank, " extents");
  Shape shape;
  uint64_t count = 1;
  for (int d = 0; d < rank; ++d) {
    uint64_t e = read_be(&dims_raw[size_t(d) * 4], 4);
    shape.push_back(int64_t(e));
    WHET_CHECK(e == 0 || count <= (uint64_t(1) << 40) / e, "read_idx: ", path, ": shape ",
               shape_str(shape), "... is too large");
    count *= e;
  }
  size_t file_bytes = size_t(count) * size_t(type->file_size);
  // The extents are only a claim (a damaged one can ask for terabytes): the buffer grows with
  // the bytes that actually arrive, to at most twice their number.
  std::vector<uint8_t> raw;
  size_t got = 0;
  while (got < file_bytes) {
    size_t want = std::min(file_bytes - got, std::max(got, size_t(1) << 20));
    raw.resize(got + want);
    size_t n = in.read(raw.data() + got, want);
    got += n;
    if (n < want) break;
  }
  WHET_CHECK(got == file_bytes, "read_idx: ", path, ": truncated: shape ", shape_str(shape),
             " needs ", file_bytes, " bytes of data, the file has ", got);
  uint8_t extra;
  WHET_CHECK(in.read(&extra, 1) == 0, "read_idx: ", path, ": bytes after the ", shape_str(shape),
             " data");

  Tensor t = Tensor::empty(shape, type->dtype);
  const uint8_t* p = raw.data();
  switch (type->code) {
    case 0x08:
      std::memcpy(t.data<uint8_t>(), p, file_bytes);
      break;
    case 0x09:
    case 0x0B:
    case 0x0C: {
      int32_t* o = t.data<int32_t>();
      int n = type->file_size;
      for (uint64_t i = 0; i < count; ++i) {
        uint64_t v = read_be(p + i * uint64_t(n), n);
        // Sign-extend from n bytes.
        int shift = 64 - 8 * n;
        o[i] = int32_t(int64_t(v << shift) >> shift);
      }
      break;
    }
    case 0x0D: {
      float* o = t.data<float>();
      for (uint64_t i = 0; i < count; ++i) {
        uint32_t bits = uint32_t(read_be(p + i * 4, 4));
        std::memcpy(&o[i], &bits, 4);
      }
      break;
    }
    case 0x0E: {
      double* o = t.data<double>();
      for (uint64_t i = 0; i < count; ++i) {
        uint64_t bits = read_be(p + i * 8, 8);
        std::memcpy(&o[i], &bits, 8);
      }
      break;
    }
  }
  return t;
}

void write_idx(const std::string& path, const Tensor& t, bool gzip) {
  Tensor c = t.to(Device::cpu());
  uint8_t code = 0;
  int n = 0;
  switch (c.dtype()) {
    case DType::u8:
      code = 0x08, n = 1;
      break;
    case DType::i32:
      code = 0x0C, n = 4;
      break;
    case DType::f32:
      code = 0x0D, n = 4;
      break;
    case DType::f64:
      code = 0x0E, n = 8;
      break;
    default:
      WHET_FAIL("write_idx: ", path, ": dtype ", dtype_name(c.dtype()), " has no IDX type");
  }
  WHET_CHECK(c.dim() > 0 && c.dim() < 256, "write_idx: ", path, ": rank ", c.dim());
  std::vector<uint8_t> bytes(4 + size_t(c.dim()) * 4 + size_t(c.numel()) * size_t(n));
  bytes[2] = code;
  bytes[3] = uint8_t(c.dim());
  for (int64_t d = 0; d < c.dim(); ++d) write_be(&bytes[4 + size_t(d) * 4], uint64_t(c.size(d)), 4);
  uint8_t* o = bytes.data() + 4 + size_t(c.dim()) * 4;
  const uint8_t* src = static_cast<const uint8_t*>(c.raw_data());
  for (int64_t i = 0; i < c.numel(); ++i) {
    uint64_t v = 0;
    std::memcpy(&v, src + size_t(i) * size_t(n), size_t(n));  // little-endian host
    write_be(o + size_t(i) * size_t(n), v, n);
  }
  // "wb" compresses, "wbT" writes plain bytes through the same gz calls.
  GzFile out(path, gzip ? "wb" : "wbT");
  WHET_CHECK(out.f != nullptr, "write_idx: ", path, ": cannot open for writing");
  out.write(bytes.data(), bytes.size());
  WHET_CHECK(gzclose(out.f) == Z_OK, "write_idx: ", path, ": write failed");
  out.f = nullptr;
}

IdxDataset::IdxDataset(const std::string& images_path, const std::string& labels_path,
                       std::vector<std::string> class_names, std::string name)
    : class_names_(std::move(class_names)), name_(std::move(name)), images_path_(images_path) {
  Tensor images = read_idx(images_path);
  WHET_CHECK(images.dtype() == DType::u8 && (images.dim() == 3 || images.dim() == 4),
             "IdxDataset: ", images_path, ": images must be (N, H, W) or (N, H, W, C) uint8, got ",
             shape_str(images.shape()), " ", dtype_name(images.dtype()));
  images_ = images.dim() == 3 ? images.unsqueeze(3) : images;
  Tensor labels = read_idx(labels_path);
  WHET_CHECK(labels.dim() == 1 && !is_floating(labels.dtype()), "IdxDataset: ", labels_path,
             ": labels must be (N) integers, got ", shape_str(labels.shape()), " ",
             dtype_name(labels.dtype()));
  WHET_CHECK(labels.size(0) == images_.size(0), "IdxDataset: ", images_path, " holds ",
             images_.size(0), " images but ", labels_path, " holds ", labels.size(0), " labels");
  labels_ = labels.to_vector<int64_t>();
  int64_t max_label = -1;
  for (int64_t l : labels_) {
    WHET_CHECK(l >= 0, "IdxDataset: ", labels_path, ": negative label ", l);
    max_label = std::max(max_label, l);
  }
  if (class_names_.empty()) {
    for (int64_t c = 0; c <= max_label; ++c) class_names_.push_back(std::to_string(c));
  }
  WHET_CHECK(max_label < int64_t(class_names_.size()), "IdxDataset: ", labels_path, ": label ",
             max_label, " but only ", class_names_.size(), " classes");
}

Sample IdxDataset::get(int64_t i) const {
  check_index(*this, i, "IdxDataset::get");
  return {images_[i], labels_[size_t(i)]};
}

int64_t IdxDataset::label(int64_t i) const {
  check_index(*this, i, "IdxDataset::label");
  return labels_[size_t(i)];
}

std::string IdxDataset::describe() const {
  return detail::cat(name_, " ", images_path_, " (", size(), " images ", images_.size(1), "x",
                     images_.size(2), "x", images_.size(3), ", ", class_names_.size(), " classes)");
}

const std::vector<std::string>& fashion_mnist_classes() {
  static const std::vector<std::string> names = {"T-shirt/top", "Trouser",   "Pullover", "Dress",
                                                 "Coat",        "Sandal",    "Shirt",    "Sneaker",
                                                 "Bag",         "Ankle boot"};
  return names;
}

DatasetPtr fashion_mnist(const std::string& split, const std::string& dir) {
  WHET_CHECK(split == "train" || split == "test",
             "fashion_mnist: split must be train or test, got '", split, "'");
  std::string prefix = split == "train" ? "train" : "t10k";
  auto find = [&](const std::string& stem) {
    std::string base = dir + "/" + prefix + "-" + stem + "-ubyte";
    if (std::filesystem::exists(base + ".gz")) return base + ".gz";
    WHET_CHECK(std::filesystem::exists(base), "fashion_mnist: ", base, "(.gz) not found",
               dir == kFashionMnistDir ? " (apt-get install dataset-fashion-mnist)" : "");
    return base;
  };
  auto d = std::make_shared<IdxDataset>(find("images-idx3"), find("labels-idx1"),
                                        fashion_mnist_classes(), "fashion-mnist " + split);
  WHET_CHECK(d->num_classes() == 10, "fashion_mnist: expected 10 classes");
  return d;
}

}  // namespace whet::data
