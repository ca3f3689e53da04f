#include "models/summary.h"

#include <algorithm>
#include <iomanip>
#include <map>
#include <sstream>

#include "core/autograd.h"
#include "nn/layers.h"

namespace whet::models {

namespace {
int64_t count(const nn::NamedTensors& ts) {
  int64_t n = 0;
  for (const auto& [name, t] : ts) n += t.numel();
  return n;
}

int64_t flops_of(const nn::Module& m, const Shape& out) {
  if (auto* conv = dynamic_cast<const nn::Conv2d*>(&m)) {
    const Shape& w = conv->weight.shape();  // (O, KH, KW, I/g)
    return 2 * numel(out) * w[1] * w[2] * w[3];
  }
  if (auto* lin = dynamic_cast<const nn::Linear*>(&m)) return 2 * numel(out) * lin->in_features;
  return 0;
}

// Stands in for a child during summarize()'s forward: runs it and notes what came out.
class Recorder : public nn::Module {
 public:
  Recorder(nn::ModulePtr inner, ModuleStats* stats)
      : Module(inner->type_name()), inner_(std::move(inner)), stats_(stats) {}
  Tensor forward(const Tensor& x) override {
    Tensor y = inner_->forward(x);
    if (stats_->calls++ == 0) stats_->output = y.shape();
    stats_->flops += flops_of(*inner_, y.shape());
    return y;
  }

 private:
  nn::ModulePtr inner_;
  ModuleStats* stats_;
};

// Puts recorders in place and takes them out again when it goes out of scope.
class RecorderScope {
 public:
  RecorderScope(nn::Module& model, std::vector<ModuleStats>& stats) {
    std::map<std::string, nn::Module*> by_path;
    for (auto& [path, m] : model.named_modules()) by_path[path] = m;
    for (size_t i = 1; i < stats.size(); ++i) {
      const std::string& path = stats[i].name;
      size_t dot = path.rfind('.');
      nn::Module* parent = by_path.at(dot == std::string::npos ? "" : path.substr(0, dot));
      std::string child = dot == std::string::npos ? path : path.substr(dot + 1);
      for (const auto& [n, c] : parent->named_children()) {
        if (n != child) continue;
        swapped_.push_back({parent, child, c});
        parent->replace_child(child, std::make_shared<Recorder>(c, &stats[i]));
        break;
      }
    }
  }
  ~RecorderScope() {
    for (auto it = swapped_.rbegin(); it != swapped_.rend(); ++it)
      it->parent->replace_child(it->name, it->original);
  }
  RecorderScope(const RecorderScope&) = delete;
  RecorderScope& operator=(const RecorderScope&) = delete;

 private:
  struct Swap {
    nn::Module* parent;
    std::string name;
    nn::ModulePtr original;
  };
  std::vector<Swap> swapped_;
};

// Restores each module's own train/eval flag (a model may mix them), parents first so a
// recursive train() of a parent is overridden by its children's own flags.
class ModeScope {
 public:
  explicit ModeScope(nn::Module& model) {
    for (auto& [path, m] : model.named_modules()) modes_.emplace_back(m, m->is_training());
  }
  ~ModeScope() {
    for (auto& [m, on] : modes_) m->train(on);
  }
  ModeScope(const ModeScope&) = delete;
  ModeScope& operator=(const ModeScope&) = delete;

 private:
  std::vector<std::pair<nn::Module*, bool>> modes_;
};
}  // namespace

std::string with_commas(int64_t v) {
  std::string digits = std::to_string(v < 0 ? -v : v), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return v < 0 ? "-" + out : out;
}

Summary summarize(nn::Module& model, const Shape& input) {
  WHET_CHECK(input.size() == 4 && numel(input) > 0, "summarize: input must be (N, H, W, C), got ",
             shape_str(input));
  Summary s;
  s.input = input;
  for (auto& [path, m] : model.named_modules()) {
    ModuleStats st;
    st.name = path;
    st.depth = path.empty() ? 0 : 1 + int(std::count(path.begin(), path.end(), '.'));
    st.type = m->type_name();
    st.description = m->describe();
    st.params = count(m->named_parameters());
    s.modules.push_back(st);
  }
  for (const auto& [name, p] : model.named_parameters())
    (p.requires_grad() ? s.trainable_params : s.frozen_params) += p.numel();
  s.total_params = s.trainable_params + s.frozen_params;
  s.buffer_elements = count(model.named_buffers());

  Device device = Device::cpu();
  DType dtype = DType::f32;
  if (auto ps = model.parameters(); !ps.empty()) {
    device = ps.front().device();
    dtype = ps.front().dtype();
  }
  {
    ModeScope modes(model);
    model.eval();
    RecorderScope recorders(model, s.modules);
    NoGradGuard no_grad;
    Tensor y = model.forward(zeros(input, dtype, device));
    s.output = y.shape();
  }
  s.modules[0].calls = 1;
  s.modules[0].output = s.output;
  s.modules[0].flops = flops_of(model, s.output);
  // Own FLOPs -> FLOPs including descendants, as params count them.
  std::vector<int64_t> own;
  for (const auto& m : s.modules) own.push_back(m.flops);
  for (size_t i = 0; i < s.modules.size(); ++i) {
    const std::string prefix = s.modules[i].name.empty() ? "" : s.modules[i].name + ".";
    for (size_t j = i + 1; j < s.modules.size(); ++j)
      if (s.modules[j].name.compare(0, prefix.size(), prefix) == 0) s.modules[i].flops += own[j];
  }
  s.flops = s.modules[0].flops;
  return s;
}

std::string format_summary(const Summary& s) {
  size_t name_w = 4;
  for (const auto& m : s.modules)
    name_w = std::max(name_w, size_t(m.depth) * 2 + (m.name.empty() ? 7 : m.name.size()));
  std::ostringstream os;
  os << std::left << std::setw(int(name_w + 2)) << "name" << std::setw(22) << "output" << std::right
     << std::setw(13) << "params" << std::setw(16) << "FLOPs"
     << "  layer\n";
  for (const auto& m : s.modules) {
    std::string name =
        std::string(size_t(m.depth) * 2, ' ') + (m.name.empty() ? "(model)" : m.name);
    std::string out = m.calls > 0 ? shape_str(m.output) : "(not called)";
    if (m.calls > 1) out += " x" + std::to_string(m.calls);
    os << std::left << std::setw(int(name_w + 2)) << name << std::setw(22) << out << std::right
       << std::setw(13) << with_commas(m.params) << std::setw(16)
       << (m.flops ? with_commas(m.flops) : "") << "  " << m.description << "\n";
  }
  std::ostringstream g;
  g << std::fixed << std::setprecision(3) << double(s.flops) / 1e9;
  os << "\ninput " << shape_str(s.input) << " -> output " << shape_str(s.output) << "\n"
     << "parameters: " << with_commas(s.total_params) << " total, "
     << with_commas(s.trainable_params) << " trainable, " << with_commas(s.frozen_params)
     << " frozen\n"
     << "buffers: " << with_commas(s.buffer_elements) << " elements\n"
     << "forward FLOPs: " << with_commas(s.flops) << " (" << g.str()
     << " G; 2 x multiply-adds of conv and linear layers)\n";
  return os.str();
}

}  // namespace whet::models
