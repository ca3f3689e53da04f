// Weights into and out of modules: PyTorch's OIHW conv weights become whet's OHWI (checked
// element by element and by running the model against torch's output), round trips through
// safetensors, non-strict head replacement reports, strict failures that change nothing, and
// `whet convert` run as a user would.
#include <doctest/doctest.h>

#include "tests/temp_dir.h"

#include "tests/cli_util.h"
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "golden_util.h"
#include "io/pth.h"
#include "io/safetensors.h"
#include "io/weights.h"
#include "nn/layers.h"

using namespace whet;
namespace fs = std::filesystem;

namespace {

std::string fixture(const std::string& name) {
  return std::string(WHET_SOURCE_DIR) + "/tests/data/pth/" + name;
}

using whet_test::TempDir;

// The model of tools/golden/make_pth_fixtures.py: conv + bn + linear, the same names.
struct Tiny : nn::Module {
  explicit Tiny(int64_t classes = 5) : nn::Module("Tiny") {
    conv = register_module("conv", std::make_shared<nn::Conv2d>(3, 4, 3, Conv2dOptions{1, 1}));
    bn = register_module("bn", std::make_shared<nn::BatchNorm2d>(4));
    fc = register_module("fc", std::make_shared<nn::Linear>(4, classes));
  }
  Tensor forward(const Tensor& x) override {  // x (N, H, W, C)
    Tensor y = relu((*bn)((*conv)(x)));
    return (*fc)(adaptive_avg_pool2d(y, 1).flatten(1));
  }
  std::shared_ptr<nn::Conv2d> conv;
  std::shared_ptr<nn::BatchNorm2d> bn;
  std::shared_ptr<nn::Linear> fc;
};

std::map<std::string, Tensor> expected_values() {
  std::map<std::string, Tensor> out;
  for (auto& [name, t] : io::load_safetensors(fixture("expected.safetensors")).tensors)
    out[name] = t;
  return out;
}

std::map<std::string, Tensor> snapshot(const nn::Module& m) {
  std::map<std::string, Tensor> out;
  for (const auto& [name, t] : m.state_dict()) out[name] = t.clone();
  return out;
}

bool equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.to_vector<double>() == b.to_vector<double>();
}

using whet_test::Run;
Run run_cli(const std::string& args) { return whet_test::run_whet(args); }

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("weights: OIHW conv weights from a .pth land in whet's OHWI layout") {
  auto want = expected_values();
  Tiny m;
  nn::LoadResult r = io::load_weights(m, fixture("tiny.pth"), /*strict=*/true);
  CHECK(r.ok());
  Tensor oihw = want.at("tiny.pth/conv.weight");  // (O, I, KH, KW)
  Tensor ohwi = m.conv->weight;                   // (O, KH, KW, I)
  REQUIRE(ohwi.shape() == Shape{4, 3, 3, 3});
  const float* a = oihw.data<float>();
  const float* b = ohwi.data<float>();
  int mismatches = 0;
  for (int o = 0; o < 4; ++o)
    for (int i = 0; i < 3; ++i)
      for (int h = 0; h < 3; ++h)
        for (int w = 0; w < 3; ++w)
          mismatches += a[((o * 3 + i) * 3 + h) * 3 + w] != b[((o * 3 + h) * 3 + w) * 3 + i];
  CHECK(mismatches == 0);
  for (const auto& [name, t] : m.state_dict()) {
    INFO(name);
    if (name != "conv.weight") CHECK(equal(t, want.at("tiny.pth/" + name)));
  }
  CHECK(m.bn->num_batches_tracked.item() == 7);
}

TEST_CASE("weights: a model loaded from a .pth computes torch's output") {
  auto want = expected_values();
  Tiny m;
  io::load_weights(m, fixture("tiny.pth"), true);
  m.eval();
  Tensor x = permute(want.at("tiny.input"), {0, 2, 3, 1});  // NCHW -> NHWC
  golden::check_close("tiny forward", m(x), want.at("tiny.output"));
}

