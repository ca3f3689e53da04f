// safetensors: round trips, zero-copy loading, the reference's validation rules one malformed
// file at a time, atomic writes, and interchange with the reference Python package.
#include <doctest/doctest.h>

#include "tests/temp_dir.h"
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/ops.h"
#include "io/safetensors.h"

using namespace whet;
using namespace whet::io;
namespace fs = std::filesystem;

namespace {

using whet_test::TempDir;

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), std::streamsize(bytes.size()));
  REQUIRE(f.good());
}

std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

std::string le64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[size_t(i)] = char(uint8_t(v >> (8 * i)));
  return s;
}

// A file from a header text and data bytes; the header length is the text's unless given.
std::string st_file(const std::string& header, const std::string& data = "") {
  return le64(header.size()) + header + data;
}

// The message of the whet::Error that loading `path` throws ("" when it loads).
std::string load_error(const std::string& path) {
  try {
    load_safetensors(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// ---- the recipe shared with tools/golden/check_safetensors_roundtrip.py ----

struct Spec {
  std::string name;
  DType dtype;
  Shape shape;
  std::vector<double> values;
};

template <class F>
std::vector<double> values(int n, F f) {
  std::vector<double> v;
  for (int i = 0; i < n; ++i) v.push_back(f(double(i)));
  return v;
}

std::vector<Spec> all_dtypes() {
  return {
      {"f32", DType::f32, {2, 3}, values(6, [](double i) { return (i - 2) * 0.5; })},
      {"f64", DType::f64, {3}, values(3, [](double i) { return i / 3.0; })},
      {"f16", DType::f16, {2, 2}, values(4, [](double i) { return (i - 3) * 0.25; })},
      {"bf16", DType::bf16, {5}, values(5, [](double i) { return (i - 1) * 1.5; })},
      {"i64", DType::i64, {2}, values(2, [](double i) { return i * 1000000000007.0 - 5; })},
      {"i32", DType::i32, {3}, values(3, [](double i) { return i * 7 - 11; })},
      {"u8", DType::u8, {3}, values(3, [](double i) { return std::fmod(i * 37 + 200, 256); })},
      {"bool", DType::boolean, {5}, values(5, [](double i) { return std::fmod(i, 3) == 0; })},
      {"scalar", DType::f32, {}, {3.5}},
      {"empty", DType::f32, {0, 3}, {}},
  };
}

const std::vector<std::string> kOddNames = {"a\"q",      "back\\slash", "\xc3\xa9-\xc3\xbc",
                                            "tab\tnl\n", "ctl\x01",     "layer1.0.conv1.weight"};

struct Case {
  std::string name;
  std::vector<Spec> tensors;
  std::map<std::string, std::string> metadata;
};

std::vector<Case> recipe_cases() {
  std::vector<Spec> odd;
  for (size_t i = 0; i < kOddNames.size(); ++i)
    odd.push_back({kOddNames[i], DType::f32, {1}, {double(i)}});
  return {
      {"all_dtypes", all_dtypes(), {{"format", "pt"}}},
      {"names", odd, {{"k\"ey", "v\\al\nue \xc3\xa9"}}},
      {"multi_meta", {{"w", DType::f32, {2}, {1.0, -2.0}}}, {{"a", "1"}, {"b", "2"}, {"c", "3"}}},
      {"empty", {}, {}},
  };
}

NamedTensors make(const std::vector<Spec>& specs) {
  NamedTensors out;
  for (const Spec& s : specs)
    out.emplace_back(s.name, Tensor::from_vector<double>(s.values, s.shape, s.dtype));
  return out;
}

void check_matches(const SafetensorsFile& f, const std::vector<Spec>& specs) {
  REQUIRE(f.tensors.size() == specs.size());
  for (const Spec& s : specs) {
    INFO("tensor ", s.name);
    auto it = std::find_if(f.tensors.begin(), f.tensors.end(),
                           [&](const auto& p) { return p.first == s.name; });
    REQUIRE(it != f.tensors.end());
    CHECK(it->second.dtype() == s.dtype);
    CHECK(it->second.shape() == s.shape);
    CHECK(it->second.to_vector<double>() == s.values);
  }
}

}  // namespace

TEST_CASE("safetensors: round trip of every dtype, 0-D and empty tensors") {
  TempDir dir;
  std::string path = dir.file("all.safetensors");
  save_safetensors(path, make(all_dtypes()));
  SafetensorsFile f = load_safetensors(path);
  check_matches(f, all_dtypes());
  CHECK(f.metadata.empty());
  // File order is the reference writer's: descending dtype, then name.
  std::vector<std::string> order;
  for (const auto& [name, t] : f.tensors) order.push_back(name);
  CHECK(order == std::vector<std::string>{"i64", "f64", "empty", "f32", "scalar", "i32", "bf16",
                                          "f16", "u8", "bool"});
  std::string bytes = read_bytes(path);
  uint64_t n = uint8_t(bytes[0]) | uint64_t(uint8_t(bytes[1])) << 8;
  CHECK(n % 8 == 0);
  CHECK(!contains(bytes.substr(8, n), "__metadata__"));  // as metadata=None writes
  CHECK(load_safetensors(path).tensors.size() == 10);    // loads twice from one file
}

TEST_CASE("safetensors: metadata round trip") {
  TempDir dir;
  std::map<std::string, std::string> meta = {{"format", "pt"},
                                             {"quote\"back\\slash", "line\nbreak\ttab\x01"},
                                             {"", ""},
                                             {"\xe2\x82\xac", "\xf0\x9f\x98\x80"}};
  save_safetensors(dir.file("m.safetensors"), make(all_dtypes()), meta);
  SafetensorsFile f = load_safetensors(dir.file("m.safetensors"));
  CHECK(f.metadata == meta);
  save_safetensors(dir.file("only.safetensors"), {}, {{"k", "v"}});
  f = load_safetensors(dir.file("only.safetensors"));
  CHECK(f.tensors.empty());
  CHECK(f.metadata == std::map<std::string, std::string>{{"k", "v"}});
}

TEST_CASE("safetensors: the writer's bytes are the reference serializer's") {
  // Expected bytes recorded from safetensors 0.8.0 (Python), serialize() of the same tensors.
  TempDir dir;
  NamedTensors ts = {
      {"b", Tensor::from_vector<float>({1, 2}, {2})},
      {"a\"\\\n\x01\x7f\xc3\xa9/", Tensor::from_vector<float>({1}, {1}, DType::bf16)},
      {"c", Tensor::from_vector<int64_t>({5}, {}, DType::i64)},
      {"c2", Tensor::from_vector<double>({5}, {}, DType::f64)},
      {"z", Tensor::empty({0, 3}, DType::boolean)},
  };
  save_safetensors(dir.file("ref.safetensors"), ts, {{"x", "1"}});
  std::string header =
      R"({"__metadata__":{"x":"1"},"c":{"dtype":"I64","shape":[],"data_offsets":[0,8]},)"
      R"("c2":{"dtype":"F64","shape":[],"data_offsets":[8,16]},)"
      R"("b":{"dtype":"F32","shape":[2],"data_offsets":[16,24]},)"
      "\"a\\\"\\\\\\n\\u0001\x7f\xc3\xa9/\""
      R"(:{"dtype":"BF16","shape":[1],"data_offsets":[24,26]},)"
      R"("z":{"dtype":"BOOL","shape":[0,3],"data_offsets":[26,26]}})";
  header.append((8 - header.size() % 8) % 8, ' ');
  std::string data = le64(5) + std::string("\0\0\0\0\0\0\x14\x40", 8) +
                     std::string("\0\0\x80\x3f\0\0\0\x40", 8) + std::string("\x80\x3f", 2);
  CHECK(read_bytes(dir.file("ref.safetensors")) == st_file(header, data));
  save_safetensors(dir.file("none.safetensors"), {});
  CHECK(read_bytes(dir.file("none.safetensors")) == st_file("{}      "));
}

TEST_CASE("safetensors: loaded tensors are views of the mapping and outlive the file object") {
  TempDir dir;
  std::string path = dir.file("view.safetensors");
  save_safetensors(path, make(all_dtypes()));
  std::string canonical = fs::canonical(path).string();
  Tensor f32, bf16;
  {
    SafetensorsFile f = load_safetensors(path);
    // Every non-empty tensor's bytes lie in a mapping of this very file.
    std::ifstream maps("/proc/self/maps");
    std::vector<std::pair<uintptr_t, uintptr_t>> ranges;
    for (std::string line; std::getline(maps, line);) {
      if (line.size() < canonical.size() ||
          line.compare(line.size() - canonical.size(), canonical.size(), canonical) != 0)
        continue;
      uintptr_t lo = std::stoull(line.substr(0, line.find('-')), nullptr, 16);
      uintptr_t hi = std::stoull(line.substr(line.find('-') + 1), nullptr, 16);
      ranges.emplace_back(lo, hi);
    }
    REQUIRE(ranges.size() >= 1);
    for (const auto& [name, t] : f.tensors) {
      if (t.numel() == 0) continue;
      INFO("tensor ", name);
      auto p = reinterpret_cast<uintptr_t>(t.raw_data());
      bool inside = std::any_of(ranges.begin(), ranges.end(),
                                [&](auto r) { return p >= r.first && p + t.nbytes() <= r.second; });
      CHECK(inside);
    }
    f32 = f.tensors[3].second;
    bf16 = f.tensors[6].second;
    REQUIRE(f.tensors[3].first == "f32");
  }
  fs::remove(path);  // the mapping, and so the tensors, survive the name too
  CHECK(f32.to_vector<double>() == all_dtypes()[0].values);
  CHECK(bf16.to_vector<double>() == all_dtypes()[3].values);
  // Writing to a loaded tensor is private copy-on-write: the file keeps its values.
  save_safetensors(path, make(all_dtypes()));
  Tensor w = load_safetensors(path).tensors[3].second;
  w.fill_(9);
  CHECK(w.to_vector<double>() == std::vector<double>(6, 9.0));
  CHECK(load_safetensors(path).tensors[3].second.to_vector<double>() == all_dtypes()[0].values);
}

TEST_CASE("safetensors: misaligned data and BOOL bytes other than 0/1 load as copies") {
  TempDir dir;
  // One space of padding puts the data at file offset 63: misaligned for float32.
  std::string h = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  REQUIRE((8 + h.size() + 1) % 4 != 0);
  std::string data = std::string("\0\0\x80\x3f\0\0\0\xc0", 8);  // 1, -2
  write_bytes(dir.file("mis.safetensors"), st_file(h + std::string(1, ' '), data));
  SafetensorsFile f = load_safetensors(dir.file("mis.safetensors"));
  CHECK(f.tensors[0].second.to_vector<float>() == std::vector<float>{1, -2});
  CHECK(reinterpret_cast<uintptr_t>(f.tensors[0].second.raw_data()) % 4 == 0);
  write_bytes(dir.file("bool.safetensors"),
              st_file(R"({"b":{"dtype":"BOOL","shape":[3],"data_offsets":[0,3]}})",
                      std::string("\x00\x02\x01", 3)));
  f = load_safetensors(dir.file("bool.safetensors"));
  CHECK(f.tensors[0].second.to_vector<int32_t>() == std::vector<int32_t>{0, 1, 1});
}

TEST_CASE("safetensors: reads what the reference accepts beyond what whet writes") {
  TempDir dir;
  // Tensors listed out of offset order, extra fields, `null` metadata, empty tensors sharing an
  // offset, leading and trailing whitespace.
  std::string h =
      " {\"__metadata__\":null,"
      R"("z":{"dtype":"U8","shape":[2],"data_offsets":[4,6],"extra":[1,{"x":2}]},)"
      R"("e1":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},)"
      R"("e2":{"dtype":"F64","shape":[2,0],"data_offsets":[4,4]},)"
      R"("a":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}}   )";
  write_bytes(dir.file("any.safetensors"), st_file(h, std::string("\x07\0\0\0\x01\x02", 6)));
  SafetensorsFile f = load_safetensors(dir.file("any.safetensors"));
  std::vector<std::string> names;
  for (const auto& [n, t] : f.tensors) names.push_back(n);
  CHECK(names == std::vector<std::string>{"a", "e1", "e2", "z"});
  CHECK(f.tensors[0].second.to_vector<int32_t>() == std::vector<int32_t>{7});
  CHECK(f.tensors[2].second.shape() == Shape{2, 0});
  CHECK(f.tensors[3].second.to_vector<int32_t>() == std::vector<int32_t>{1, 2});
  CHECK(f.metadata.empty());
}

TEST_CASE("safetensors: other dtypes convert exactly or are rejected by name") {
  TempDir dir;
  auto one = [&](const std::string& dtype, const std::string& shape, const std::string& bytes) {
    std::string p = dir.file(dtype + ".safetensors");
    write_bytes(p, st_file("{\"t\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape +
                               ",\"data_offsets\":[0," + std::to_string(bytes.size()) + "]}}",
                           bytes));
    return p;
  };
  auto loaded = [](const std::string& p) { return load_safetensors(p).tensors.at(0).second; };
  Tensor t = loaded(one("I8", "[2]", "\xff\x05"));
  CHECK((t.dtype() == DType::i32 && t.to_vector<int32_t>() == std::vector<int32_t>{-1, 5}));
  t = loaded(one("I16", "[1]", std::string("\x00\x80", 2)));
  CHECK((t.dtype() == DType::i32 && t.to_vector<int32_t>() == std::vector<int32_t>{-32768}));
  t = loaded(one("U16", "[1]", "\xff\xff"));
  CHECK((t.dtype() == DType::i32 && t.to_vector<int32_t>() == std::vector<int32_t>{65535}));
  t = loaded(one("U32", "[1]", "\xff\xff\xff\xff"));
  CHECK((t.dtype() == DType::i64 && t.item() == 4294967295.0));
  t = loaded(one("U64", "[1]", std::string("\x05\0\0\0\0\0\0\0", 8)));
  CHECK((t.dtype() == DType::i64 && t.item() == 5.0));
  // E4M3: 0x38 = 1, 0xc4 = -1.5 * 2^1, 0x7e = 448 (the largest), 0x01 = 2^-9, 0x7f = NaN
  t = loaded(one("F8_E4M3", "[5]", "\x38\xc4\x7e\x01\x7f"));
  std::vector<float> v = t.to_vector<float>();
  CHECK(t.dtype() == DType::f32);
  CHECK(v[0] == 1.0f);
  CHECK(v[1] == -3.0f);
  CHECK(v[2] == 448.0f);
  CHECK(v[3] == std::ldexp(1.0f, -9));
  CHECK(std::isnan(v[4]));
  v = loaded(one("F8_E5M2", "[3]", "\x3c\xc0\x7c")).to_vector<float>();  // 1, -2, inf
  CHECK((v[0] == 1.0f && v[1] == -2.0f && std::isinf(v[2])));
  v = loaded(one("F8_E8M0", "[3]", "\x7f\x80\xff")).to_vector<float>();  // 1, 2, NaN
  CHECK((v[0] == 1.0f && v[1] == 2.0f && std::isnan(v[2])));

  std::string p = one("U64", "[1]", std::string(8, '\xff'));
  CHECK(contains(load_error(p), "does not fit int64"));
  CHECK(contains(load_error(p), p));
  for (const char* dt : {"C64", "F4", "F6_E2M3"}) {
    std::string bytes(std::string(dt) == "C64" ? 8 : std::string(dt) == "F4" ? 2 : 3, '\0');
    p = one(dt, std::string(dt) == "C64" ? "[1]" : "[4]", bytes);
    std::string e = load_error(p);
    INFO(e);
    CHECK(contains(e, p));
    CHECK(contains(e, std::string("unsupported dtype ") + dt));
  }
}

TEST_CASE("safetensors: each malformed file is rejected naming the file and the problem") {
  TempDir dir;
  const std::string f4 = R"({"dtype":"F32","shape":[1],"data_offsets":[0,4]})";
  auto one = [](const std::string& name, const std::string& body) {
    return "{\"" + name + "\":" + body + "}";
  };
  std::string deep = "{\"a\":" + std::string(200, '[') + std::string(200, ']') + "}";
  struct Bad {
    std::string label;
    std::string bytes;
    std::string expect;
  };
  const std::string zeros4(4, '\0');
  std::vector<Bad> cases = {
      {"empty file", "", "too short"},
      {"7 bytes", "\x02\0\0\0\0\0\0", "too short"},
      {"header above 100 MB", le64(100000001) + "{}", "above the 100000000-byte limit"},
      {"header length 2^64-1", le64(~uint64_t(0)) + "{}", "above the 100000000-byte limit"},
      {"header past the end", le64(64) + "{}", "runs past the end of the file"},
      {"invalid UTF-8", st_file("{\"a\xff\":1}"), "not valid UTF-8"},
      {"UTF-8 surrogate", st_file("{\"\xed\xa0\x80\":1}"), "not valid UTF-8"},
      {"invalid JSON", st_file("{\"a\":"), "not valid JSON"},
      {"JSON then garbage", st_file("{} x"), "not valid JSON"},
      {"NUL padding", st_file(std::string("{}\0\0", 4)), "not valid JSON: NUL byte"},
      {"byte-order mark", st_file("\xef\xbb\xbf{}"), "byte-order mark"},
      {"not an object", st_file("[]"), "must be a JSON object, not array"},
      {"nested too deep", st_file(deep), "nests deeper than 128"},
      {"duplicate tensor", st_file("{\"w\":" + f4 + ",\"w\":" + f4 + "}", zeros4),
       "duplicate tensor name \"w\""},
      {"duplicate field",
       st_file(one("w", R"({"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]})"),
               zeros4),
       "tensor \"w\": duplicate field \"dtype\""},
      {"duplicate metadata key", st_file(R"({"__metadata__":{"k":"a","k":"b"}})"),
       "duplicate key \"k\" in \"__metadata__\""},
      {"entry not an object", st_file(one("w", "3")), "tensor \"w\": entry must be an object"},
      {"unknown dtype", st_file(one("w", R"({"dtype":"F128","shape":[],"data_offsets":[0,0]})")),
       "unknown dtype \"F128\""},
      {"dtype not a string", st_file(one("w", R"({"dtype":5,"shape":[],"data_offsets":[0,0]})")),
       "\"dtype\" must be a string"},
      {"missing dtype", st_file(one("w", R"({"shape":[1],"data_offsets":[0,4]})"), zeros4),
       "missing field \"dtype\""},
      {"missing shape", st_file(one("w", R"({"dtype":"F32","data_offsets":[0,4]})"), zeros4),
       "missing field \"shape\""},
      {"missing offsets", st_file(one("w", R"({"dtype":"F32","shape":[1]})"), zeros4),
       "missing field \"data_offsets\""},
      {"shape not an array", st_file(one("w", R"({"dtype":"F32","shape":4,"data_offsets":[0,4]})")),
       "\"shape\" must be an array"},
      {"negative extent", st_file(one("w", R"({"dtype":"F32","shape":[-1],"data_offsets":[0,4]})")),
       "non-negative integers"},
      {"fractional extent",
       st_file(one("w", R"({"dtype":"F32","shape":[1.0],"data_offsets":[0,4]})")),
       "non-negative integers"},
      {"offset -0", st_file(one("w", R"({"dtype":"F32","shape":[1],"data_offsets":[-0,4]})")),
       "\"data_offsets\" must be [begin, end]"},
      {"one offset", st_file(one("w", R"({"dtype":"F32","shape":[1],"data_offsets":[0]})")),
       "\"data_offsets\" must be [begin, end]"},
      {"offset as string",
       st_file(one("w", R"({"dtype":"F32","shape":[1],"data_offsets":["0",4]})")),
       "\"data_offsets\" must be [begin, end]"},
      {"reversed offsets", st_file(one("w", R"({"dtype":"F32","shape":[1],"data_offsets":[4,0]})")),
       "end before they begin"},
      {"element count overflows",
       st_file(
           one("w", R"({"dtype":"U8","shape":[4294967296,4294967296,0],"data_offsets":[0,0]})")),
       "overflows a 64-bit element count"},
      {"byte count overflows",
       st_file(one("w", R"({"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,0]})")),
       "overflows a 64-bit byte count"},
      {"partial bytes",
       st_file(one("w", R"({"dtype":"F4","shape":[3],"data_offsets":[0,1]})"), "x"),
       "do not fill a whole number of bytes"},
      {"size disagrees with offsets",
       st_file(one("w", R"({"dtype":"F32","shape":[2],"data_offsets":[0,4]})"), zeros4),
       "needs 8 bytes but data_offsets [0,4] hold 4"},
      {"offsets out of bounds", st_file(one("w", f4)), "past the end of the data buffer (0 bytes)"},
      {"overlap",
       st_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
               R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
               std::string(12, '\0')),
       "tensor \"b\" bytes [4, 12) overlap tensor \"a\""},
      {"gap",
       st_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
               R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
               std::string(12, '\0')),
       "gap in the data buffer: tensor \"b\" starts at byte 8"},
      {"gap at the start",
       st_file(one("w", R"({"dtype":"F32","shape":[1],"data_offsets":[4,8]})"),
               std::string(8, '\0')),
       "gap in the data buffer: tensor \"w\" starts at byte 4"},
      {"trailing bytes", st_file(one("w", f4), std::string(7, '\0')),
       "3 trailing bytes after the last tensor"},
      {"data but no tensors", st_file("{}", "abc"), "3 trailing bytes"},
      {"tensor named __metadata__", st_file(one("__metadata__", f4), zeros4),
       "a tensor is named \"__metadata__\""},
      {"metadata not an object", st_file(R"({"__metadata__":"v"})"),
       "\"__metadata__\" must be an object of strings, not string"},
      {"metadata value not a string", st_file(R"({"__metadata__":{"k":1}})"),
       "\"__metadata__\" value for key \"k\" must be a string, not number"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const Bad& b = cases[i];
    std::string path = dir.file("bad" + std::to_string(i) + ".safetensors");
    write_bytes(path, b.bytes);
    std::string e = load_error(path);
    INFO(b.label, ": ", e);
    CHECK(contains(e, "load_safetensors: " + path + ": "));
    CHECK(contains(e, b.expect));
  }
  std::string missing = dir.file("no_such.safetensors");
  CHECK(contains(load_error(missing), missing + ": cannot open"));
  CHECK(contains(load_error(dir.path.string()), "not a regular file"));
}

