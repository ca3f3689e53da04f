// `whet train` on two processes under the MPI launcher (dist/, data parallelism): the same
// steps as one process, one rank writing, refusals that reach every rank. Compiled where whet
// has MPI (tests/CMakeLists.txt defines WHET_MPIEXEC); dist/'s own collectives are tested by
// tests/mpi/test_dist_mpi.cpp.
#ifdef WHET_MPIEXEC
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "io/safetensors.h"
#include "tests/cli_util.h"
#include "tests/temp_dir.h"
#include "tests/test_train_util.h"

namespace {

using whet_test::contains;
using whet_test::Run;
using whet_test::TempDir;

// `whet ARGS` on `ranks` processes, killed after timeout_s (exit status 124). One OpenMP
// thread each: the ranks share the cores.
Run run_ranks(int ranks, const std::string& args, int timeout_s = 300) {
  const std::string env =
      "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 timeout " +
      std::to_string(timeout_s) + " ";
  return whet_test::run_shell(env + WHET_MPIEXEC + " -n " + std::to_string(ranks) + " " +
                              WHET_MPIEXEC_FLAGS + " " + WHET_CLI + " " + args);
}

std::string common_args(const std::string& data, const std::string& model = "small_cnn") {
  return "train --model " + model + " --data tensors:" + data +
         " --val-fraction 0.25 --image-size 12 --batch-size 8 --epochs 2 --seed 3 --workers 0"
         " --augment flip";
}

int64_t line_count(const std::string& path) {
  std::ifstream in(path);
  return std::count(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>(), '\n');
}

// Two ranks against one process on the same arguments: the same weights (up to the order of
// float32 additions), one rank's metric lines, and the one-process evaluation counts.
void check_two_ranks_take_one_process_steps(const std::string& model,
                                            const std::string& two_rank_args = "") {
  TempDir dir;
  const std::string data = train_test::write_tensor_data(dir.file("d.safetensors"));
  // Frozen BatchNorm normalises each image alone, so half batches average to the whole
  // batch's gradient; only the order of float32 additions differs.
  const std::string args = common_args(data, model) + " --freeze-bn";
  const Run two = run_ranks(2, args + two_rank_args + " --output-dir " + dir.file("two") +
                                   " --save " + dir.file("two.safetensors"));
  INFO(two.out);
  REQUIRE(two.status == 0);
  CHECK(contains(two.out, "data parallel: 2 processes (mpi), 4 images per process per step"));
  const Run one = whet_test::run_whet(args + " --quiet --output-dir " + dir.file("one") +
                                      " --save " + dir.file("one.safetensors"));
  REQUIRE(one.status == 0);

  const auto a = whet::io::load_safetensors(dir.file("two.safetensors"));
  const auto b = whet::io::load_safetensors(dir.file("one.safetensors"));
  REQUIRE(a.tensors.size() == b.tensors.size());
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    CAPTURE(a.tensors[i].first);
    const std::vector<double> x = a.tensors[i].second.to_vector<double>();
    const std::vector<double> y = b.tensors[i].second.to_vector<double>();
    REQUIRE(x.size() == y.size());
    double scale = 0, diff = 0;
    for (size_t k = 0; k < x.size(); ++k) {
      scale = std::max(scale, std::abs(y[k]));
      diff = std::max(diff, std::abs(x[k] - y[k]));
    }
    CHECK(diff <= 1e-5 * scale + 1e-7);
  }
  // Rank 0 alone wrote the run: as many metric lines as the one-process run.
  CHECK(line_count(dir.file("two/metrics.jsonl")) == line_count(dir.file("one/metrics.jsonl")));
  // Each rank validated its half; added up, the counts are the one-process evaluation's.
  const auto eval_two = nlohmann::json::parse(std::ifstream(dir.file("two/eval.json")));
  const auto eval_one = nlohmann::json::parse(std::ifstream(dir.file("one/eval.json")));
  CHECK(eval_two["confusion"] == eval_one["confusion"]);
  CHECK(eval_two["accuracy"] == eval_one["accuracy"]);
  CHECK(std::abs(eval_two["loss"].get<double>() - eval_one["loss"].get<double>()) < 1e-5);
}

}  // namespace

TEST_CASE("train: two processes under mpirun take the one-process steps (BatchNorm frozen)") {
  check_two_ranks_take_one_process_steps("small_cnn");
}

TEST_CASE("train: two processes draw the one-process dropout masks (mobilenet_v3_small)") {
  // Its classifier's Dropout(0.2): each rank's half of a batch gets the masks one process
  // draws for that half, or the weights would differ after the first step.
  check_two_ranks_take_one_process_steps("mobilenet_v3_small");
}

TEST_CASE("train: two processes in micro-batches of 2 + 2 images take the one-process steps") {
  // Rows 0-1, 2-3 on rank 0 and 4-5, 6-7 on rank 1 of each batch of 8, dropout included.
  check_two_ranks_take_one_process_steps("mobilenet_v3_small", " --micro-batches 2");
}