TEST_CASE("weights: from/to_pytorch_layout permute 4-D floating tensors only, and invert") {
  Tensor w = Tensor::from_vector<float>(std::vector<float>(24, 0), {2, 3, 2, 2});
  float* p = w.data<float>();
  for (int i = 0; i < 24; ++i) p[i] = float(i);
  Tensor idx = Tensor::from_vector<int64_t>(std::vector<int64_t>(16, 1), {2, 2, 2, 2});
  Tensor lin = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  nn::NamedTensors sd = {{"w", w}, {"idx", idx}, {"lin", lin}};
  nn::NamedTensors whet_sd = io::from_pytorch_layout(sd);
  CHECK(whet_sd[0].second.shape() == Shape{2, 2, 2, 3});
  CHECK(whet_sd[0].second.to_vector<float>()[1] == 4.0f);  // [0, 0, 0, 1] <- OIHW [0, 1, 0, 0]
  CHECK(whet_sd[1].second.same_storage(idx));
  CHECK(whet_sd[2].second.same_storage(lin));
  nn::NamedTensors back = io::to_pytorch_layout(whet_sd);
  CHECK(back[0].first == "w");
  CHECK(equal(back[0].second, w));
}

TEST_CASE("weights: save_weights -> read_state_dict -> load_weights round-trips a model") {
  TempDir dir;
  Tiny a;
  io::load_weights(a, fixture("tiny.pth"), true);
  const std::string path = dir.file("tiny.safetensors");
  io::save_weights(a, path);

  // On disk: PyTorch's names, order-independent, and OIHW conv weights equal to the .pth's.
  auto want = expected_values();
  nn::NamedTensors sd = io::read_state_dict(path);
  CHECK(sd.size() == 9);
  for (const auto& [name, t] : sd) {
    INFO(name);
    CHECK(equal(t, want.at("tiny.pth/" + name)));
  }
  CHECK(io::load_safetensors(path).metadata.at("format") == "pt");

  Tiny b;
  CHECK(io::load_weights(b, path, true).ok());
  auto sa = snapshot(a), sb = snapshot(b);
  for (const auto& [name, t] : sa) {
    INFO(name);
    CHECK(equal(sb.at(name), t));
  }

  // The format is told by content, not by the file's name.
  fs::copy_file(fixture("tiny.pth"), dir.file("looks_like.safetensors"));
  fs::copy_file(path, dir.file("looks_like.pth"));
  CHECK(io::read_state_dict(dir.file("looks_like.safetensors")).size() == 9);
  CHECK(io::read_state_dict(dir.file("looks_like.pth")).size() == 9);
}

TEST_CASE("weights: a checkpoint converts to the model's dtype") {
  auto want = expected_values();
  Tiny m;
  m.to(DType::f64);
  CHECK(io::load_weights(m, fixture("tiny.pth"), true).ok());
  CHECK(m.fc->weight.dtype() == DType::f64);
  CHECK(m.bn->num_batches_tracked.dtype() == DType::i64);
  CHECK(equal(m.fc->weight, want.at("tiny.pth/fc.weight")));
}

TEST_CASE("weights: non-strict loading into a new head reports the head as shape mismatches") {
  auto want = expected_values();
  Tiny m(10);  // the checkpoint has 5 classes
  Tensor fc_before = m.fc->weight.clone();
  nn::LoadResult r = io::load_weights(m, fixture("tiny.pth"), /*strict=*/false);
  CHECK(r.missing.empty());
  CHECK(r.unexpected.empty());
  REQUIRE(r.shape_mismatch.size() == 2);
  CHECK(has(r.shape_mismatch[0], "fc.weight"));
  CHECK(has(r.shape_mismatch[1], "fc.bias"));
  CHECK(equal(m.fc->weight, fc_before));  // the head keeps its own initialisation
  CHECK(equal(m.bn->running_var, want.at("tiny.pth/bn.running_var")));
  CHECK(equal(m.conv->bias, want.at("tiny.pth/conv.bias")));
}

