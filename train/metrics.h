// The run's metrics as JSON lines (metrics.jsonl), the contract train/report_data.h reads:
//   {"kind":"step","epoch":E,"step":S,"global_step":G,"loss":L,"acc":A,"lr":LR,"images_per_s":X}
//   {"kind":"epoch","epoch":E,"train_loss":..,"train_acc":..,"val_loss":..,"val_acc":..,
//    "val_top5":..,"lr":..,"seconds":..}
// Epochs and steps count from 1 (step within its epoch; global_step = optimizer steps done);
// values without data (no validation set) are null. Each line is flushed as written, so a
// crash loses at most the line being written.
#pragma once
#include <cstdint>
#include <fstream>
#include <string>

#include "train/report_data.h"

namespace whet::train {

class MetricsLog {
 public:
  // Appends to `path`. A resumed run (resuming = true) first drops the lines written after
  // its checkpoint: step lines past global_step and epoch lines past epochs_done, so the
  // file reads as one uninterrupted run. A fresh run starts the file anew.
  MetricsLog(const std::string& path, bool resuming, int64_t global_step, int64_t epochs_done);

  void step(const StepRecord& s);
  void epoch(const EpochRecord& e);

 private:
  void write_line(const std::string& line);
  std::string path_;
  std::ofstream out_;
};

// Mean loss and accuracy over a stretch of steps (an epoch, or the steps between two step
// lines), weighted by images.
struct RunningMeans {
  double loss_sum = 0;  // sum over images of the per-batch mean loss
  int64_t correct = 0, seen = 0;

  void add(double batch_loss, int64_t batch_correct, int64_t batch_size) {
    loss_sum += batch_loss * double(batch_size);
    correct += batch_correct;
    seen += batch_size;
  }
  void add(const RunningMeans& o) {
    loss_sum += o.loss_sum;
    correct += o.correct;
    seen += o.seen;
  }
  double loss() const { return seen ? loss_sum / double(seen) : kNoValue; }
  double acc() const { return seen ? double(correct) / double(seen) : kNoValue; }
};

}  // namespace whet::train