TEST_CASE("safetensors: the write is atomic and leaves no temporary file") {
  TempDir dir;
  std::string path = dir.file("a.safetensors");
  save_safetensors(path, make(all_dtypes()));
  CHECK(dir.entries() == std::vector<std::string>{"a.safetensors"});
  save_safetensors(path, {{"x", ones({2})}});  // replaces the old file whole
  CHECK(dir.entries() == std::vector<std::string>{"a.safetensors"});
  CHECK(load_safetensors(path).tensors.size() == 1);
  // A bare file name: the temporary file goes in the current directory.
  fs::path cwd = fs::current_path();
  fs::current_path(dir.path);
  save_safetensors("rel.safetensors", {{"x", ones({1})}});
  fs::current_path(cwd);
  CHECK(dir.entries() == std::vector<std::string>{"a.safetensors", "rel.safetensors"});
}

TEST_CASE("safetensors: a failing write throws naming the path and leaves nothing behind") {
  TempDir dir;
  NamedTensors ts = {{"w", ones({16384})}};  // 64 KiB
  std::string nodir = dir.file("missing/w.safetensors");
  std::string e = error_of([&] { save_safetensors(nodir, ts); });
  CHECK(contains(e, "save_safetensors: " + nodir + ": cannot create a temporary file"));
  write_bytes(dir.file("plain"), "x");
  std::string under_file = dir.file("plain/w.safetensors");
  CHECK(contains(error_of([&] { save_safetensors(under_file, ts); }), under_file));

  if (geteuid() != 0) {
    fs::create_directory(dir.file("ro"));
    fs::permissions(dir.file("ro"), fs::perms::owner_read | fs::perms::owner_exec);
    std::string ro = dir.file("ro/w.safetensors");
    CHECK(contains(error_of([&] { save_safetensors(ro, ts); }), ro));
    fs::permissions(dir.file("ro"), fs::perms::owner_all);
  } else {
    MESSAGE("read-only directory case skipped: running as root, which may write anywhere");
  }

  // Disk full, simulated by a file-size limit: write() fails part-way with EFBIG.
  std::string full = dir.file("full.safetensors");
  write_bytes(full, "old contents");
  struct rlimit old;
  REQUIRE(getrlimit(RLIMIT_FSIZE, &old) == 0);
  struct rlimit small = old;
  small.rlim_cur = 4096;
  auto old_handler = signal(SIGXFSZ, SIG_IGN);
  REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0);
  e = error_of([&] { save_safetensors(full, ts); });
  setrlimit(RLIMIT_FSIZE, &old);
  signal(SIGXFSZ, old_handler);
  CHECK(contains(e, "save_safetensors: " + full + ": write failed"));
  CHECK(read_bytes(full) == "old contents");  // the old file is untouched

  // Refused before any file exists.
  std::string p = dir.file("refused.safetensors");
  CHECK(contains(error_of([&] {
                   save_safetensors(p, {{"a", ones({1})}, {"a", ones({1})}});
                 }),
                 "duplicate tensor name \"a\""));
  CHECK(contains(error_of([&] {
                   save_safetensors(p, {{"__metadata__", ones({1})}});
                 }),
                 "may not be named \"__metadata__\""));
  CHECK(contains(error_of([&] { save_safetensors(p, {{"u", Tensor()}}); }), "undefined"));
  CHECK(contains(error_of([&] {
                   save_safetensors(p, {{"bad\xff", ones({1})}});
                 }),
                 "not valid UTF-8"));
  CHECK(dir.entries() == std::vector<std::string>{"full.safetensors", "plain"});
}