TEST_CASE("weights: a conv weight of another shape is reported in the file's OIHW layout") {
  struct TwoChannel : nn::Module {  // Tiny reading 2 input channels: whet holds (4, 3, 3, 2)
    TwoChannel() : nn::Module("Tiny") {
      register_module("conv", std::make_shared<nn::Conv2d>(2, 4, 3, Conv2dOptions{1, 1}));
      register_module("bn", std::make_shared<nn::BatchNorm2d>(4));
      register_module("fc", std::make_shared<nn::Linear>(4, 5));
    }
    Tensor forward(const Tensor& x) override { return x; }
  } m;
  nn::LoadResult r = io::load_weights(m, fixture("tiny.pth"), /*strict=*/false);
  REQUIRE(!r.shape_mismatch.empty());
  INFO(r.str());
  CHECK(has(r.shape_mismatch[0], "conv.weight: checkpoint (4, 3, 3, 3), model (4, 2, 3, 3)"));
}

TEST_CASE(
    "weights: strict loading that does not match throws, names file and keys, changes nothing") {
  Tiny m(10);
  auto before = snapshot(m);
  std::string msg;
  try {
    io::load_weights(m, fixture("tiny.pth"), /*strict=*/true);
  } catch (const Error& e) {
    msg = e.what();
  }
  INFO(msg);
  CHECK(has(msg, fixture("tiny.pth")));
  CHECK(has(msg, "fc.weight"));
  CHECK(has(msg, "fc.bias"));
  for (const auto& [name, t] : m.state_dict()) {
    INFO(name);
    CHECK(equal(t, before.at(name)));
  }
  // A broken file is refused the same way, naming it.
  std::string bad;
  try {
    io::load_weights(m, fixture("bad_crc.pth"));
  } catch (const Error& e) {
    bad = e.what();
  }
  CHECK(has(bad, fixture("bad_crc.pth")));
  CHECK(has(bad, "CRC-32"));
}

TEST_CASE("weights: whet convert writes a .pth as safetensors, names and layouts unchanged") {
  TempDir dir;
  auto want = expected_values();
  for (const char* src : {"tiny.pth", "wrapped.pth", "deflate.pth"}) {
    INFO(src);
    const std::string out = dir.file(std::string(src) + ".safetensors");
    Run r = run_cli("convert " + fixture(src) + " " + out);
    INFO(r.out);
    CHECK(r.status == 0);
    CHECK(has(r.out, "9 tensors"));
    CHECK(has(r.out, std::to_string((4 * 27 + 4 + 4 * 4 + 5 * 4 + 5) * 4 + 8) + " bytes"));
    io::SafetensorsFile f = io::load_safetensors(out);
    CHECK(f.tensors.size() == 9);
    for (const auto& [name, t] : f.tensors) {
      INFO(name);
      CHECK(equal(t, want.at("tiny.pth/" + name)));
      CHECK(t.dtype() == want.at("tiny.pth/" + name).dtype());
    }
  }
  // safetensors in, safetensors out (metadata kept).
  const std::string again = dir.file("again.safetensors");
  Run r2 = run_cli("convert " + dir.file("tiny.pth.safetensors") + " " + again);
  CHECK(r2.status == 0);
  CHECK(io::load_safetensors(again).metadata.at("format") == "pt");

  Run bad = run_cli("convert " + fixture("forbidden_global.pth") + " " + dir.file("x.safetensors"));
  CHECK(bad.status != 0);
  CHECK(has(bad.out, fixture("forbidden_global.pth")));
  CHECK(has(bad.out, "os.system"));
  CHECK(!fs::exists(dir.file("x.safetensors")));
  Run missing = run_cli("convert");
  CHECK(missing.status != 0);
}
