// Every file reader against damaged input: safetensors, .pth (zip + pickle), IDX (plain and
// gzipped), PNG, JPEG, training checkpoints and the TOML run configuration. Each reader gets a
// valid input cut at a spread of lengths and a few hundred seeded corruptions, some of them
// with the format's checksums recomputed so the damage reaches the parser behind them. Each
// attempt must load or throw whet::Error naming the input. Another exception type fails here;
// a crash, an out-of-bounds read or undefined behaviour fails it under an ASan/UBSan build
// (where these sweeps find the most), and a huge allocation through the peak resident set.
// Refusals are counted, so a sweep that stopped reaching its reader would fail as well.
#include <doctest/doctest.h>

#include <functional>
#include <random>

#include "data/idx.h"
#include "data/image_codec.h"
#include "io/pth.h"
#include "io/safetensors.h"
#include "io/safetensors_header.h"
#include "tests/corrupt_sweep.h"
#include "tests/data_test_util.h"
#include "train/checkpoint.h"
#include "train/config.h"

using namespace whet;
using namespace corrupt_test;
using data_test::TempDir;

namespace {

std::string pth_fixture(const std::string& name) {
  return std::string(WHET_SOURCE_DIR) + "/tests/data/pth/" + name;
}

// A safetensors file of the given entries, with random small values, written by hand so that
// it holds the dtypes whet converts on loading, which its writer never produces.
struct RawEntry {
  const char* name;
  io::safetensors::FileDType dtype;
  std::vector<int64_t> shape;
};
Bytes raw_safetensors(const std::vector<RawEntry>& entries, std::mt19937& rng) {
  std::vector<io::safetensors::TensorEntry> es;
  uint64_t offset = 0;
  for (const RawEntry& r : entries) {
    io::safetensors::TensorEntry e;
    e.name = r.name;
    e.dtype = r.dtype;
    e.shape = r.shape;
    uint64_t numel = 1;
    for (int64_t d : r.shape) numel *= uint64_t(d);
    e.begin = offset;
    offset += numel * io::safetensors::file_dtype_bits(r.dtype) / 8;
    e.end = offset;
    es.push_back(e);
  }
  const std::string header = io::safetensors::write_header(es, {{"format", "pt"}});
  Bytes out(8, '\0');
  for (int i = 0; i < 8; ++i) out[size_t(i)] = char(uint64_t(header.size()) >> (8 * i));
  out += header;
  // Small values, so that U64 stays within int64 and the sweep starts from a loadable file.
  for (uint64_t i = 0; i < offset; ++i) out += char(rng() % 64);
  return out;
}

}  // namespace

TEST_CASE("corrupt inputs: safetensors files end in whet::Error naming the file") {
  TempDir dir;
  const std::string path = dir.file("w.safetensors");
  const Reader read =
      via_file(path, [](const std::string& p) { touch_all(io::load_safetensors(p).tensors); });

  // Every dtype whet writes, a 0-D and an empty tensor, and metadata.
  io::save_safetensors(path,
                       {{"conv.weight", Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3})},
                        {"half", Tensor::from_vector<float>({1, 2, 3}, {3}, DType::f16)},
                        {"brain", Tensor::from_vector<float>({1, 2, 3, 4}, {2, 2}, DType::bf16)},
                        {"steps", Tensor::from_vector<int64_t>({7}, {}, DType::i64)},
                        {"ids", Tensor::from_vector<int32_t>({1, -2}, {2}, DType::i32)},
                        {"pixels", Tensor::from_vector<int>({0, 9, 255}, {3}, DType::u8)},
                        {"mask", Tensor::from_vector<int>({1, 0, 1}, {3}, DType::boolean)},
                        {"empty", Tensor::empty({0, 4}, DType::f64)},
                        {"scale", Tensor::from_vector<double>({0.5}, {1}, DType::f64)}},
                       {{"format", "pt"}, {"note", "sweep"}});
  Tally written = sweep("whet-written safetensors", read_bytes(path), read, path);
  // The header's length and the exact tiling of the data leave no prefix loadable.
  CHECK(written.prefixes_refused == written.prefixes);
  CHECK(written.corruptions_refused > written.corruptions / 2);

  // The dtypes that load converted: int8/16, uint16/32/64 and the float8s.
  using FT = io::safetensors::FileDType;
  std::mt19937 rng(5);
  Bytes converted = raw_safetensors({{"a", FT::I8, {3}},
                                     {"b", FT::I16, {2}},
                                     {"c", FT::U16, {2}},
                                     {"d", FT::U32, {2}},
                                     {"e", FT::U64, {2}},
                                     {"f", FT::F8_E4M3, {4}},
                                     {"g", FT::F8_E5M2, {4}},
                                     {"h", FT::F8_E8M0, {4}}},
                                    rng);
  SweepOptions o;
  o.seed = 2;
  Tally conv = sweep("converted dtypes", converted, read, path, o);
  CHECK(conv.prefixes_refused == conv.prefixes);
  CHECK(conv.corruptions_refused > conv.corruptions / 2);

  // The PyTorch golden fixture: larger, so prefixes are spread over it.
  o.seed = 3;
  o.corruptions = 200;
  Tally golden =
      sweep("expected.safetensors", read_bytes(pth_fixture("expected.safetensors")), read, path, o);
  CHECK(golden.prefixes_refused == golden.prefixes);
  CHECK(golden.corruptions_refused > 0);
}

