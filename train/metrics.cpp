#include "train/metrics.h"

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "io/atomic_file.h"

namespace whet::train {

namespace {
using nlohmann::json;
using ordered = nlohmann::ordered_json;  // keys in the contract's order

// NaN (no value) becomes null: JSON has no NaN.
ordered number(double v) { return v == v ? ordered(v) : ordered(nullptr); }

// Whether a line written before the checkpoint belongs to the run as it continues.
bool keep_line(const std::string& line, int64_t global_step, int64_t epochs_done) {
  const json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("kind")) return false;  // a torn last line
  auto int_of = [&](const char* k) {
    return j.contains(k) && j[k].is_number_integer() ? j[k].get<int64_t>() : INT64_MAX;
  };
  if (j["kind"] == "step") return int_of("global_step") <= global_step;
  if (j["kind"] == "epoch") return int_of("epoch") <= epochs_done;
  return true;
}
}  // namespace

MetricsLog::MetricsLog(const std::string& path, bool resuming, int64_t global_step,
                       int64_t epochs_done)
    : path_(path) {
  if (resuming && std::filesystem::exists(path)) {
    std::ifstream in(path, std::ios::binary);
    std::string line, kept;
    while (std::getline(in, line))
      if (keep_line(line, global_step, epochs_done)) kept += line + "\n";
    in.close();
    io::AtomicFileWriter w(path, "metrics.jsonl");
    w.write(kept.data(), kept.size());
    w.commit();
    out_.open(path, std::ios::binary | std::ios::app);
  } else {
    out_.open(path, std::ios::binary | std::ios::trunc);
  }
  WHET_CHECK(out_.good(), path, ": cannot open for writing");
}

void MetricsLog::write_line(const std::string& line) {
  out_ << line << '\n';
  out_.flush();
  WHET_CHECK(out_.good(), path_, ": write failed (disk full?)");
}

void MetricsLog::step(const StepRecord& s) {
  ordered j = {{"kind", "step"},         {"epoch", s.epoch},
               {"step", s.step},         {"global_step", s.global_step},
               {"loss", number(s.loss)}, {"acc", number(s.acc)},
               {"lr", number(s.lr)},     {"images_per_s", number(s.images_per_s)}};
  write_line(j.dump());
}

void MetricsLog::epoch(const EpochRecord& e) {
  ordered j = {{"kind", "epoch"},
               {"epoch", e.epoch},
               {"train_loss", number(e.train_loss)},
               {"train_acc", number(e.train_acc)},
               {"val_loss", number(e.val_loss)},
               {"val_acc", number(e.val_acc)},
               {"val_top5", number(e.val_top5)},
               {"lr", number(e.lr)},
               {"seconds", number(e.seconds)}};
  write_line(j.dump());
}

}  // namespace whet::train
