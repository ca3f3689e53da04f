#include "train/checkpoint.h"

#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "io/pth.h"
#include "io/safetensors.h"
#include "io/weights.h"

namespace whet::train {

namespace {
const Tensor* find(const nn::NamedTensors& sd, const std::string& name) {
  for (const auto& [k, t] : sd)
    if (k == name) return &t;
  return nullptr;
}

// The entry `name`, one element of an integer or a floating dtype. A damaged file can keep its
// layout and change a dtype's name ("I64" -> "F64"); converting such a float to an integer
// could even be undefined (a value past int64's range), so the dtype is checked too.
const Tensor& scalar_entry(const Checkpoint& c, const std::string& name, bool floating) {
  const std::string what = c.source.empty() ? "checkpoint" : "checkpoint " + c.source;
  const Tensor* t = find(c.tensors, name);
  WHET_CHECK(t, what, ": no entry '", name, "'");
  WHET_CHECK(t->numel() == 1, what, ": entry '", name, "' has shape ", shape_str(t->shape()),
             ", not one value");
  WHET_CHECK(is_floating(t->dtype()) == floating && t->dtype() != DType::boolean, what, ": entry '",
             name, "' is ", dtype_name(t->dtype()), ", not ",
             floating ? "a floating" : "an integer", " value");
  return *t;
}

int64_t bits_of(uint64_t v) {
  int64_t out;
  std::memcpy(&out, &v, sizeof out);
  return out;
}
uint64_t unsigned_of(int64_t v) {
  uint64_t out;
  std::memcpy(&out, &v, sizeof out);
  return out;
}
}  // namespace

void Checkpoint::add(const std::string& prefix, const nn::NamedTensors& part) {
  for (const auto& [k, t] : part) tensors.emplace_back(prefix + k, t);
}

void Checkpoint::add_int(const std::string& name, int64_t v) {
  tensors.emplace_back(name, Tensor::from_vector(std::vector<int64_t>{v}, {}, DType::i64));
}

void Checkpoint::add_real(const std::string& name, double v) {
  tensors.emplace_back(name, Tensor::from_vector(std::vector<double>{v}, {}, DType::f64));
}

nn::NamedTensors Checkpoint::part(const std::string& prefix) const {
  nn::NamedTensors out;
  for (const auto& [k, t] : tensors)
    if (k.compare(0, prefix.size(), prefix) == 0) out.emplace_back(k.substr(prefix.size()), t);
  return out;
}

int64_t Checkpoint::get_int(const std::string& name) const {
  return scalar_entry(*this, name, false).to_vector<int64_t>()[0];
}

double Checkpoint::get_real(const std::string& name) const {
  return scalar_entry(*this, name, true).to_vector<double>()[0];
}

void save_checkpoint(const std::string& path, const Checkpoint& c) {
  std::map<std::string, std::string> meta = c.metadata;
  meta["format"] = kCheckpointFormat;
  meta["version"] = "1";
  try {
    io::save_safetensors(path, c.tensors, meta);
  } catch (const Error& e) {
    WHET_FAIL("checkpoint not written (", e.what(), "); the previous ", path,
              std::filesystem::exists(path) ? " is intact" : " does not exist");
  }
}

Checkpoint load_checkpoint(const std::string& path) {
  WHET_CHECK(std::filesystem::exists(path), "no checkpoint at ", path);
  io::SafetensorsFile f = io::load_safetensors(path);
  auto it = f.metadata.find("format");
  WHET_CHECK(it != f.metadata.end() && it->second == kCheckpointFormat, path,
             " is not a whet training checkpoint (no format = ", kCheckpointFormat,
             " in its metadata)");
  return {std::move(f.tensors), std::move(f.metadata), path};
}

std::string last_checkpoint_path(const std::string& run_dir) {
  return (std::filesystem::path(run_dir) / "last.safetensors").string();
}

std::string best_checkpoint_path(const std::string& run_dir) {
  return (std::filesystem::path(run_dir) / "best.safetensors").string();
}

TrainConfig checkpoint_config(const Checkpoint& c, const std::string& source) {
  auto it = c.metadata.find("config");
  WHET_CHECK(it != c.metadata.end(), source, ": the checkpoint holds no configuration");
  TrainConfig cfg;
  apply_toml(cfg, it->second, source + " (config)");
  return cfg;
}

nn::NamedTensors checkpoint_weights(const std::string& path) {
  WHET_CHECK(!path.empty(), "no weights path");
  if (io::looks_like_pth(path)) return io::read_state_dict(path);
  io::SafetensorsFile f;
  try {
    f = io::load_safetensors(path);
  } catch (const Error&) {
    return io::read_state_dict(path);  // for its fuller message
  }
  auto it = f.metadata.find("format");
  if (it == f.metadata.end() || it->second != kCheckpointFormat) return f.tensors;
  // A run with --ema-decay validated, kept as best and saved its average: that is its model.
  Checkpoint ck{std::move(f.tensors), {}, path};
  nn::NamedTensors averaged = ck.part("ema.");
  return averaged.empty() ? ck.part("model.") : averaged;
}

nn::NamedTensors generator_state(const Generator& g) {
  return {
      {"seed", Tensor::from_vector(std::vector<int64_t>{bits_of(g.seed())}, {}, DType::i64)},
      {"offset", Tensor::from_vector(std::vector<int64_t>{bits_of(g.offset())}, {}, DType::i64)}};
}

void load_generator_state(Generator& g, const nn::NamedTensors& sd) {
  const Tensor* seed = find(sd, "seed");
  const Tensor* offset = find(sd, "offset");
  WHET_CHECK(seed && offset && seed->dtype() == DType::i64 && offset->dtype() == DType::i64,
             "checkpoint: generator state needs int64 seed and offset");
  g.manual_seed(unsigned_of(seed->to_vector<int64_t>()[0]));
  g.set_offset(unsigned_of(offset->to_vector<int64_t>()[0]));
}

}  // namespace whet::train
