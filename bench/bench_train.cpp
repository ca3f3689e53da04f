// Whole training steps per second: forward, cross-entropy, backward and an SGD step (momentum
// 0.9, weight decay 1e-4) on synthetic inputs already on the device, the protocol of
// shared/bench/torch_baseline.py, so the figures sit beside PyTorch's in DEVICE.md. fp16 and
// bf16 run under autocast with float32 master weights; fp16 adds the loss scaler.
//
//   bench_train [--model resnet18] [--batch 128] [--size 224] [--classes 10]
//               [--device cpu|cuda] [--precision fp32|tf32|fp16|bf16]
//               [--train all|head|GLOB] [--steps 20] [--warmup 5] [--json FILE]
//
// --train head freezes the backbone and its BatchNorm (a frozen-feature probe); a GLOB (e.g.
// 'layer4.*') trains the matching parameters and the head. Each step is timed alone, after a
// device synchronisation, and the median is reported.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/autocast.h"
#include "core/backend.h"
#include "core/math_mode.h"
#include "core/ops.h"
#include "models/registry.h"
#include "nn/freeze.h"
#include "optim/grad_scaler.h"
#include "optim/sgd.h"

using namespace whet;

namespace {

struct Args {
  std::string model = "resnet18", device = "cpu", precision = "fp32", train = "all", json;
  int64_t batch = 128, size = 224, classes = 10;
  int steps = 20, warmup = 5;
};

[[noreturn]] void usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s [--model NAME] [--batch N] [--size N] [--classes N] [--device D]\n"
               "          [--precision fp32|tf32|fp16|bf16] [--train all|head|GLOB]\n"
               "          [--steps N] [--warmup N] [--json FILE]\n",
               argv0);
  std::exit(2);
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    if (i + 1 >= argc) usage(argv[0]);
    const char* v = argv[++i];
    if (k == "--model") a.model = v;
    else if (k == "--batch") a.batch = std::atoll(v);
    else if (k == "--size") a.size = std::atoll(v);
    else if (k == "--classes") a.classes = std::atoll(v);
    else if (k == "--device") a.device = v;
    else if (k == "--precision") a.precision = v;
    else if (k == "--train") a.train = v;
    else if (k == "--steps") a.steps = std::atoi(v);
    else if (k == "--warmup") a.warmup = std::atoi(v);
    else if (k == "--json") a.json = v;
    else usage(argv[0]);
  }
  if (a.batch <= 0 || a.size <= 0 || a.classes <= 0 || a.steps <= 0 || a.warmup < 0)
    usage(argv[0]);
  return a;
}

// The autocast dtype of a precision name; f32 for fp32 and tf32 (no autocast).
DType autocast_dtype(const std::string& p) {
  if (p == "fp16") return DType::f16;
  if (p == "bf16") return DType::bf16;
  WHET_CHECK(p == "fp32" || p == "tf32", "--precision ", p, ": expected fp32, tf32, fp16 or bf16");
  return DType::f32;
}

void set_trainable(nn::Module& model, models::Classifier& c, const std::string& train) {
  if (train == "all") return;
  nn::freeze(model);
  nn::freeze_batchnorm(model);
  if (train != "head") {
    WHET_CHECK(nn::unfreeze_matching(model, {train}) > 0, "--train ", train,
               ": matches no parameter");
  }
  nn::unfreeze(c.head());
}

}  // namespace

int main(int argc, char** argv) {
  Args a = parse(argc, argv);
  try {
    const Device dev = Device::parse(a.device);
    const DType low = autocast_dtype(a.precision);
    if (a.precision == "tf32") {
      WHET_CHECK(dev.is_cuda(), "--precision tf32 needs --device cuda (the CPU has no TF32)");
      set_allow_tf32(true);
    }

    models::ModelOptions mo;
    mo.num_classes = a.classes;
    auto model = models::create_model(a.model, mo);
    set_trainable(*model, *model, a.train);
    model->to(dev);
    model->train();
    std::vector<Tensor> params;
    for (const Tensor& p : model->parameters())
      if (p.requires_grad()) params.push_back(p);
    optim::SGDOptions so;
    so.lr = 0.01, so.momentum = 0.9, so.weight_decay = 1e-4;
    optim::SGD opt(params, so);

    Generator g(0);
    const models::ModelInfo* info = models::find_model(a.model);
    WHET_CHECK(info != nullptr, "--model ", a.model, ": not in the zoo (`whet models`)");
    const int64_t channels = info->default_input[2];
    Tensor x = randn({a.batch, a.size, a.size, channels}, DType::f32, Device::cpu(), g).to(dev);
    Tensor y = randint(0, a.classes, {a.batch}, DType::i64, Device::cpu(), g).to(dev);
    const Backend& be = backend(dev);
    const bool mixed = low != DType::f32;
    optim::GradScalerOptions gso;
    gso.enabled = low == DType::f16;  // dynamic loss scaling, as a real fp16 run has
    optim::GradScaler scaler(gso);

    std::vector<double> seconds;
    double last_loss = 0;
    for (int s = 0; s < a.warmup + a.steps; ++s) {
      be.synchronize(dev.index);
      auto start = std::chrono::steady_clock::now();
      opt.zero_grad();
      Tensor loss;
      {
        AutocastGuard autocast(mixed ? low : DType::bf16, mixed);
        loss = cross_entropy(model->forward(x), y);
      }
      scaler.scale(loss).backward();  // fp16 only; otherwise scale() is the identity
      scaler.step(opt);
      scaler.update();
      be.synchronize(dev.index);
      double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (s >= a.warmup) seconds.push_back(t);
      if (s + 1 == a.warmup + a.steps) last_loss = loss.item();
    }
    std::sort(seconds.begin(), seconds.end());
    const double median = seconds[seconds.size() / 2];
    const double ips = double(a.batch) / median;
    std::printf("%-20s batch %4lld  %3lldpx  %-4s %-5s train %-8s  %8.1f img/s  %7.2f ms/step  "
                "loss %.4f\n",
                a.model.c_str(), (long long)a.batch, (long long)a.size, a.device.c_str(),
                a.precision.c_str(), a.train.c_str(), ips, median * 1e3, last_loss);
    if (!a.json.empty()) {
      FILE* f = std::fopen(a.json.c_str(), "w");
      WHET_CHECK(f != nullptr, "--json ", a.json, ": cannot write");
      std::fprintf(f,
                   "{\"model\": \"%s\", \"batch\": %lld, \"size\": %lld, \"device\": \"%s\", "
                   "\"precision\": \"%s\", \"train\": \"%s\", \"images_per_s\": %.2f, "
                   "\"ms_per_step\": %.4f, \"steps\": %d}\n",
                   a.model.c_str(), (long long)a.batch, (long long)a.size, a.device.c_str(),
                   a.precision.c_str(), a.train.c_str(), ips, median * 1e3, a.steps);
      std::fclose(f);
    }
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "bench_train: error: %s\n", e.what());
    return 1;
  }
}
