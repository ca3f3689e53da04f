// CPU kernel benchmark: the GEMM ceiling, and conv2d forward, backward-input and
// backward-weight at ResNet-18's 3x3 shapes, reported in GFLOP/s and as a fraction of the
// GEMM measured in the same run (im2col + GEMM should keep most of the GEMM's speed). Then
// the memory-bound passes around the convolutions (BatchNorm, ReLU, 2x2 max pooling) at
// small_cnn's shapes, in ms and GB/s of tensor data read and written.
//
//   bench_cpu [--batch N] [--ops-batch N] [--reps N] [--gemm N] [--json FILE]
//
// Every measurement is the median of `reps` timed calls after one warm-up. The repetitions
// are interleaved (GEMM, then every conv pass, then again), so load from other processes
// lands on the GEMM and the convolutions alike and the ratio stays meaningful.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "core/ops.h"
#include "kernels/cpu/kernels.h"

using namespace whet;

namespace {

struct Task {
  std::string name;
  double flops;
  std::function<void()> run;
  std::vector<double> seconds;
  double median() const {
    std::vector<double> t = seconds;
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
  }
  double gflops() const { return flops / median() * 1e-9; }
};

void time_interleaved(std::vector<Task>& tasks, int reps) {
  for (Task& t : tasks) t.run();  // warm-up: first-touch pages, thread pool, caches
  for (int r = 0; r < reps; ++r)
    for (Task& t : tasks) {
      auto start = std::chrono::steady_clock::now();
      t.run();
      t.seconds.push_back(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
}

// The tensors of one conv shape, kept alive while its tasks run.
struct ConvShape {
  std::string name;
  Tensor x, w, y, gy, gx, gw;
  Conv2dOptions o;
  double flops;  // of one pass; forward and both backward passes cost the same
};

ConvShape make_conv(int64_t n, int64_t hw, int64_t c) {
  Generator g(1);
  ConvShape s;
  s.name = std::to_string(hw) + "x" + std::to_string(hw) + "x" + std::to_string(c);
  s.o.padding = 1;
  s.x = randn({n, hw, hw, c}, DType::f32, Device::cpu(), g);   // (N, H, W, C)
  s.w = randn({c, 3, 3, c}, DType::f32, Device::cpu(), g);     // (O, KH, KW, C)
  s.y = Tensor::empty({n, hw, hw, c});                         // (N, OH, OW, O)
  s.gy = randn({n, hw, hw, c}, DType::f32, Device::cpu(), g);  // (N, OH, OW, O)
  s.gx = Tensor::empty(s.x.shape());
  s.gw = Tensor::empty(s.w.shape());
  s.flops = 2.0 * double(n * hw * hw) * double(c) * double(9 * c);
  return s;
}

// The tensors of one activation shape for the memory-bound passes (BatchNorm in training,
// ReLU, 2x2 max pooling), kept alive while their tasks run.
struct ActShape {
  std::string name;
  Tensor x, y, gy, gx, weight, bias, running_mean, running_var, save_mean, save_invstd, gw, gb;
  Tensor pooled, indices, gpooled;
  double bytes;  // of x, the size every pass moves a few times
};

ActShape make_act(int64_t n, int64_t hw, int64_t c) {
  Generator g(2);
  ActShape s;
  s.name = std::to_string(hw) + "x" + std::to_string(hw) + "x" + std::to_string(c);
  s.x = randn({n, hw, hw, c}, DType::f32, Device::cpu(), g);
  s.gy = randn({n, hw, hw, c}, DType::f32, Device::cpu(), g);
  s.y = Tensor::empty(s.x.shape());
  s.gx = Tensor::empty(s.x.shape());
  for (Tensor* t : {&s.weight, &s.bias, &s.running_mean, &s.running_var, &s.save_mean,
                    &s.save_invstd, &s.gw, &s.gb})
    *t = Tensor::empty({c});
  s.weight.fill_(1.0), s.bias.fill_(0.0), s.running_mean.fill_(0.0), s.running_var.fill_(1.0);
  s.pooled = Tensor::empty({n, hw / 2, hw / 2, c});
  s.indices = Tensor::empty({n, hw / 2, hw / 2, c}, DType::i64);
  s.gpooled = randn({n, hw / 2, hw / 2, c}, DType::f32, Device::cpu(), g);
  s.bytes = double(s.x.nbytes());
  return s;
}

Pool2dOptions pool2x2() {
  Pool2dOptions o;
  o.kernel_size = 2;
  return o;
}

// The passes of one shape, each with the bytes it reads and writes (in units of x's size:
// BatchNorm forward reads x twice for its statistics and once to normalise, and so on).
void add_act_tasks(ActShape& s, std::vector<Task>& tasks) {
  const double b = s.bytes;
  tasks.push_back({s.name + " bn fwd",
                   4 * b,
                   [&s] {
                     cpu::batch_norm(s.x, s.weight, s.bias, s.running_mean, s.running_var, true,
                                     0.1, 1e-5, s.y, s.save_mean, s.save_invstd);
                   },
                   {}});
  tasks.push_back({s.name + " bn bwd",
                   6 * b,
                   [&s] {
                     cpu::batch_norm_backward(s.gy, s.x, s.weight, s.save_mean, s.save_invstd, true,
                                              s.gx, s.gw, s.gb);
                   },
                   {}});
  tasks.push_back({s.name + " relu fwd", 2 * b, [&s] { cpu::unary(UnaryOp::relu, s.x, s.y); }, {}});
  tasks.push_back({s.name + " relu bwd",
                   4 * b,
                   [&s] { cpu::unary_backward(UnaryOp::relu, s.x, s.y, s.gy, s.gx); },
                   {}});
  // max pool: reads x, writes a quarter of it and int64 indices twice that size.
  tasks.push_back({s.name + " maxpool fwd",
                   1.75 * b,
                   [&s] { cpu::max_pool2d(s.x, pool2x2(), s.pooled, s.indices); },
                   {}});
  tasks.push_back({s.name + " maxpool bwd",
                   1.75 * b,
                   [&s] { cpu::max_pool2d_backward(s.gpooled, s.indices, s.gx); },
                   {}});
}

}  // namespace

int main(int argc, char** argv) {
  int64_t batch = 8, ops_batch = 64, gemm_n = 1536;
  int reps = 11;
  std::string json;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    bool has_value = i + 1 < argc;
    if (a == "--json" && has_value)
      json = argv[++i];
    else if (a == "--batch" && has_value)
      batch = std::max(1LL, std::atoll(argv[++i]));
    else if (a == "--ops-batch" && has_value)
      ops_batch = std::max(1LL, std::atoll(argv[++i]));
    else if (a == "--reps" && has_value)
      reps = std::max(1, std::atoi(argv[++i]));
    else if (a == "--gemm" && has_value)
      gemm_n = std::max(1LL, std::atoll(argv[++i]));
    else {
      std::fprintf(stderr,
                   "usage: %s [--batch N] [--ops-batch N] [--reps N] [--gemm N] [--json FILE]\n",
                   argv[0]);
      return 2;
    }
  }

  // The ceiling: one square float32 GEMM through the same cpu::gemm the convolutions use.
  Generator g(0);
  Tensor a = randn({gemm_n, gemm_n}, DType::f32, Device::cpu(), g);
  Tensor b = randn({gemm_n, gemm_n}, DType::f32, Device::cpu(), g);
  Tensor c = Tensor::empty({gemm_n, gemm_n});
  std::vector<Task> tasks;
  tasks.push_back({"gemm",
                   2.0 * double(gemm_n) * double(gemm_n) * double(gemm_n),
                   [&] {
                     cpu::gemm<float>(false, false, gemm_n, gemm_n, gemm_n, 1.0f, a.data<float>(),
                                      gemm_n, b.data<float>(), gemm_n, 0.0f, c.data<float>(),
                                      gemm_n);
                   },
                   {}});

  // ResNet-18's 3x3 stride-1 convolutions, one per stage; three tasks each.
  std::vector<ConvShape> shapes;
  for (auto [hw, ch] : {std::pair<int64_t, int64_t>{56, 64}, {28, 128}, {14, 256}, {7, 512}})
    shapes.push_back(make_conv(batch, hw, ch));
  for (ConvShape& s : shapes) {
    tasks.push_back(
        {s.name + " fwd", s.flops, [&s] { cpu::conv2d(s.x, s.w, Tensor(), s.o, s.y); }, {}});
    tasks.push_back({s.name + " bwd-input",
                     s.flops,
                     [&s] { cpu::conv2d_backward_input(s.gy, s.w, s.o, s.gx); },
                     {}});
    tasks.push_back({s.name + " bwd-weight",
                     s.flops,
                     [&s] { cpu::conv2d_backward_weight(s.gy, s.x, s.o, s.gw); },
                     {}});
  }
  time_interleaved(tasks, reps);

  const double gemm_gflops = tasks[0].gflops();
  std::printf("GEMM f32 %lldx%lldx%lld: %.1f GFLOP/s (%.1f ms), median of %d\n\n",
              (long long)gemm_n, (long long)gemm_n, (long long)gemm_n, gemm_gflops,
              tasks[0].median() * 1e3, reps);
  std::printf(
      "conv2d f32 3x3 pad 1, batch %-3lld GFLOP/s:  forward  bwd-input  bwd-weight"
      "    all   / GEMM\n",
      (long long)batch);
  struct Row {
    std::string name;
    double gflop_per_pass, fwd, bwd_in, bwd_w, all;
  };
  std::vector<Row> rows;
  double total_flops = 0, total_s = 0;
  for (size_t i = 0; i < shapes.size(); ++i) {
    const Task* t = &tasks[1 + 3 * i];
    const double s = t[0].median() + t[1].median() + t[2].median();
    rows.push_back({shapes[i].name, shapes[i].flops * 1e-9, t[0].gflops(), t[1].gflops(),
                    t[2].gflops(), 3 * shapes[i].flops / s * 1e-9});
    total_flops += 3 * shapes[i].flops;
    total_s += s;
    const Row& r = rows.back();
    std::printf("  %-10s (%.2f GFLOP per pass)     %8.1f  %9.1f  %10.1f  %6.1f  %5.0f%%\n",
                r.name.c_str(), r.gflop_per_pass, r.fwd, r.bwd_in, r.bwd_w, r.all,
                100 * r.all / gemm_gflops);
  }
  const double conv_gflops = total_flops / total_s * 1e-9;
  std::printf("  %-10s %57.1f  %5.0f%%\n", "all shapes", conv_gflops,
              100 * conv_gflops / gemm_gflops);

  // small_cnn's activations: after conv1 (28x28x32), conv2/3 (14x14x64), conv4 (7x7x128).
  std::vector<ActShape> acts;
  for (auto [hw, ch] : {std::pair<int64_t, int64_t>{28, 32}, {14, 64}})
    acts.push_back(make_act(ops_batch, hw, ch));
  std::vector<Task> ops;
  for (ActShape& s : acts) add_act_tasks(s, ops);
  time_interleaved(ops, reps);
  std::printf("\nmemory-bound passes f32, batch %lld:      ms     GB/s\n", (long long)ops_batch);
  for (const Task& t : ops)
    std::printf("  %-26s %8.3f %8.1f\n", t.name.c_str(), t.median() * 1e3, t.gflops());

  if (!json.empty()) {
    FILE* f = std::fopen(json.c_str(), "w");
    if (!f) {
      std::fprintf(stderr, "cannot write %s\n", json.c_str());
      return 1;
    }
    std::fprintf(f, "{\n  \"reps\": %d,\n", reps);
    std::fprintf(f, "  \"gemm\": {\"n\": %lld, \"gflops\": %.3f, \"ms\": %.3f},\n",
                 (long long)gemm_n, gemm_gflops, tasks[0].median() * 1e3);
    std::fprintf(f, "  \"conv2d\": {\"batch\": %lld, \"shapes\": [\n", (long long)batch);
    for (size_t i = 0; i < rows.size(); ++i) {
      const Row& r = rows[i];
      std::fprintf(f,
                   "    {\"shape\": \"%s\", \"gflop_per_pass\": %.4f, \"forward_gflops\": %.3f, "
                   "\"backward_input_gflops\": %.3f, \"backward_weight_gflops\": %.3f, "
                   "\"gflops\": %.3f, \"ratio_to_gemm\": %.4f}%s\n",
                   r.name.c_str(), r.gflop_per_pass, r.fwd, r.bwd_in, r.bwd_w, r.all,
                   r.all / gemm_gflops, i + 1 < rows.size() ? "," : "");
    }
    std::fprintf(f, "  ], \"gflops\": %.3f, \"ratio_to_gemm\": %.4f}\n}\n", conv_gflops,
                 conv_gflops / gemm_gflops);
    std::fclose(f);
    std::printf("\nwrote %s\n", json.c_str());
  }
  return 0;
}
