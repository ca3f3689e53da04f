#include "optim/optimizer.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "core/autograd.h"

namespace whet::optim {

double hyper_get(const Hyper& h, const std::string& name) {
  for (const auto& [k, v] : h)
    if (k == name) return v;
  WHET_FAIL("optimizer: no hyper-parameter named '", name, "'");
}

Tensor* ParamState::find(const std::string& name) {
  for (auto& kv : tensors)
    if (kv.first == name) return &kv.second;
  return nullptr;
}

const Tensor* ParamState::find(const std::string& name) const {
  for (const auto& kv : tensors)
    if (kv.first == name) return &kv.second;
  return nullptr;
}

int64_t ParamState::steps() const { return step.defined() ? int64_t(step.item()) : 0; }

void ParamState::set(const std::string& name, Tensor t) {
  if (Tensor* p = find(name)) *p = std::move(t);
  else tensors.emplace_back(name, std::move(t));
}

// ---- construction ----

void Optimizer::add_group(std::vector<Tensor> params, std::vector<std::string> names,
                          Hyper hyper) {
  size_t g = groups_.size();
  WHET_CHECK(names.empty() || names.size() == params.size(), name_, ": parameter group ", g,
             " has ", params.size(), " parameters but ", names.size(), " names");
  for (size_t i = 0; i < params.size(); ++i) {
    const Tensor& p = params[i];
    std::string label = names.empty() ? std::to_string(i) : "'" + names[i] + "'";
    WHET_CHECK(p.defined(), name_, ": parameter ", label, " of group ", g, " is undefined");
    WHET_CHECK(p.is_leaf(), name_, ": can't optimize a non-leaf tensor (parameter ", label,
               " of group ", g, ")");
    WHET_CHECK(is_floating(p.dtype()), name_, ": parameter ", label, " of group ", g, " is ",
               dtype_name(p.dtype()), "; only floating tensors can be optimized");
    auto same = [&](const Tensor& q) { return q.impl() == p.impl(); };
    WHET_CHECK(std::none_of(params.begin(), params.begin() + long(i), same), name_,
               ": parameter ", label, " appears twice in group ", g);
    for (size_t h = 0; h < groups_.size(); ++h)
      WHET_CHECK(std::none_of(groups_[h].params.begin(), groups_[h].params.end(), same), name_,
                 ": parameter ", label, " of group ", g, " is also in group ", h,
                 " (some parameters appear in more than one parameter group)");
  }
  Group grp;
  grp.state.resize(params.size());
  grp.params = std::move(params);
  grp.names = std::move(names);
  grp.hyper = std::move(hyper);
  groups_.push_back(std::move(grp));
}

void Optimizer::check_not_empty() const {
  WHET_CHECK(num_params() > 0, name_, ": optimizer got an empty parameter list");
}

// ---- step ----

void Optimizer::step(const Tensor& found_inf) {
  NoGradGuard no_grad;
  if (found_inf.defined()) {
    WHET_CHECK(found_inf.numel() == 1 && found_inf.dtype() == DType::f32, name_,
               ": found_inf must be a 0-D float32, not ", dtype_name(found_inf.dtype()), " ",
               shape_str(found_inf.shape()));
    bool creates_state = false;
    for (const Group& grp : groups_)
      for (size_t i = 0; i < grp.params.size(); ++i)
        creates_state = creates_state || (grp.params[i].grad().defined() &&
                                          grp.state[i].empty() && keeps_state(grp.hyper));
    if (creates_state && found_inf.item() != 0) return;
  }
  Tensor flag = found_inf;  // moved once to the parameters' device, when it is elsewhere
  for (size_t g = 0; g < groups_.size(); ++g) {
    Group& grp = groups_[g];
    for (size_t i = 0; i < grp.params.size(); ++i) {
      Tensor& p = grp.params[i];
      const Tensor& grad = p.grad();
      if (!grad.defined()) continue;
      WHET_CHECK(grad.dtype() == p.dtype() && grad.device() == p.device(), name_,
                 ": gradient of parameter ", param_label(g, i), " is ", dtype_name(grad.dtype()),
                 " on ", grad.device().str(), ", the parameter ", dtype_name(p.dtype()), " on ",
                 p.device().str());
      if (flag.defined() && flag.device() != p.device()) flag = to_device(found_inf, p.device());
      update(grp.hyper, p, grad, grp.state[i], flag);
    }
  }
}

void Optimizer::zero_grad(bool set_to_none) {
  NoGradGuard no_grad;
  for (Group& grp : groups_)
    for (Tensor& p : grp.params) {
      if (!p.grad().defined()) continue;
      if (set_to_none) {
        p.set_grad(Tensor());
      } else {
        Tensor g = p.grad();
        g.zero_();
      }
    }
}

// ---- groups and hyper-parameters ----

size_t Optimizer::num_params() const {
  size_t n = 0;
  for (const Group& g : groups_) n += g.params.size();
  return n;
}

const std::vector<Tensor>& Optimizer::params(size_t group) const {
  WHET_CHECK(group < groups_.size(), name_, ": no parameter group ", group, " (it has ",
             groups_.size(), ")");
  return groups_[group].params;
}

const std::vector<std::string>& Optimizer::param_names(size_t group) const {
  params(group);
  return groups_[group].names;
}

const Hyper& Optimizer::group_hyper(size_t group) const {
  params(group);
  return groups_[group].hyper;
}

std::vector<std::string> Optimizer::hyper_names() const {
  std::vector<std::string> out;
  for (const auto& kv : groups_.at(0).hyper) out.push_back(kv.first);
  return out;
}

bool Optimizer::has_hyper(const std::string& name) const {
  for (const auto& kv : groups_.at(0).hyper)
    if (kv.first == name) return true;
  return false;
}

double Optimizer::hyper(size_t group, const std::string& name) const {
  const Hyper& h = group_hyper(group);
  for (const auto& [k, v] : h)
    if (k == name) return v;
  WHET_FAIL(name_, ": no hyper-parameter named '", name, "'");
}

void Optimizer::set_hyper(size_t group, const std::string& name, double value) {
  Hyper h = group_hyper(group);
  bool found = false;
  for (auto& [k, v] : h)
    if (k == name) v = value, found = true;
  WHET_CHECK(found, name_, ": no hyper-parameter named '", name, "'");
  replace_hyper(group, std::move(h));
}

void Optimizer::replace_hyper(size_t group, Hyper h) {
  const Hyper& old = group_hyper(group);
  WHET_CHECK(h.size() == old.size(), name_, ": expected ", old.size(), " hyper-parameters, got ",
             h.size());
  for (size_t i = 0; i < h.size(); ++i)
    WHET_CHECK(h[i].first == old[i].first, name_, ": hyper-parameter ", i, " is '", old[i].first,
               "', not '", h[i].first, "'");
  check_hyper(h);
  groups_[group].hyper = std::move(h);
}

std::optional<double> Optimizer::initial_lr(size_t group) const {
  params(group);
  return groups_[group].initial_lr;
}

void Optimizer::set_initial_lr(size_t group, double lr) {
  params(group);
  groups_[group].initial_lr = lr;
}

const ParamState& Optimizer::state(size_t group, size_t index) const {
  const auto& ps = params(group);
  WHET_CHECK(index < ps.size(), name_, ": group ", group, " has no parameter ", index);
  return groups_[group].state[index];
}

std::string Optimizer::param_label(size_t group, size_t index) const {
  const Group& g = groups_[group];
  if (!g.names.empty()) return "'" + g.names[index] + "'";
  return std::to_string(index) + " of group " + std::to_string(group);
}

// ---- state dict ----

NamedTensors Optimizer::state_dict() const {
  NamedTensors sd;
  int64_t first = 0;
  for (size_t g = 0; g < groups_.size(); ++g) {
    const Group& grp = groups_[g];
    std::string pre = "group." + std::to_string(g) + ".";
    Tensor ids = arange(double(first), double(first + int64_t(grp.params.size())), 1, DType::i64);
    sd.emplace_back(pre + "params", ids);
    for (const auto& [k, v] : grp.hyper) sd.emplace_back(pre + k, scalar_f64(v));
    if (grp.initial_lr) sd.emplace_back(pre + "initial_lr", scalar_f64(*grp.initial_lr));
    first += int64_t(grp.params.size());
  }
  int64_t index = 0;
  for (const Group& grp : groups_) {
    for (const ParamState& st : grp.state) {
      std::string pre = "state." + std::to_string(index++) + ".";
      if (st.empty()) continue;
      if (counts_steps()) sd.emplace_back(pre + "step", st.step);
      for (const auto& [k, t] : st.tensors) sd.emplace_back(pre + k, t);
    }
  }
  return sd;
}

namespace {
// "group.12.lr" -> ("group", 12, "lr"); false when the key has another form.
bool split_key(const std::string& key, std::string& kind, int64_t& index, std::string& field) {
  size_t a = key.find('.');
  if (a == std::string::npos) return false;
  size_t b = key.find('.', a + 1);
  if (b == std::string::npos || b == a + 1 || b + 1 >= key.size()) return false;
  std::string num = key.substr(a + 1, b - a - 1);
  if (num.size() > 15 || !std::all_of(num.begin(), num.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c));
      }))
    return false;
  kind = key.substr(0, a);
  index = std::stoll(num);
  field = key.substr(b + 1);
  return kind == "group" || kind == "state";
}
}  // namespace