TEST_CASE("train: BatchNorm training on two processes keeps the ranks in step and resumes") {
  TempDir dir;
  const std::string data = train_test::write_tensor_data(dir.file("d.safetensors"));
  const std::string out = dir.file("run");
  const Run first = run_ranks(2, common_args(data) + " --quiet --output-dir " + out +
                                     " --stop-at-step 8");
  INFO(first.out);
  REQUIRE(first.status == 0);
  const Run rest = run_ranks(2, "train --resume " + out + " --quiet");
  INFO(rest.out);
  REQUIRE(rest.status == 0);
  CHECK(std::ifstream(out + "/eval.json").good());
  const Run whole = run_ranks(2, common_args(data) + " --quiet --output-dir " + dir.file("whole"));
  REQUIRE(whole.status == 0);
  const auto a = whet::io::load_safetensors(out + "/last.safetensors");
  const auto b = whet::io::load_safetensors(dir.file("whole/last.safetensors"));
  // Stopped, resumed and finished on two ranks: the checkpoint's weights are bit for bit those
  // of the uninterrupted two-rank run.
  int compared = 0;
  for (const auto& [name, t] : a.tensors) {
    if (name.rfind("model.", 0) != 0) continue;
    for (const auto& [name_b, u] : b.tensors) {
      if (name_b != name) continue;
      CAPTURE(name);
      CHECK(train_test::bitwise_equal({{name, t}}, {{name, u}}));
      ++compared;
    }
  }
  CHECK(compared > 10);
}

TEST_CASE("train: two processes with a plateau schedule, sparse validation and short epochs") {
  TempDir dir;
  const std::string data = train_test::write_tensor_data(dir.file("d.safetensors"));
  // Every decision that feeds a collective (validate or not, the plateau's lr, when an epoch
  // ends) must come out alike on both ranks; the epoch-end model comparison checks it.
  const Run r = run_ranks(2, common_args(data) +
                                 " --quiet --epochs 4 --val-every 2 --scheduler plateau "
                                 "--max-steps-per-epoch 4 --optimizer adam --lr 0.003 "
                                 "--output-dir " + dir.file("run"));
  INFO(r.out);
  CHECK(r.status == 0);
  CHECK(line_count(dir.file("run/metrics.jsonl")) > 4);
}

TEST_CASE("eval: two processes under mpirun share the data and report the one-process counts") {
  TempDir dir;
  const std::string data = train_test::write_tensor_data(dir.file("d.safetensors"));
  REQUIRE(whet_test::run_whet(common_args(data) + " --quiet --epochs 1 --output-dir " +
                              dir.file("run") + " --save " + dir.file("w.safetensors"))
              .status == 0);
  const std::string args = "eval --model small_cnn --weights " + dir.file("w.safetensors") +
                           " --data tensors:" + data + " --json ";
  REQUIRE(whet_test::run_whet(args + dir.file("one.json")).status == 0);
  const Run two = run_ranks(2, args + dir.file("two.json"));
  INFO(two.out);
  REQUIRE(two.status == 0);
  CHECK(contains(two.out, "(shared by 2 processes)"));
  const auto a = nlohmann::json::parse(std::ifstream(dir.file("one.json")));
  const auto b = nlohmann::json::parse(std::ifstream(dir.file("two.json")));
  CHECK(a["confusion"] == b["confusion"]);
  CHECK(a["top5"] == b["top5"]);
  // Other batch compositions move float32 logits by an ulp or so: the loss agrees to 1e-6.
  CHECK(std::abs(a["loss"].get<double>() - b["loss"].get<double>()) <
        1e-6 * std::abs(a["loss"].get<double>()));
}

TEST_CASE("train: a batch that two processes cannot share fails on every rank, naming why") {
  TempDir dir;
  const std::string data = train_test::write_tensor_data(dir.file("d.safetensors"));
  const Run r =
      run_ranks(2, common_args(data) + " --quiet --batch-size 7 --output-dir " + dir.file("x"));
  CHECK(r.status != 0);
  CHECK(contains(r.out, "--batch-size 7 cannot be shared equally by 2 processes"));
  CHECK(contains(r.out, "(rank 0 of 2)"));
  CHECK(contains(r.out, "(rank 1 of 2)"));
}

TEST_CASE("train: an error on rank 0 alone ends every rank instead of hanging the job") {
  TempDir dir;
  const std::string data = train_test::write_tensor_data(dir.file("d.safetensors"));
  // A folder where rank 0 (the one that writes) must put its first checkpoint: its save
  // fails while rank 1 goes on to the next step's all-reduce, which rank 0 never joins.
  std::filesystem::create_directories(dir.file("run/last.safetensors"));
  const Run r = run_ranks(2,
                          common_args(data) + " --overwrite --checkpoint-every 2 --quiet "
                                              "--output-dir " + dir.file("run"),
                          /*timeout_s=*/120);
  INFO(r.out);
  CHECK(r.status != 0);
  CHECK(r.status != 124);  // timeout(1)'s status: the ranks hung
  CHECK(contains(r.out, "last.safetensors"));
}

#endif  // WHET_MPIEXEC