TEST_CASE("corrupt inputs: .pth archives and their pickles end in whet::Error naming the file") {
  TempDir dir;
  const std::string path = dir.file("w.pth");
  const Reader read = via_file(path, [](const std::string& p) { touch_all(io::load_pth(p)); });

  // STORED, DEFLATE, zip64, big-endian and strided archives, damaged anywhere: the zip
  // structure and the CRC-32 of each entry catch most of it.
  uint32_t seed = 10;
  for (const char* name :
       {"tiny.pth", "deflate.pth", "zip64.pth", "big_endian.pth", "noncontig.pth"}) {
    SweepOptions o;
    o.seed = seed++;
    o.corruptions = 200;
    Tally t = sweep(name, read_bytes(pth_fixture(name)), read, path, o);
    // Cut anywhere, the end-of-directory record or the entries it points at are missing.
    CHECK(t.prefixes_refused == t.prefixes);
    CHECK(t.corruptions_refused > t.corruptions / 2);
  }

  // Damage inside data.pkl with its CRC-32 recomputed: the unpickler and the tensor rebuilder
  // (offsets, sizes and strides against the storages) see it.
  for (const char* name : {"tiny.pth", "noncontig.pth"}) {
    const Bytes good = read_bytes(pth_fixture(name));
    const std::string stem = std::string(name).substr(0, std::string(name).find('.'));
    const ZipSlot pkl = stored_entry(good, stem + "/data.pkl");
    SweepOptions o;
    o.seed = seed++;
    o.corruptions = 400;
    o.prefixes = false;
    o.lo = pkl.data;
    o.hi = pkl.data + pkl.size;
    o.repair = [pkl](Bytes& b) {
      const uint32_t crc = crc32_of(u8p(b, pkl.data), pkl.size);
      put_le32(b, pkl.local_crc, crc);
      put_le32(b, pkl.central_crc, crc);
    };
    Tally t = sweep(std::string(name) + " data.pkl", good, read, path, o);
    CHECK(t.corruptions_refused > t.corruptions / 4);
  }
}

TEST_CASE("corrupt inputs: IDX files, plain and gzipped, end in whet::Error naming the file") {
  TempDir dir;
  uint32_t seed = 20;
  for (bool gzip : {false, true}) {
    const std::string path = dir.file(gzip ? "w.idx.gz" : "w.idx");
    const Reader read = via_file(path, [](const std::string& p) { touch(data::read_idx(p)); });
    std::vector<int> pixels(2 * 3 * 4);
    for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = int(i * 11 % 256);
    const std::pair<const char*, Tensor> inputs[] = {
        {"u8 images", Tensor::from_vector(pixels, {2, 3, 4}, DType::u8)},
        {"i32 labels", Tensor::from_vector<int32_t>({3, -1, 70000}, {3}, DType::i32)},
        {"f64 values", Tensor::from_vector<double>({0.5, -2, 1e300, 3, 4, 5}, {3, 2}, DType::f64)}};
    for (const auto& [what, t] : inputs) {
      CAPTURE(gzip);
      data::write_idx(path, t, gzip);
      SweepOptions o;
      o.seed = seed++;
      Tally tally =
          sweep(std::string(what) + (gzip ? " (gzip)" : ""), read_bytes(path), read, path, o);
      // Extents fix the length: every prefix is short (a gzip prefix also lacks its trailer).
      CHECK(tally.prefixes_refused == tally.prefixes);
      CHECK(tally.corruptions_refused > tally.corruptions / 4);
    }
  }
}

