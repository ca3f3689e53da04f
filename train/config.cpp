// TOML through toml++ (header-only, compiled in this file alone: it is heavy to parse).
#include "train/config.h"

#include <toml++/toml.h>  // Debian 12 ships toml++ 3.3, whose single header is toml.h

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <sstream>
#include <type_traits>

#include "core/device.h"
#include "core/error.h"
#include "models/registry.h"

namespace whet::train {

namespace {

const char* const kSections[] = {"model", "data", "optim", "schedule", "run"};

template <class T>
struct IsVector : std::false_type {};
template <class T>
struct IsVector<std::vector<T>> : std::true_type {};

std::string type_word(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::table:
      return "a table";
    default:
      return "a date or time";
  }
}

// "file:line: "
std::string where(const std::string& source, const toml::node& n) {
  return detail::cat(source, ":", n.source().begin.line, ": ");
}

// One scalar of type T from a node, or an error naming the key.
template <class T>
T scalar_from(const toml::node& n, const std::string& source, const std::string& key) {
  auto fail = [&](const char* want) {
    WHET_FAIL(where(source, n), "'", key, "' must be ", want, ", got ", type_word(n));
  };
  if constexpr (std::is_same_v<T, std::string>) {
    if (!n.is_string()) fail("a string");
    return *n.value<std::string>();
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!n.is_boolean()) fail("true or false");
    return *n.value<bool>();
  } else if constexpr (std::is_same_v<T, int64_t>) {
    if (!n.is_integer()) fail("an integer");
    return *n.value<int64_t>();
  } else {
    static_assert(std::is_same_v<T, double>);
    if (!n.is_number()) fail("a number");
    return *n.value<double>();
  }
}

// A field's value from a node: scalars as such; lists from an array, or a single value.
template <class T>
T value_from(const toml::node& n, const std::string& source, const std::string& key) {
  if constexpr (IsVector<T>::value) {
    using E = typename T::value_type;
    T out;
    if (const toml::array* a = n.as_array()) {
      for (const toml::node& e : *a) out.push_back(scalar_from<E>(e, source, key + "[]"));
    } else {
      out.push_back(scalar_from<E>(n, source, key));
    }
    return out;
  } else {
    return scalar_from<T>(n, source, key);
  }
}

template <class T>
std::string toml_text(const T& v) {
  std::ostringstream os;
  if constexpr (IsVector<T>::value) {
    toml::array a;
    for (const auto& e : v) a.push_back(e);
    os << a;
  } else if constexpr (std::is_same_v<T, double>) {
    if (!std::isfinite(v)) {
      os << toml::value<T>(v);  // inf, nan
    } else {
      // toml++ writes 17 digits; the shortest text that reads back is the same value.
      std::string text = shortest_decimal(v);
      if (text.find_first_of(".e") == std::string::npos) text += ".0";  // a TOML float
      os << text;
    }
  } else {
    os << toml::value<T>(v);
  }
  return os.str();
}

// Sets the field `key` of section `section` from `n`; false when no field has that key.
bool set_field(TrainConfig& c, const std::string& section, const std::string& key,
               const toml::node& n, const std::string& source) {
  bool found = false;
  TrainConfig::for_each_field([&](const FieldInfo& f, auto member) {
    if (found || key != f.key) return;
    if (!section.empty() && section != f.section) {
      WHET_FAIL(where(source, n), "key '", key, "' belongs in [", f.section, "], not [", section,
                "]");
    }
    using T = std::decay_t<decltype(c.*member)>;
    c.*member = value_from<T>(n, source, key);
    found = true;
  });
  return found;
}

std::string keys_of(const std::string& section) {
  std::string out;
  TrainConfig::for_each_field([&](const FieldInfo& f, auto) {
    if (section == f.section) out += (out.empty() ? "" : ", ") + std::string(f.key);
  });
  return out;
}

bool is_section(const std::string& s) {
  return std::find(std::begin(kSections), std::end(kSections), s) != std::end(kSections);
}

void check_choice(const std::string& key, const std::string& value,
                  const std::vector<std::string>& choices) {
  std::string list;
  for (const std::string& c : choices) {
    if (value == c) return;
    list += (list.empty() ? "" : ", ") + c;
  }
  WHET_FAIL(flag_of(key), " ", value.empty() ? "(empty)" : "'" + value + "'", ": expected one of ",
            list);
}

template <class T>
void check_range(const std::string& key, T value, bool ok, const char* expected) {
  WHET_CHECK(ok, flag_of(key), " ", value, ": must be ", expected);
}

