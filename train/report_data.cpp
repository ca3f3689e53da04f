#include "train/report_data.h"

#include <toml++/toml.h>  // Debian 12 ships 3.3, whose header is toml.h
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace whet::train {

namespace {
using json = nlohmann::json;

double number_or_none(const json& j, const char* key) {
  auto it = j.find(key);
  // nlohmann writes NaN and infinities as null; those read back as "no value".
  return it != j.end() && it->is_number() ? it->get<double>() : kNoValue;
}

int64_t integer_or(const json& j, const char* key, int64_t fallback) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? int64_t(it->get<double>()) : fallback;
}

struct LinedEntry {
  ConfigEntry entry;
  uint32_t line;
};

// The shortest decimal that reads back as the same double: what was written (0.05), not
// toml++'s 17 digits (0.050000000000000003).
std::string shortest(double v) {
  char buf[40];
  for (int precision = 6; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  std::string s = buf;
  if (std::isfinite(v) && s.find_first_of(".eE") == std::string::npos) s += ".0";  // still a float
  return s;
}

// A value as TOML would spell it, except that a top-level string goes unquoted (easier to
// read in a table; inside arrays the quotes keep the elements apart).
std::string toml_value_str(const toml::node& v, bool top = true) {
  if (const auto* s = v.as_string()) return top ? s->get() : "\"" + s->get() + "\"";
  if (const auto* f = v.as_floating_point()) return shortest(f->get());
  if (const auto* a = v.as_array()) {
    std::string out = "[";
    for (size_t i = 0; i < a->size(); ++i) out += (i ? ", " : "") + toml_value_str((*a)[i], false);
    return out + "]";
  }
  if (const auto* t = v.as_table()) {  // an inline table inside an array
    std::string out = "{";
    bool first = true;
    for (const auto& [key, node] : *t) {
      out += (first ? " " : ", ") + std::string(key.str()) + " = " + toml_value_str(node, false);
      first = false;
    }
    return out + " }";
  }
  std::ostringstream os;  // integers, booleans, dates and times
  v.visit([&](const auto& x) { os << x; });
  return os.str();
}

void flatten(const toml::table& t, const std::string& section, std::vector<LinedEntry>& out) {
  for (const auto& [key, node] : t) {
    const std::string k(key.str());
    if (const auto* sub = node.as_table()) {
      flatten(*sub, section.empty() ? k : section + "." + k, out);
    } else {
      out.push_back({{section, k, toml_value_str(node)}, node.source().begin.line});
    }
  }
}

std::optional<std::string> read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return std::nullopt;
  std::ostringstream os;
  os << f.rdbuf();
  return os.str();
}
}  // namespace

RunMetrics parse_metrics_jsonl(const std::string& text) {
  RunMetrics m;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object() || !j.contains("kind") || !j["kind"].is_string()) {
      ++m.skipped_lines;
      continue;
    }
    const std::string kind = j["kind"].get<std::string>();
    if (kind == "step") {
      StepRecord s;
      s.epoch = integer_or(j, "epoch", 0);
      s.step = integer_or(j, "step", 0);
      s.global_step =
          integer_or(j, "global_step", m.steps.empty() ? 0 : m.steps.back().global_step + 1);
      s.loss = number_or_none(j, "loss");
      s.acc = number_or_none(j, "acc");
      s.lr = number_or_none(j, "lr");
      s.images_per_s = number_or_none(j, "images_per_s");
      // A resumed run logs again from its checkpoint: drop what it is redoing.
      while (!m.steps.empty() && m.steps.back().global_step >= s.global_step) m.steps.pop_back();
      m.steps.push_back(s);
    } else if (kind == "epoch") {
      EpochRecord e;
      e.epoch = integer_or(j, "epoch", m.epochs.empty() ? 0 : m.epochs.back().epoch + 1);
      e.train_loss = number_or_none(j, "train_loss");
      e.train_acc = number_or_none(j, "train_acc");
      e.val_loss = number_or_none(j, "val_loss");
      e.val_acc = number_or_none(j, "val_acc");
      e.val_top5 = number_or_none(j, "val_top5");
      e.lr = number_or_none(j, "lr");
      e.seconds = number_or_none(j, "seconds");
      while (!m.epochs.empty() && m.epochs.back().epoch >= e.epoch) m.epochs.pop_back();
      m.epochs.push_back(e);
    } else {
      ++m.skipped_lines;
    }
  }
  return m;
}

std::vector<ConfigEntry> parse_config_toml(const std::string& text, const std::string& source) {
  toml::table t;
  try {
    t = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    WHET_FAIL(source, ":", e.source().begin.line, ":", e.source().begin.column, ": ",
              e.description());
  }
  std::vector<LinedEntry> lined;
  flatten(t, "", lined);
  // toml++ keeps keys sorted; the file's own order is how its author grouped them.
  std::stable_sort(lined.begin(), lined.end(),
                   [](const LinedEntry& a, const LinedEntry& b) { return a.line < b.line; });
  std::vector<ConfigEntry> out;
  for (auto& l : lined) out.push_back(std::move(l.entry));
  return out;
}

ReportData load_report_data(const std::string& output_dir) {
  namespace fs = std::filesystem;
  ReportData d;
  d.dir = output_dir;
  WHET_CHECK(fs::is_directory(output_dir), "report: ", output_dir, " is not a directory");
  const fs::path dir(output_dir);

  const std::string config_path = (dir / "config.toml").string();
  if (auto text = read_text(config_path)) {
    try {
      d.config = parse_config_toml(*text, config_path);
    } catch (const Error& e) {
      d.notes.push_back(std::string("config.toml could not be read (") + e.what() +
                        "): the configuration is omitted.");
    }
  } else {
    d.notes.push_back("No config.toml: the configuration is omitted.");
  }

  if (auto text = read_text((dir / "metrics.jsonl").string())) {
    d.metrics = parse_metrics_jsonl(*text);
    if (d.metrics->skipped_lines > 0)
      d.notes.push_back("metrics.jsonl: " + std::to_string(d.metrics->skipped_lines) +
                        " malformed or unknown line(s) skipped.");
    if (d.metrics->steps.empty() && d.metrics->epochs.empty())
      d.notes.push_back("metrics.jsonl holds no step or epoch lines yet.");
  } else {
    d.notes.push_back("No metrics.jsonl: the training curves are omitted.");
  }

  if (auto text = read_text((dir / "eval.json").string())) {
    try {
      const json j = json::parse(*text);
      d.eval = eval_result_from_json(j);
      if (j.contains("split") && j["split"].is_string()) d.eval_split = j["split"];
    } catch (const std::exception& e) {  // nlohmann's parse errors and ours
      d.notes.push_back(std::string("eval.json could not be read (") + e.what() +
                        "): the evaluation is omitted.");
    }
  } else {
    d.notes.push_back(
        "No eval.json: the confusion matrix and per-class metrics are omitted (run `whet eval "
        "... --json eval.json` to make one).");
  }
  return d;
}

}  // namespace whet::train