TEST_CASE("corrupt inputs: PNG and JPEG images end in whet::Error naming the file") {
  TempDir dir;
  const std::string path = dir.file("w.img");
  const Reader read = via_file(path, [](const std::string& p) { touch(data::read_image(p, 3)); });

  uint32_t seed = 30;
  for (const char* name : {"gray8.png", "gray4.png", "gray16.png", "gray_alpha8.png",
                           "palette2.png", "rgb8.png", "rgb16.png", "rgba8.png"}) {
    const Bytes good = read_bytes(data_test::fixture(name));
    SweepOptions o;
    o.seed = seed++;
    o.corruptions = 150;
    Tally raw = sweep(name, good, read, path, o);
    // Every prefix lacks image data or the CRC of the chunk it cuts, but the last few (IEND,
    // which decoding never reads).
    CHECK(raw.prefixes_refused >= raw.prefixes - 12);
    CHECK(raw.corruptions_refused > raw.corruptions / 2);

    o.seed = seed++;
    o.prefixes = false;
    o.lo = 8;  // past the signature, so the damage reaches libpng
    o.repair = repair_png_crcs;
    Tally sealed = sweep(std::string(name) + " (CRCs recomputed)", good, read, path, o);
    CHECK(sealed.corruptions_refused > 0);
  }

  // JPEG, baseline colour and gray, through the engine's own encoder.
  for (int channels : {3, 1}) {
    Tensor image = data_test::smooth_rgb(16, 24);
    if (channels == 1) image = data::convert_channels(image, 1);
    data::write_jpeg(path, image, 90);
    SweepOptions o;
    o.seed = seed++;
    Tally t = sweep(channels == 3 ? "RGB JPEG" : "gray JPEG", read_bytes(path), read, path, o);
    // Truncated entropy-coded data is an error, not gray padding.
    CHECK(t.prefixes_refused == t.prefixes);
    CHECK(t.corruptions_refused > t.corruptions / 4);
  }
}

TEST_CASE("corrupt inputs: checkpoints end in whet::Error naming the file") {
  TempDir dir;
  const std::string path = dir.file("last.safetensors");
  train::TrainConfig cfg;
  cfg.model = "small_cnn";
  cfg.data = "tensors:x.safetensors";
  cfg.milestones = {3, 6};
  train::Checkpoint ck;
  ck.add("model.", {{"fc.weight", Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3})},
                    {"fc.bias", Tensor::from_vector<float>({0.5f, -0.5f}, {2})}});
  ck.add_int("train.global_step", 42);
  ck.add_real("train.best_val_acc", 0.75);
  ck.add("rng.default.", train::generator_state(Generator(123)));
  ck.metadata["config"] = train::to_toml(cfg);
  ck.metadata["model"] = cfg.model;
  train::save_checkpoint(path, ck);

  // What resuming and `whet eval` read of a checkpoint.
  const Reader read = via_file(path, [](const std::string& p) {
    train::Checkpoint c = train::load_checkpoint(p);
    train::checkpoint_config(c, p);
    c.get_int("train.global_step");
    c.get_real("train.best_val_acc");
    touch_all(train::checkpoint_weights(p));
  });
  const Bytes good = read_bytes(path);
  Tally t = sweep("checkpoint", good, read, path);
  CHECK(t.prefixes_refused == t.prefixes);
  CHECK(t.corruptions_refused > t.corruptions / 2);

  // Damage that keeps the file well-formed: a renamed entry, and an entry whose dtype name
  // changed to another of the same size (its int64 bits now read as a float64).
  auto edited = [&](const std::string& from, const std::string& to) {
    Bytes b = good;
    const size_t at = b.find(from);
    REQUIRE(at != std::string::npos);
    b.replace(at, from.size(), to);
    return data_test::error_of([&] { read(b); });
  };
  const std::string renamed = edited("\"train.global_step\"", "\"train.global_stop\"");
  CHECK_MESSAGE(data_test::contains(renamed, path + ": no entry 'train.global_step'"), renamed);
  const std::string retyped = edited("\"train.global_step\":{\"dtype\":\"I64\"",
                                     "\"train.global_step\":{\"dtype\":\"F64\"");
  CHECK_MESSAGE(data_test::contains(retyped, "'train.global_step' is float64, not an integer"),
                retyped);
}