std::string timestamp() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
  return buf;
}

}  // namespace

std::string flag_of(const std::string& key) {
  std::string f = "--" + key;
  std::replace(f.begin(), f.end(), '_', '-');
  return f;
}

void apply_toml(TrainConfig& c, const std::string& text, const std::string& source) {
  toml::table doc;
  try {
    doc = toml::parse(text, std::string_view(source));
  } catch (const toml::parse_error& e) {
    WHET_FAIL(source, ":", e.source().begin.line, ":", e.source().begin.column, ": ",
              e.description());
  }
  // Checked into a copy first, so a bad file changes nothing.
  TrainConfig out = c;
  for (const auto& [k, node] : doc) {
    const std::string key(k.str());
    if (const toml::table* t = node.as_table()) {
      WHET_CHECK(is_section(key), where(source, node), "unknown section [", key,
                 "] (sections: model, data, optim, schedule, run)");
      for (const auto& [k2, node2] : *t) {
        const std::string key2(k2.str());
        WHET_CHECK(set_field(out, key, key2, node2, source), where(source, node2), "unknown key '",
                   key2, "' in [", key, "] (keys of [", key, "]: ", keys_of(key), ")");
      }
    } else {
      WHET_CHECK(set_field(out, "", key, node, source), where(source, node), "unknown key '", key,
                 "' (see `whet train --help` or a run's config.toml for the keys)");
    }
  }
  c = std::move(out);
}

void apply_toml_file(TrainConfig& c, const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  WHET_CHECK(f.good(), "--config ", path, ": cannot open");
  std::ostringstream os;
  os << f.rdbuf();
  apply_toml(c, os.str(), path);
}

std::string shortest_decimal(double v) {
  char text[32];
  for (int digits = 1; digits <= 17; ++digits) {
    std::snprintf(text, sizeof text, "%.*g", digits, v);
    if (std::strtod(text, nullptr) == v) break;
  }
  return text;
}

std::string to_toml(const TrainConfig& c) {
  std::ostringstream os;
  os << "# whet train: the resolved configuration of this run. `whet train --config "
        "config.toml`\n# repeats it; flags override any key (`lr` <-> --lr).\n";
  for (const char* section : kSections) {
    os << "\n[" << section << "]\n";
    TrainConfig::for_each_field([&](const FieldInfo& f, auto member) {
      if (std::string(f.section) != section) return;
      os << "# " << f.help << "\n" << f.key << " = " << toml_text(c.*member) << "\n";
    });
  }
  return os.str();
}