TEST_CASE("safetensors: python round trip with the reference package") {
  const char* env_dir = std::getenv("WHET_PY_ROUNDTRIP_DIR");
  const char* env_py = std::getenv("WHET_PYTHON");
  std::string python = env_py && *env_py ? env_py : "python3";
  TempDir tmp;
  fs::path root = env_dir && *env_dir ? fs::path(env_dir) : tmp.path;
  fs::create_directories(root / "whet");
  for (const Case& c : recipe_cases())
    save_safetensors((root / "whet" / (c.name + ".safetensors")).string(), make(c.tensors),
                     c.metadata);

  std::string script =
      std::string(WHET_SOURCE_DIR) + "/tools/golden/check_safetensors_roundtrip.py";
  std::string log = (root / "roundtrip.log").string();
  std::string cmd =
      "'" + python + "' '" + script + "' '" + root.string() + "' > '" + log + "' 2>&1";
  int status = std::system(cmd.c_str());
  int rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::string out = read_bytes(log);
  if (rc != 0 && !(env_dir && *env_dir) && (rc == 77 || rc == 127)) {
    MESSAGE("python round trip skipped: ", python, " exited ", rc, ": ", out,
            "(pip install safetensors numpy, or set WHET_PYTHON; setting WHET_PY_ROUNDTRIP_DIR "
            "makes this a failure)");
    return;
  }
  INFO(cmd, "\n", out);
  REQUIRE(rc == 0);
  for (const Case& c : recipe_cases()) {
    INFO("python-written case ", c.name);
    SafetensorsFile f = load_safetensors((root / "python" / (c.name + ".safetensors")).string());
    check_matches(f, c.tensors);
    CHECK(f.metadata == c.metadata);
  }
  std::vector<Spec> no_bf16;
  for (const Spec& s : all_dtypes())
    if (s.dtype != DType::bf16) no_bf16.push_back(s);
  SafetensorsFile f = load_safetensors((root / "python" / "numpy.safetensors").string());
  check_matches(f, no_bf16);
  CHECK(f.metadata == std::map<std::string, std::string>{{"format", "np"}});
}