TEST_CASE("corrupt inputs: TOML run configurations end in whet::Error naming the file") {
  train::TrainConfig cfg;
  cfg.model = "resnet18";
  cfg.data = "folder:/data/pets";
  cfg.freeze = {"layer1.*", "conv1.*"};
  cfg.classes = {1, 2};
  cfg.weights = "it's \"quoted\".pth";
  const Reader read = [](const Bytes& text) {
    train::TrainConfig c;
    train::apply_toml(c, text, "run.toml");
  };
  SweepOptions o;
  o.seed = 40;
  o.alphabet = "[]{}=\"'.,#\n\\-+_ 0123456789eE\t";
  // The resolved configuration as runs save it, and a short hand-written one.
  Tally saved = sweep("config.toml", train::to_toml(cfg), read, "run.toml", o);
  CHECK(saved.prefixes_refused > 0);
  CHECK(saved.corruptions_refused > saved.corruptions / 2);

  o.seed = 41;
  const Bytes hand =
      "model = 'small_cnn'\nlr = 0.1\n[data]\nclasses = [1, 2, 3]\naugment = \"flip\"\n"
      "[schedule]\nmilestones = [3, 6]\n[run]\nquiet = true\nseed = 7\n";
  Tally small = sweep("hand-written TOML", hand, read, "run.toml", o);
  CHECK(small.prefixes_refused > 0);
  CHECK(small.corruptions_refused > small.corruptions / 4);
}

namespace {
// A PNG chunk: length, type, data, CRC of type and data.
Bytes png_chunk(const char* type, const Bytes& data) {
  Bytes c(4, '\0');
  put_be32(c, 0, uint32_t(data.size()));
  c += std::string(type, 4) + data;
  c += Bytes(4, '\0');
  put_be32(c, c.size() - 4, crc32_of(u8p(c, 4), 4 + data.size()));
  return c;
}
}  // namespace

TEST_CASE("corrupt inputs: forged sizes are refused before anything is allocated for them") {
  TempDir dir;
  const uint64_t peak_before = peak_rss();
  // The error reading `bytes` from a file must name the file and contain `want`.
  auto refused = [&](const std::string& name, const Bytes& bytes,
                     const std::function<void(const std::string&)>& read, const std::string& want) {
    const std::string path = dir.file(name);
    write_bytes(path, bytes);
    const std::string e = data_test::error_of([&] { read(path); });
    CHECK_MESSAGE(data_test::contains(e, path), e);
    CHECK_MESSAGE(data_test::contains(e, want), e);
  };
  const auto read_image = [](const std::string& p) { data::read_image(p, 3); };

  // IDX extents of 2^20 x 2^20 bytes, and no data.
  refused(
      "big.idx", Bytes("\0\0\x08\x02\0\x10\0\0\0\x10\0\0", 12),
      [](const std::string& p) { data::read_idx(p); }, "truncated");

  // A PNG header of 30000 x 20000 RGB (1.8 GB, under the decoder's 2 GiB cap) on 8 bytes of
  // image data, every CRC right.
  Bytes ihdr(13, '\0');
  put_be32(ihdr, 0, 30000);
  put_be32(ihdr, 4, 20000);
  ihdr[8] = 8;  // bit depth
  ihdr[9] = 2;  // RGB
  const Bytes png = "\x89PNG\r\n\x1a\n" + png_chunk("IHDR", ihdr) +
                    png_chunk("IDAT", Bytes("\x78\x9c\x63\x00\x00\x00\x01\x00", 8)) +
                    png_chunk("IEND", "");
  refused("big.png", png, read_image, "header claims 30000x20000 pixels");

  // A progressive JPEG of 65000 x 65000 x 3: libjpeg would size the coefficients of the whole
  // image (25 GB) when decompression starts, before it finds the tables missing.
  const Bytes jpeg = Bytes("\xff\xd8", 2) +
                     Bytes(
                         "\xff\xc2\x00\x11\x08\xfd\xe8\xfd\xe8\x03"
                         "\x01\x11\x00\x02\x11\x00\x03\x11\x00",
                         19) +
                     Bytes("\xff\xda\x00\x0c\x03\x01\x00\x02\x00\x03\x00\x00\x00\x00", 14);
  refused("big.jpg", jpeg, read_image, "too large (65000x65000)");

  // A safetensors header length of 2^60.
  refused(
      "big.safetensors", Bytes("\0\0\0\0\0\0\0\x10{}", 10),
      [](const std::string& p) { io::load_safetensors(p); }, "above the");
  CHECK(peak_rss() - peak_before < kMaxPeakGrowth);
}
