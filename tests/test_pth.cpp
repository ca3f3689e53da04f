// PyTorch .pth reading: real torch.save files (tools/golden/make_pth_fixtures.py) checked
// name by name, dtype by dtype and byte by byte; every malformed file refused with an error
// naming the file and the problem; the restricted unpickler on hand-written and damaged input.
#include <doctest/doctest.h>

#include "tests/temp_dir.h"
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "io/pth.h"
#include "io/safetensors.h"
#include "io/unpickler.h"
#include "io/zip_reader.h"

using namespace whet;
namespace fs = std::filesystem;

namespace {

std::string fixture(const std::string& name) {
  return std::string(WHET_SOURCE_DIR) + "/tests/data/pth/" + name;
}

std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), std::streamsize(bytes.size()));
  REQUIRE(f.good());
}

using whet_test::TempDir;

// The message load_pth throws for `path`, or "" when it loads.
std::string load_error(const std::string& path) {
  try {
    io::load_pth(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// A string literal with its embedded NULs kept.
#define B(literal) std::string(literal, sizeof(literal) - 1)

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::map<std::string, Tensor> expected_values() {
  std::map<std::string, Tensor> out;
  for (auto& [name, t] : io::load_safetensors(fixture("expected.safetensors")).tensors)
    out[name] = t;
  return out;
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         (a.nbytes() == 0 || std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0);
}

Tensor dummy_tensor(const io::pickle::StorageRef&, int64_t, const std::vector<int64_t>&,
                    const std::vector<int64_t>&) {
  return Tensor::empty({0});
}

// Runs the unpickler over `bytes` with tensors stubbed out; returns its error or "".
std::string unpickle_error(const std::string& bytes) {
  try {
    io::pickle::unpickle(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), dummy_tensor,
                         "test.pkl");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("pth: torch.save files load with torch's names, order, dtypes, shapes and values") {
  nlohmann::json expected;
  std::ifstream(fixture("expected.json")) >> expected;
  std::map<std::string, Tensor> values = expected_values();
  REQUIRE(expected.size() >= 9);
  for (const auto& [file, tensors] : expected.items()) {
    INFO(file);
    io::NamedTensors sd = io::load_pth(fixture(file));
    REQUIRE(sd.size() == tensors.size());
    for (size_t i = 0; i < sd.size(); ++i) {
      const auto& want = tensors[i];
      const auto& [name, t] = sd[i];
      INFO(name);
      CHECK(name == want["name"].get<std::string>());
      CHECK(std::string(dtype_name(t.dtype())) == want["dtype"].get<std::string>());
      Shape shape = want["shape"].get<Shape>();
      CHECK(t.shape() == shape);
      CHECK(same_bytes(t, values.at(file + "/" + name)));
    }
  }
}

TEST_CASE("pth: views of one storage share it - writes to loaded tensors never reach the file") {
  io::NamedTensors sd = io::load_pth(fixture("dtypes.pth"));
  std::map<std::string, Tensor> by_name(sd.begin(), sd.end());
  CHECK(by_name["shared_a"].to_vector<float>() == std::vector<float>{0, 1});
  CHECK(by_name["shared_b"].to_vector<float>() == std::vector<float>{2, 3, 4});
  CHECK(by_name["shared_a"].same_storage(by_name["shared_b"]));
  CHECK(by_name["scalar"].dim() == 0);
  CHECK(by_name["scalar"].item() == 3.5);

  const std::string before = read_bytes(fixture("tiny.pth"));
  {
    io::NamedTensors tiny = io::load_pth(fixture("tiny.pth"));
    tiny[0].second.fill_(42.0);  // conv.weight: a view of the copy-on-write mapping
    CHECK(tiny[0].second.to_vector<float>()[0] == 42.0f);
  }
  CHECK(read_bytes(fixture("tiny.pth")) == before);
  CHECK(io::load_pth(fixture("tiny.pth"))[0].second.to_vector<float>()[0] != 42.0f);
}

TEST_CASE("pth: a hand-written archive in torch's encoding loads (the encoding tests rely on)") {
  io::NamedTensors sd = io::load_pth(fixture("handmade_ok.pth"));
  REQUIRE(sd.size() == 1);
  CHECK(sd[0].first == "w");
  CHECK(sd[0].second.shape() == Shape{2, 2});
  CHECK(sd[0].second.to_vector<float>() == std::vector<float>{1, 2, 3, 4});
}

TEST_CASE("pth: every malformed or foreign file is refused, naming the file and the problem") {
  struct Case {
    const char* file;
    std::vector<const char*> parts;
  };
  const std::vector<Case> cases = {
      {"legacy.pth", {"legacy", "before PyTorch 1.6", "torch.save(torch.load("}},
      {"truncated.pth", {"end-of-central-directory", "truncated"}},
      {"bad_crc.pth", {"tiny/data/0", "CRC-32"}},
      {"bad_offset.pth", {"tiny/data.pkl", "local header"}},
      {"missing_storage.pth", {"storage '0'", "no entry tiny/data/0"}},
      {"storage_size.pth", {"storage '0'", "100 elements", "16 bytes"}},
      {"out_of_bounds.pth", {"size (2, 2)", "stride (2, 1)", "offset 1", "past the storage"}},
      {"forbidden_global.pth", {"data.pkl byte 2", "'os.system'", "not allowed"}},
      {"bad_opcode.pth", {"data.pkl byte 2", "EMPTY_SET", "0x8f", "not supported"}},
      {"whole_model.pth", {"not allowed", "model.state_dict()"}},
      {"no_state_dict.pth", {"no state dict found", "'net': dict of 9", "'epoch': int"}},
      {"list.pth", {"holds a list of 1", "not a state dict"}},
      {"torchscript.pt", {"TorchScript archive", "torch.save(model.state_dict()"}},
      {"plain.zip", {"without the <archive>/data.pkl record", "notes/readme.txt"}},
      {"no_such_file.pth", {"cannot open"}},
  };
  for (const Case& c : cases) {
    INFO(c.file);
    std::string msg = load_error(fixture(c.file));
    INFO(msg);
    CHECK(has(msg, "load_pth: " + fixture(c.file) + ": "));
    for (const char* part : c.parts) CHECK(has(msg, part));
  }

  TempDir dir;
  const std::vector<std::pair<std::string, std::string>> made = {
      {"", "the file is empty"},
      {"just some text, not a weights file", "not a PyTorch file"},
      {std::string("PK\x03\x04", 4) + std::string(40, 'x'), "end-of-central-directory"},
  };
  for (size_t i = 0; i < made.size(); ++i) {
    std::string path = dir.file("made" + std::to_string(i) + ".pth");
    write_bytes(path, made[i].first);
    std::string msg = load_error(path);
    INFO(msg);
    CHECK(has(msg, path));
    CHECK(has(msg, made[i].second));
  }
}

TEST_CASE("pth: damaged archives end in whet::Error, never a crash") {
  const std::string good = read_bytes(fixture("tiny.pth"));
  TempDir dir;
  const std::string path = dir.file("damaged.pth");
  std::mt19937 rng(1234);
  int refused = 0;
  for (int trial = 0; trial < 300; ++trial) {
    std::string bytes = good;
    if (trial % 3 == 0) {
      bytes.resize(rng() % bytes.size());
    } else {
      for (int k = 0; k < 1 + trial % 4; ++k) bytes[rng() % bytes.size()] ^= char(1 + rng() % 255);
    }
    write_bytes(path, bytes);
    try {
      io::load_pth(path);
    } catch (const Error& e) {
      ++refused;
      CHECK(has(e.what(), path));
    }
  }
  CHECK(refused > 200);  // most damage is detected (CRC, structure); the rest loads intact
}

TEST_CASE("pth: the unpickler refuses unknown opcodes and globals at the byte where they are") {
  const std::string p2 = "\x80\x02";
  CHECK(has(unpickle_error(p2 + "cposix\nsystem\n."), "byte 2: pickle global 'posix.system'"));
  CHECK(has(unpickle_error(p2 + "\x8c\x02os\x8c\x06system\x93."), "'os.system' is not allowed"));
  CHECK(has(unpickle_error(p2 + "(i__builtin__\nobject\n."), "INST"));
  CHECK(has(unpickle_error(p2 + B("}q\x00")), "ends without STOP"));
  CHECK(has(unpickle_error(p2 + B("X\xff\x00\x00\x00"
                                  "ab.")),
            "truncated inside an opcode"));
  CHECK(has(unpickle_error(p2 + "h\x05."), "memo entry 5 was never stored"));
  CHECK(has(unpickle_error(p2 + "\x8a\x09" + std::string(9, '\x01') + "."), "64 bits"));
  CHECK(has(unpickle_error(p2 + B("X\x02\x00\x00\x00\xc3\x28.")), "not valid UTF-8"));
  CHECK(has(unpickle_error(p2 + "K\x01K\x02K\x03s."), "SETITEM(S) on a int"));
  CHECK(has(unpickle_error("\x80\x06."), "protocol 6"));
  CHECK(has(unpickle_error(p2 + "ccollections\nOrderedDict\nK\x01\x85R."),
            "OrderedDict called with arguments"));
  CHECK(has(unpickle_error(p2 + "ctorch\nFloatStorage\n)R."), "cannot be called"));
  CHECK(unpickle_error(p2 + B("}X\x01\x00\x00\x00"
                              "aK\x07s."))
            .empty());
}

TEST_CASE("pth: the unpickler builds plain data as pickle does, at any depth") {
  // {"a": [1, -2, 3.5, True, None], 7: "x", 8: <the same list, from the memo>}
  const std::string bytes =
      B("\x80\x02}(X\x01\x00\x00\x00"
        "a]q\x01(K\x01J\xfe\xff\xff\xff"
        "G\x40\x0c\x00\x00\x00\x00\x00\x00"
        "\x88N"
        "eK\x07X\x01\x00\x00\x00"
        "xK\x08h\x01u.");
  auto u = io::pickle::unpickle(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(),
                                dummy_tensor, "t");
  const io::pickle::Value* a = io::pickle::dict_get(u.root, "a");
  REQUIRE(a);
  REQUIRE(a->kind == io::pickle::Kind::list);
  const auto& items = a->o->items;
  REQUIRE(items.size() == 5);
  CHECK(items[0].i == 1);
  CHECK(items[1].i == -2);
  CHECK(items[2].f == 3.5);
  CHECK(items[3].kind == io::pickle::Kind::boolean);
  CHECK(items[4].kind == io::pickle::Kind::none);
  REQUIRE(u.root.o->entries.size() == 3);
  CHECK(u.root.o->entries[1].second.o->text == "x");
  CHECK(u.root.o->entries[2].second.o == a->o);

  // A million nested lists: built and freed without recursion.
  const size_t depth = 1000000;
  std::string deep = "\x80\x02" + std::string(depth, ']') + std::string(depth - 1, 'a') + ".";
  CHECK(unpickle_error(deep).empty());
}

TEST_CASE("pth: the unpickler survives random damage to a real data.pkl") {
  auto file = io::MappedFile::open(fixture("tiny.pth"));
  io::ZipReader zip(file, "tiny.pth");
  io::ZipBytes pkl = zip.read(*zip.find("tiny/data.pkl"));
  const std::string good(reinterpret_cast<const char*>(pkl.data.get()), pkl.size);
  CHECK(unpickle_error(good).empty());
  std::mt19937 rng(99);
  for (int trial = 0; trial < 2000; ++trial) {
    std::string bytes = good;
    if (trial % 4 == 0) bytes.resize(rng() % bytes.size());
    for (int k = 0; k < 1 + trial % 3; ++k) bytes[rng() % bytes.size()] = char(rng());
    unpickle_error(bytes);  // must return (refused or not), not crash
  }
}

TEST_CASE("pth: a zero-length DEFLATE entry reads as empty (tools/golden/make_zip_fixtures.py)") {
  auto file = io::MappedFile::open(fixture("empty_entry.zip"));
  io::ZipReader zip(file, "empty_entry.zip");
  REQUIRE(zip.find("archive/empty.bin"));
  CHECK(zip.read(*zip.find("archive/empty.bin")).size == 0);
  const io::ZipBytes stored = zip.read(*zip.find("archive/data.bin"));
  CHECK(std::string(reinterpret_cast<const char*>(stored.data.get()), stored.size) == "abc");
}
