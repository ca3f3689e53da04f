// Reading the PyTorch parity fixtures of tools/golden/make_fixtures.py (tests/golden/).
#pragma once
#include <doctest/doctest.h>

#include <map>
#include <string>

#include "io/safetensors.h"
#include "tools/opcheck/opcheck.h"

namespace whet::golden {

// torch.testing.assert_close's default tolerances.
constexpr double kF32Rtol = 1.3e-6, kF32Atol = 1e-5;
constexpr double kF64Rtol = 1e-7, kF64Atol = 1e-7;

class Fixture {
 public:
  explicit Fixture(const std::string& file) {
    io::SafetensorsFile f = io::load_safetensors(std::string(WHET_SOURCE_DIR) + "/tests/golden/" + file);
    for (auto& [n, t] : f.tensors) tensors_[n] = t;
    metadata_ = f.metadata;
  }
  Tensor operator[](const std::string& name) const {
    auto it = tensors_.find(name);
    if (it == tensors_.end()) FAIL("fixture has no tensor '", name, "'");
    return it->second;
  }
  bool has(const std::string& name) const { return tensors_.count(name) > 0; }
  std::string metadata(const std::string& key) const {
    auto it = metadata_.find(key);
    if (it == metadata_.end()) FAIL("fixture has no metadata '", key, "'");
    return it->second;
  }
  // A fresh, writable copy (fixture tensors may be read-only views of the file).
  Tensor copy(const std::string& name) const { return (*this)[name].clone(); }

 private:
  std::map<std::string, Tensor> tensors_;
  std::map<std::string, std::string> metadata_;
};

// CHECKs a against expected at the given tolerances, naming what is compared.
inline void check_close(const std::string& what, const Tensor& actual, const Tensor& expected,
                        double rtol = kF32Rtol, double atol = kF32Atol) {
  opcheck::CheckResult r = opcheck::all_close(actual, expected, rtol, atol);
  INFO(what, ": ", r.message);
  CHECK(r.ok);
}

}  // namespace whet::golden