void resolve(TrainConfig& c) {
  WHET_CHECK(!c.model.empty(), "no model: give --model NAME (see `whet models`)");
  if (!models::find_model(c.model)) models::create_model(c.model);  // throws listing names
  WHET_CHECK(!c.data.empty(),
             "no data: give --data SPEC (fashion-mnist, folder:DIR, "
             "tensors:FILE, idx:IMAGES,LABELS)");
  check_range("num_classes", c.num_classes, c.num_classes >= 0, ">= 0 (0: from the data)");
  check_range("in_channels", c.in_channels, c.in_channels >= 0, ">= 0");
  check_range("freeze_stages", c.freeze_stages, c.freeze_stages >= 0, ">= 0");
  check_range("drop_rate", c.drop_rate, c.drop_rate < 1, "below 1 (negative: the model's own)");
  check_range("drop_path", c.drop_path, c.drop_path >= 0 && c.drop_path < 1, "in [0, 1)");
  check_range("width_mult", c.width_mult, c.width_mult > 0, "positive");
  if (!c.width_rule.empty()) check_choice("width_rule", c.width_rule, {"torchvision", "timm"});
  check_range("bn_eps", c.bn_eps, c.bn_eps >= 0, ">= 0 (0: the model's own)");
  check_range("bn_momentum", c.bn_momentum, c.bn_momentum >= 0 && c.bn_momentum <= 1,
              "in [0, 1] (0: the model's own)");
  check_range("val_fraction", c.val_fraction, c.val_fraction >= 0 && c.val_fraction < 1,
              "in [0, 1)");
  for (int64_t k : c.classes) check_range("classes", k, k >= 0, ">= 0");
  check_range("per_class", c.per_class, c.per_class >= 0, ">= 0");
  check_range("image_size", c.image_size, c.image_size >= 0, ">= 0 (0: the model's default)");
  check_choice("augment", c.augment, augment_choices());
  check_range("color_jitter", c.color_jitter, c.color_jitter >= 0 && std::isfinite(c.color_jitter),
              ">= 0 (0: off)");
  check_range("random_erase", c.random_erase, c.random_erase >= 0 && c.random_erase <= 1,
              "in [0, 1]");
  check_range("mixup", c.mixup, c.mixup >= 0 && std::isfinite(c.mixup), ">= 0 (0: off)");
  check_range("cutmix", c.cutmix, c.cutmix >= 0 && std::isfinite(c.cutmix), ">= 0 (0: off)");
  check_range("batch_size", c.batch_size, c.batch_size > 0, "positive");
  check_range("micro_batches", c.micro_batches, c.micro_batches > 0 && c.micro_batches <= c.batch_size,
              "in [1, --batch-size]");
  check_range("workers", c.workers, c.workers >= 0 && c.workers <= 256, "in [0, 256]");

  check_choice("optimizer", c.optimizer, {"sgd", "adam", "adamw", "rmsprop"});
  check_range("lr", c.lr, c.lr > 0, "positive");
  check_range("momentum", c.momentum, c.momentum >= 0 && c.momentum < 1, "in [0, 1)");
  WHET_CHECK(!c.nesterov || (c.optimizer == "sgd" && c.momentum > 0),
             "--nesterov needs --optimizer sgd with a momentum > 0");
  if (c.weight_decay < 0) c.weight_decay = c.optimizer == "adamw" ? 0.01 : 0.0;
  if (c.bias_norm_weight_decay < 0) c.bias_norm_weight_decay = c.weight_decay;
  check_range("head_lr", c.head_lr, c.head_lr >= 0, ">= 0 (0: lr * head_lr_mult)");
  check_range("head_lr_mult", c.head_lr_mult, c.head_lr_mult > 0, "positive");
  check_range("layer_decay", c.layer_decay, c.layer_decay > 0 && c.layer_decay <= 1, "in (0, 1]");
  check_choice("loss", c.loss, {"ce", "mse", "bce"});
  check_range("label_smoothing", c.label_smoothing, c.label_smoothing >= 0 && c.label_smoothing < 1,
              "in [0, 1)");
  check_range("l1", c.l1, c.l1 >= 0, ">= 0");
  check_range("l2", c.l2, c.l2 >= 0, ">= 0");
  WHET_CHECK(c.class_weights.empty() || c.loss == "ce", "--class-weights weight the "
             "cross-entropy: use them with --loss ce, not ", c.loss);
  check_range("clip_grad", c.clip_grad, c.clip_grad >= 0, ">= 0 (0: off)");
  check_range("ema_decay", c.ema_decay, c.ema_decay >= 0 && c.ema_decay < 1, "in [0, 1) (0: off)");

  check_choice("scheduler", c.scheduler,
               {"constant", "step", "multistep", "exponential", "cosine", "onecycle", "plateau"});
  check_range("warmup_epochs", c.warmup_epochs, c.warmup_epochs >= 0, ">= 0");
  check_range("step_size", c.step_size, c.step_size > 0, "positive");
  check_range("gamma", c.gamma, c.gamma > 0, "positive");
  WHET_CHECK(c.scheduler != "multistep" || !c.milestones.empty(),
             "--scheduler multistep needs --milestones (epochs, e.g. 30,60)");
  for (int64_t m : c.milestones) check_range("milestones", m, m > 0, "positive epochs");
  check_range("min_lr", c.min_lr, c.min_lr >= 0, ">= 0");
  check_range("patience", c.patience, c.patience >= 0, ">= 0");

  check_range("epochs", c.epochs, c.epochs > 0, "positive");
  check_range("max_steps_per_epoch", c.max_steps_per_epoch, c.max_steps_per_epoch >= 0, ">= 0");
  check_range("val_every", c.val_every, c.val_every > 0, "positive");
  check_range("early_stop", c.early_stop, c.early_stop >= 0, ">= 0 (0: off)");
  check_range("stop_at_step", c.stop_at_step, c.stop_at_step >= 0, ">= 0");
  if (c.device != "auto") Device::parse(c.device);  // throws naming the accepted forms
  check_choice("precision", c.precision, {"fp32", "tf32", "fp16", "bf16"});
  check_range("seed", c.seed, c.seed >= 0, ">= 0");
  check_range("checkpoint_every", c.checkpoint_every, c.checkpoint_every >= 0, ">= 0");
  check_range("log_every", c.log_every, c.log_every > 0, "positive");
  if (c.output_dir.empty())
    c.output_dir = c.resume.empty() ? "runs/" + c.model + "-" + timestamp() : c.resume;
}

}  // namespace whet::train
