// The classic PyTorch fine-tuning loop, written with whet. Each step carries, in a comment,
// the Python line it mirrors:
//
//   model = models.small_cnn(); model.load_state_dict(torch.load("pretrained"))
//   for p in model.parameters(): p.requires_grad = False          # freeze the backbone
//   model.fc = nn.Linear(model.fc.in_features, num_classes)       # new head (trainable)
//   criterion = nn.CrossEntropyLoss()
//   optimizer = optim.SGD(model.fc.parameters(), lr, momentum=0.9, weight_decay=1e-4)
//   for epoch in range(epochs):
//       model.train()
//       for x, y in loader:
//           optimizer.zero_grad()
//           loss = criterion(model(x), y) + l1 * sum(p.abs().sum() for p in model.fc.parameters())
//           loss.backward(); optimizer.step()
//       model.eval()
//       with torch.no_grad(): accuracy = (model(x_val).argmax(1) == y_val).float().mean()
//
// The "pretrained" weights come from a first run on a source task (five synthetic texture
// classes); the target task is five other classes with few labelled images. The program
// prints the fine-tuned accuracy next to the same network trained from scratch on the few
// images, and exits non-zero if fine-tuning did not learn (it runs in the test suite).
//
//   build/examples/finetune [--quick] [--dir DIR]
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>

#include "core/autograd.h"
#include "io/weights.h"
#include "models/registry.h"
#include "nn/freeze.h"
#include "nn/loss.h"
#include "optim/optim.h"

using namespace whet;

namespace {
constexpr int64_t kSize = 28;
constexpr float kNoise = 2.0f;  // noisy enough that five labelled images per class are hard

// Images of class k: an oriented grating (frequency and angle set by k) with a random phase,
// plus noise. Classes 0-4 are the source task, 5-9 the target task.
std::pair<Tensor, Tensor> make_data(int64_t first_class, int64_t classes, int64_t per_class,
                                    Generator& g) {
  int64_t n = classes * per_class;
  std::vector<float> px(size_t(n * kSize * kSize));
  std::vector<int64_t> labels(static_cast<size_t>(n));
  std::vector<double> phase = rand({n}, DType::f64, Device::cpu(), g).to_vector<double>();
  std::vector<float> noise = randn({n * kSize * kSize}, DType::f32, Device::cpu(), g).to_vector<float>();
  for (int64_t i = 0; i < n; ++i) {
    int64_t k = first_class + i % classes;
    labels[size_t(i)] = i % classes;
    double angle = 0.31 * double(k), freq = 2.0 + double(k % 4);
    for (int64_t r = 0; r < kSize; ++r) {
      for (int64_t c = 0; c < kSize; ++c) {
        double u = (std::cos(angle) * double(c) + std::sin(angle) * double(r)) / double(kSize);
        size_t j = size_t((i * kSize + r) * kSize + c);
        px[j] = float(std::sin(6.2831853 * (freq * u + phase[size_t(i)])) + kNoise * noise[j]);
      }
    }
  }
  return {Tensor::from_vector(px, {n, kSize, kSize, 1}), Tensor::from_vector(labels, {n})};
}

double accuracy(nn::Module& model, const Tensor& x, const Tensor& y) {
  model.eval();
  NoGradGuard no_grad;  // with torch.no_grad():
  Tensor correct = cast(eq(argmax(model(x), 1), y), DType::f32);
  return mean(correct).item();
}

// One epoch of mini-batch training; returns the mean loss.
double train_epoch(nn::Module& model, optim::Optimizer& opt, const Tensor& x, const Tensor& y,
                   int64_t batch, const std::vector<Tensor>& l1_params, double l1) {
  model.train();
  double total = 0;
  int64_t steps = 0;
  for (int64_t b = 0; b < x.size(0); b += batch) {
    int64_t e = std::min(b + batch, x.size(0));
    opt.zero_grad();                                                   // optimizer.zero_grad()
    Tensor loss = cross_entropy(model(x.slice(b, e)), y.slice(b, e));  // criterion(model(x), y)
    if (l1 > 0) loss = loss + nn::l1_penalty(l1_params) * l1;          // + l1 * sum(|p|)
    loss.backward();                                                   // loss.backward()
    opt.step();                                                        // optimizer.step()
    total += loss.item();
    ++steps;
  }
  return total / double(steps);
}

std::vector<Tensor> params_of(nn::Module& m) { return m.parameters(); }
}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  std::string dir = ".";
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--quick")) quick = true;
    else if (!std::strcmp(argv[i], "--dir") && i + 1 < argc) dir = argv[++i];
    else {
      std::fprintf(stderr, "usage: %s [--quick] [--dir DIR]\n", argv[0]);
      return 2;
    }
  }
  try {
    manual_seed(0);
    Generator data_rng(1);
    const int64_t pretrain_epochs = quick ? 3 : 6, finetune_epochs = quick ? 15 : 30;
    auto [src_x, src_y] = make_data(0, 5, quick ? 60 : 200, data_rng);
    auto [few_x, few_y] = make_data(5, 5, 5, data_rng);  // 5 labelled images per class
    auto [val_x, val_y] = make_data(5, 5, 40, data_rng);

    // 1. The "pretrained" network: small_cnn trained on the source task.
    auto pre = models::create_model("small_cnn", {5});
    optim::SGDOptions pre_o;
    pre_o.lr = 0.05, pre_o.momentum = 0.9;
    optim::SGD pre_opt(pre->parameters(), pre_o);
    for (int64_t e = 0; e < pretrain_epochs; ++e) train_epoch(*pre, pre_opt, src_x, src_y, 32, {}, 0);
    std::printf("source task accuracy after pretraining: %.3f\n", accuracy(*pre, src_x, src_y));
    std::string weights = dir + "/finetune_pretrained.safetensors";
    io::save_weights(*pre, weights);

    // 2. Fine-tuning: load, freeze, new head, train the head only.
    auto model = models::create_model("small_cnn", {5});
    io::load_weights(*model, weights, /*strict=*/true);  // model.load_state_dict(...)
    nn::freeze(*model);                                   // p.requires_grad = False
    nn::freeze_batchnorm(*model);                         // BN statistics stay pretrained
    model->reset_classifier(5);                           // model.fc = nn.Linear(in, 5)
    std::vector<Tensor> head = params_of(model->head());
    optim::SGDOptions o;
    o.lr = 0.05, o.momentum = 0.9, o.weight_decay = 1e-4;
    optim::SGD opt(head, o);  // optim.SGD(model.fc.parameters(), ...)
    for (int64_t e = 0; e < finetune_epochs; ++e) train_epoch(*model, opt, few_x, few_y, 5, head, 1e-4);
    double tuned = accuracy(*model, val_x, val_y);

    // 3. The same network from scratch on the same few images.
    auto scratch = models::create_model("small_cnn", {5});
    optim::SGD scratch_opt(scratch->parameters(), o);
    for (int64_t e = 0; e < finetune_epochs; ++e)
      train_epoch(*scratch, scratch_opt, few_x, few_y, 5, {}, 0);
    double from_scratch = accuracy(*scratch, val_x, val_y);

    std::printf("target task, 5 images per class, validation accuracy:\n");
    std::printf("  fine-tuned head (frozen backbone): %.3f\n", tuned);
    std::printf("  trained from scratch:              %.3f\n", from_scratch);
    if (!(tuned > 0.4)) {
      std::fprintf(stderr, "fine-tuning did not learn (accuracy %.3f, chance 0.2)\n", tuned);
      return 1;
    }
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "finetune: error: %s\n", e.what());
    return 1;
  }
}