void Optimizer::load_state_dict(const NamedTensors& sd) {
  const std::string what = name_ + " load_state_dict";
  size_t n_groups = groups_.size();
  std::vector<Hyper> hypers(n_groups);
  std::vector<std::optional<double>> initial(n_groups);
  std::vector<bool> saw_params(n_groups, false);
  std::vector<std::set<std::string>> loaded(n_groups);
  for (size_t g = 0; g < n_groups; ++g) hypers[g] = groups_[g].hyper;
  // Parameters by global index.
  std::vector<std::pair<size_t, size_t>> where;
  for (size_t g = 0; g < n_groups; ++g)
    for (size_t i = 0; i < groups_[g].params.size(); ++i) where.emplace_back(g, i);
  std::vector<ParamState> states(where.size());
  std::vector<bool> has_step(where.size(), false);
  const std::vector<std::string> names = state_names();
  const std::set<std::string> allowed(names.begin(), names.end());
  std::set<std::string> seen;

  for (const auto& [key, t] : sd) {
    WHET_CHECK(seen.insert(key).second, what, ": key '", key, "' appears twice");
    WHET_CHECK(t.defined(), what, ": '", key, "' is an undefined tensor");
    std::string kind, field;
    int64_t idx = 0;
    WHET_CHECK(split_key(key, kind, idx, field), what, ": unexpected key '", key,
               "' (expected group.<g>.<name> or state.<i>.<name>)");
    if (kind == "group") {
      WHET_CHECK(size_t(idx) < n_groups, what, ": the state dict has parameter group ", idx,
                 " but this optimizer has ", n_groups, " group(s)");
      size_t g = size_t(idx);
      if (field == "params") {
        size_t n = groups_[g].params.size();
        WHET_CHECK(t.dim() == 1 && size_t(t.numel()) == n, what, ": parameter group ", g,
                   " holds ", t.numel(), " parameter(s) in the state dict but ", n,
                   " in this optimizer");
        saw_params[g] = true;
        continue;
      }
      WHET_CHECK(t.numel() == 1, what, ": '", key, "' must hold one value, not shape ",
                 shape_str(t.shape()));
      if (field == "initial_lr") {
        initial[g] = t.item();
        continue;
      }
      bool known = false;
      for (auto& [k, v] : hypers[g])
        if (k == field) v = t.item(), known = true, loaded[g].insert(k);
      WHET_CHECK(known, what, ": unexpected key '", key, "' (", name_,
                 " has no hyper-parameter '", field, "')");
    } else {
      WHET_CHECK(size_t(idx) < where.size(), what, ": state for parameter ", idx,
                 " but this optimizer has ", where.size(), " parameter(s)");
      auto [g, i] = where[size_t(idx)];
      const Tensor& p = groups_[g].params[i];
      if (field == "step" && counts_steps()) {
        WHET_CHECK(t.numel() == 1, what, ": '", key, "' must hold one value");
        double s = t.item();
        WHET_CHECK(s >= 0 && s == double(int64_t(s)), what, ": '", key,
                   "' must be a non-negative integer, not ", s);
        states[size_t(idx)].step = full({}, s, DType::f32, p.device());
        has_step[size_t(idx)] = true;
        continue;
      }
      WHET_CHECK(allowed.count(field), what, ": unexpected key '", key, "' (", name_,
                 " keeps no state named '", field, "')");
      WHET_CHECK(t.shape() == p.shape(), what, ": '", key, "' has shape ", shape_str(t.shape()),
                 " but parameter ", param_label(g, i), " has shape ", shape_str(p.shape()));
      // A copy: the loaded dict and the optimizer never share storage.
      states[size_t(idx)].tensors.emplace_back(field, t.to(p.device(), p.dtype()).clone());
    }
  }
  for (size_t g = 0; g < n_groups; ++g) {
    WHET_CHECK(saw_params[g], what, ": missing key 'group.", g, ".params'");
    for (const auto& kv : hypers[g])
      WHET_CHECK(loaded[g].count(kv.first), what, ": missing key 'group.", g, ".", kv.first, "'");
    try {
      check_hyper(hypers[g]);
    } catch (const Error& e) {
      WHET_FAIL(what, ": parameter group ", g, ": ", e.what());
    }
  }
  for (size_t idx = 0; idx < states.size(); ++idx) {
    ParamState& st = states[idx];
    bool any = has_step[idx] || !st.tensors.empty();
    if (!any) continue;
    auto [g, i] = where[idx];
    std::string pre = "state." + std::to_string(idx) + ".";
    WHET_CHECK(!counts_steps() || has_step[idx], what, ": missing key '", pre, "step'");
    for (const std::string& r : required_state(hypers[g]))
      WHET_CHECK(st.find(r) != nullptr, what, ": missing key '", pre, r, "' (parameter ",
                 param_label(g, i), ")");
  }
  // Everything checked: commit.
  for (size_t g = 0; g < n_groups; ++g) {
    groups_[g].hyper = std::move(hypers[g]);
    groups_[g].initial_lr = initial[g];
  }
  for (size_t idx = 0; idx < states.size(); ++idx) {
    auto [g, i] = where[idx];
    groups_[g].state[i] = std::move(states[idx]);
  }
}

}  // namespace whet::optim
