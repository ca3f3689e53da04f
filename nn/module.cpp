#include "nn/module.h"

#include <sstream>

#include "core/autograd.h"

namespace whet::nn {

std::string LoadResult::str() const {
  std::ostringstream os;
  auto list = [&](const char* what, const std::vector<std::string>& keys) {
    if (keys.empty()) return;
    os << what << " (" << keys.size() << "):";
    for (const auto& k : keys) os << " " << k;
    os << "\n";
  };
  list("missing keys", missing);
  list("unexpected keys", unexpected);
  list("shape mismatches", shape_mismatch);
  return os.str();
}

namespace {
void check_name(const std::string& name, const std::string& owner) {
  WHET_CHECK(!name.empty() && name.find('.') == std::string::npos, owner,
             ": invalid member name '", name, "' (must be non-empty, without '.')");
}
}  // namespace

Tensor Module::register_parameter(const std::string& name, Tensor t, bool requires_grad) {
  check_name(name, type_name_);
  WHET_CHECK(t.defined(), type_name_, ": parameter '", name, "' is undefined");
  t.set_requires_grad(requires_grad);
  params_.emplace_back(name, t);
  return t;
}

Tensor Module::register_buffer(const std::string& name, Tensor t) {
  check_name(name, type_name_);
  buffers_.emplace_back(name, t);
  return t;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> m) {
  check_name(name, type_name_);
  WHET_CHECK(m != nullptr, type_name_, ": child '", name, "' is null");
  for (auto& c : children_)
    WHET_CHECK(c.first != name, type_name_, ": child '", name, "' registered twice");
  children_.emplace_back(name, std::move(m));
}

void Module::replace_child(const std::string& name, std::shared_ptr<Module> m) {
  WHET_CHECK(m != nullptr, type_name_, ": replacement for '", name, "' is null");
  for (auto& c : children_) {
    if (c.first == name) {
      c.second = std::move(m);
      return;
    }
  }
  WHET_FAIL(type_name_, ": no child named '", name, "'");
}

void Module::collect(const std::string& prefix, bool params, bool recurse,
                     NamedTensors& out) const {
  for (const auto& [n, t] : params ? params_ : buffers_)
    if (t.defined()) out.emplace_back(prefix + n, t);
  if (!recurse) return;
  for (const auto& [n, c] : children_) c->collect(prefix + n + ".", params, true, out);
}

NamedTensors Module::named_parameters(bool recurse) const {
  NamedTensors out;
  collect("", true, recurse, out);
  return out;
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_parameters(recurse)) out.push_back(t);
  return out;
}

NamedTensors Module::named_trainable_parameters() const {
  NamedTensors out;
  for (auto& [n, t] : named_parameters())
    if (t.requires_grad()) out.emplace_back(n, t);
  return out;
}

std::vector<Tensor> Module::trainable_parameters() const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_trainable_parameters()) out.push_back(t);
  return out;
}

NamedTensors Module::named_buffers(bool recurse) const {
  NamedTensors out;
  collect("", false, recurse, out);
  return out;
}

std::vector<std::pair<std::string, Module*>> Module::named_modules() const {
  std::vector<std::pair<std::string, Module*>> out{{"", const_cast<Module*>(this)}};
  for (const auto& [n, c] : children_)
    for (auto& [sub, m] : c->named_modules()) out.emplace_back(sub.empty() ? n : n + "." + sub, m);
  return out;
}

Module* Module::find(const std::string& path) {
  if (path.empty()) return this;
  size_t dot = path.find('.');
  std::string head = path.substr(0, dot);
  for (auto& [n, c] : children_)
    if (n == head) return dot == std::string::npos ? c.get() : c->find(path.substr(dot + 1));
  return nullptr;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [n, c] : children_) c->train(on);
}

void Module::to(Device d) {
  NoGradGuard no_grad;
  for (auto& [n, t] : state_dict()) t.set_data(t.to(d));
}

void Module::to(DType dt) {
  WHET_CHECK(is_floating(dt), "Module::to: dtype must be floating, not ", dtype_name(dt));
  NoGradGuard no_grad;
  for (auto& [n, t] : state_dict())
    if (is_floating(t.dtype())) t.set_data(t.to(dt));
}

NamedTensors Module::state_dict() const {
  NamedTensors sd = named_parameters();
  NamedTensors b = named_buffers();
  sd.insert(sd.end(), b.begin(), b.end());
  return sd;
}

LoadResult Module::load_state_dict(const NamedTensors& sd, bool strict, const ShapeDisplay& show) {
  auto shape_of = [&](const Tensor& t) { return show ? show(t.shape()) : shape_str(t.shape()); };
  LoadResult r;
  NamedTensors own = state_dict();
  std::vector<bool> seen(own.size(), false);
  std::vector<std::pair<Tensor, Tensor>> copies;  // (destination, source)
  for (const auto& [name, src] : sd) {
    size_t i = 0;
    while (i < own.size() && own[i].first != name) ++i;
    if (i == own.size()) {
      r.unexpected.push_back(name);
      continue;
    }
    seen[i] = true;
    const Tensor& dst = own[i].second;
    if (src.shape() != dst.shape()) {
      r.shape_mismatch.push_back(name + ": checkpoint " + shape_of(src) + ", model " +
                                 shape_of(dst));
      continue;
    }
    copies.emplace_back(dst, src);
  }
  for (size_t i = 0; i < own.size(); ++i)
    if (!seen[i]) r.missing.push_back(own[i].first);
  // Strict loading changes nothing unless everything matches.
  WHET_CHECK(!strict || r.ok(), "load_state_dict: the state dict does not match the model\n",
             r.str());
  NoGradGuard no_grad;
  for (auto& [dst, src] : copies) dst.copy_(src);
  return r;
}

namespace {
void tree(const Module& m, const std::string& name, int depth, std::ostringstream& os) {
  os << std::string(size_t(depth * 2), ' ') << (name.empty() ? "" : "(" + name + "): ")
     << m.describe() << "\n";
  for (const auto& [n, c] : m.named_children()) tree(*c, n, depth + 1, os);
}
}  // namespace

std::string module_tree(const Module& m) {
  std::ostringstream os;
  tree(m, "", 0, os);
  return os.str();
}

}  // namespace whet::nn
