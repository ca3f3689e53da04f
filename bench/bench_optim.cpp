// Optimizer step time over a real model's parameters: the update kernels alone, gradients
// already in place. Reports the median milliseconds per step and the memory traffic it
// implies (every parameter, gradient and state tensor read once and written once where the
// update writes it), to set beside the device's copy bandwidth.
//
//   bench_optim [--model resnet50] [--device cpu|cuda] [--steps 20] [--warmup 3]
//
// Optimizers: SGD, SGD with momentum, Adam, AdamW (amsgrad off), RMSprop, and Adam through
// GradScaler (unscale, step gated by found_inf on the device, scale update).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/backend.h"
#include "core/ops.h"
#include "models/registry.h"
#include "optim/adam.h"
#include "optim/grad_scaler.h"
#include "optim/rmsprop.h"
#include "optim/sgd.h"

using namespace whet;

namespace {

struct Args {
  std::string model = "resnet50", device = "cpu";
  int steps = 20, warmup = 3;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "bench_optim: %s needs a value\n", k.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (k == "--model") a.model = value();
    else if (k == "--device") a.device = value();
    else if (k == "--steps") a.steps = std::atoi(value().c_str());
    else if (k == "--warmup") a.warmup = std::atoi(value().c_str());
    else {
      std::fprintf(stderr,
                   "usage: %s [--model NAME] [--device cpu|cuda] [--steps N] [--warmup N]\n",
                   argv[0]);
      std::exit(2);
    }
  }
  return a;
}

struct Case {
  const char* name;
  int tensors_touched;  // parameter-sized tensors read + written per step, for the traffic
  std::function<std::function<void()>(std::vector<Tensor>&)> make;  // returns one step
};

}  // namespace

int main(int argc, char** argv) {
  Args a = parse(argc, argv);
  Device dev = Device::parse(a.device);
  auto model = models::create_model(a.model);
  model->to(dev);
  std::vector<Tensor> params;
  int64_t numel = 0;
  for (auto& [name, p] : model->named_parameters()) {
    p.set_grad(randn(p.shape(), DType::f32, dev) * 1e-3);
    params.push_back(p);
    numel += p.numel();
  }

  auto plain = [](auto opt) {
    auto shared = std::shared_ptr<optim::Optimizer>(std::move(opt));
    return std::function<void()>([shared] { shared->step(); });
  };
  std::vector<Case> cases = {
      // read p, g; write p
      {"sgd", 3, [&](std::vector<Tensor>& ps) { return plain(std::make_unique<optim::SGD>(ps)); }},
      // read p, g, buf; write p, buf
      {"sgd_momentum", 5,
       [&](std::vector<Tensor>& ps) {
         optim::SGDOptions o;
         o.momentum = 0.9;
         o.weight_decay = 1e-4;
         return plain(std::make_unique<optim::SGD>(ps, o));
       }},
      // read p, g, m, v; write p, m, v
      {"adam", 7, [&](std::vector<Tensor>& ps) { return plain(std::make_unique<optim::Adam>(ps)); }},
      {"adamw", 7,
       [&](std::vector<Tensor>& ps) { return plain(std::make_unique<optim::AdamW>(ps)); }},
      // read p, g, square_avg; write p, square_avg
      {"rmsprop", 5,
       [&](std::vector<Tensor>& ps) { return plain(std::make_unique<optim::RMSprop>(ps)); }},
      // unscale: read g, write g; then Adam
      {"adam+scaler", 9,
       [&](std::vector<Tensor>& ps) {
         auto opt = std::make_shared<optim::Adam>(ps);
         // Scale 1: the gradients are given, not scaled by a backward, so unscaling by 2^16
         // every step would shrink them into denormals within a few steps.
         optim::GradScalerOptions so;
         so.init_scale = 1.0;
         auto scaler = std::make_shared<optim::GradScaler>(so);
         Tensor loss = zeros({}, DType::f32, ps[0].device());
         return std::function<void()>([opt, scaler, loss] {
           scaler->scale(loss);  // creates the scale on the device; the gradients are given
           scaler->step(*opt);
           scaler->update();
         });
       }},
  };

  const Backend& be = backend(dev);
  std::printf("%s: %zu parameter tensors, %.1f M values, on %s\n", a.model.c_str(),
              params.size(), double(numel) / 1e6, dev.str().c_str());
  for (Case& c : cases) {
    std::function<void()> step = c.make(params);
    for (int i = 0; i < a.warmup; ++i) step();
    std::vector<double> ms;
    for (int i = 0; i < a.steps; ++i) {
      be.synchronize(dev.index);
      auto t0 = std::chrono::steady_clock::now();
      step();
      be.synchronize(dev.index);
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                       .count());
    }
    std::sort(ms.begin(), ms.end());
    double median = ms[ms.size() / 2];
    double gb = double(numel) * 4.0 * c.tensors_touched / 1e9;
    std::printf("  %-13s %9.3f ms/step  %8.1f GB/s\n", c.name, median, gb / (median / 1e3));
  }
  return 0;
}
