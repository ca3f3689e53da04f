// What the training report (train/report.h) shows, read back from a run's output directory:
//   config.toml    the resolved configuration, flattened to dotted keys
//   metrics.jsonl  step lines {"kind":"step","epoch","step","global_step","loss","acc","lr",
//                  "images_per_s"} and epoch lines {"kind":"epoch","epoch","train_loss",
//                  "train_acc","val_loss","val_acc","val_top5","lr","seconds"}
//   eval.json      train/evaluate.h's to_json
// Every part is optional: a missing or unreadable file leaves its part empty and adds a note
// saying why, so a report can be made of a run that is still going or crashed.
//
// metrics.jsonl is append-only and a resumed run writes again from its checkpoint: a step
// line whose global_step is not past the last one read replaces the lines from that step on,
// and an epoch line replaces an earlier one of the same epoch (the latest attempt wins). A
// malformed line (a crash mid-write) is skipped and counted.
#pragma once
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "train/evaluate.h"

namespace whet::train {

constexpr double kNoValue = std::numeric_limits<double>::quiet_NaN();

struct StepRecord {
  int64_t epoch = 0, step = 0, global_step = 0;
  double loss = kNoValue, acc = kNoValue, lr = kNoValue, images_per_s = kNoValue;
};

struct EpochRecord {
  int64_t epoch = 0;
  double train_loss = kNoValue, train_acc = kNoValue, val_loss = kNoValue, val_acc = kNoValue,
         val_top5 = kNoValue, lr = kNoValue, seconds = kNoValue;
};

struct RunMetrics {
  std::vector<StepRecord> steps;    // by global_step
  std::vector<EpochRecord> epochs;  // by epoch
  int64_t skipped_lines = 0;        // malformed or of an unknown kind
};

// One configuration entry: its section ("" at the top level, "optim", "data.augment"), key
// and value as TOML writes it ("0.1", "\"resnet18\"", "[1, 2]").
struct ConfigEntry {
  std::string section, key, value;
};

struct ReportData {
  std::string dir;
  std::optional<std::vector<ConfigEntry>> config;
  std::optional<RunMetrics> metrics;
  std::optional<EvalResult> eval;
  std::string eval_split;          // eval.json's optional "split" ("validation", "training")
  std::vector<std::string> notes;  // what is missing or was skipped, and why
};

RunMetrics parse_metrics_jsonl(const std::string& text);
// Throws whet::Error with the parser's message and position.
std::vector<ConfigEntry> parse_config_toml(const std::string& text, const std::string& source);

ReportData load_report_data(const std::string& output_dir);

}  // namespace whet::train
