#include "optim/state_io.h"

#include <sstream>

namespace whet::optim {

Tensor scalar_f64(double v) { return Tensor::scalar(v, DType::f64); }

Tensor vector_f64(const std::vector<double>& v) {
  return Tensor::from_vector<double>(v, {int64_t(v.size())});
}

StateReader::StateReader(const NamedTensors& sd, std::string what)
    : sd_(sd), what_(std::move(what)) {
  std::set<std::string> seen;
  for (const auto& [name, t] : sd_) {
    WHET_CHECK(seen.insert(name).second, what_, ": key '", name, "' appears twice");
    WHET_CHECK(t.defined(), what_, ": '", name, "' is an undefined tensor");
  }
}

bool StateReader::has(const std::string& key) const {
  for (const auto& kv : sd_)
    if (kv.first == key) return true;
  return false;
}

const Tensor& StateReader::tensor(const std::string& key) {
  for (const auto& kv : sd_) {
    if (kv.first != key) continue;
    used_.insert(key);
    return kv.second;
  }
  WHET_FAIL(what_, ": missing key '", key, "'");
}

double StateReader::scalar(const std::string& key) {
  const Tensor& t = tensor(key);
  WHET_CHECK(t.numel() == 1, what_, ": '", key, "' must hold one value, not shape ",
             shape_str(t.shape()));
  return t.item();
}

std::vector<double> StateReader::list(const std::string& key, int64_t expected_size) {
  const Tensor& t = tensor(key);
  WHET_CHECK(t.dim() == 1, what_, ": '", key, "' must be 1-D, not shape ", shape_str(t.shape()));
  WHET_CHECK(expected_size < 0 || t.numel() == expected_size, what_, ": '", key, "' holds ",
             t.numel(), " values, expected ", expected_size);
  return t.to_vector<double>();
}

NamedTensors StateReader::sub(const std::string& prefix) {
  NamedTensors out;
  for (const auto& [name, t] : sd_) {
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    used_.insert(name);
    out.emplace_back(name.substr(prefix.size()), t);
  }
  return out;
}

void StateReader::finish() const {
  std::ostringstream unused;
  int n = 0;
  for (const auto& kv : sd_)
    if (!used_.count(kv.first)) unused << (n++ ? ", " : "") << "'" << kv.first << "'";
  WHET_CHECK(n == 0, what_, ": unexpected key", n > 1 ? "s " : " ", unused.str());
}

void append_prefixed(NamedTensors& out, const std::string& prefix, const NamedTensors& sd) {
  for (const auto& [name, t] : sd) out.emplace_back(prefix + name, t);
}

}  // namespace whet::optim
