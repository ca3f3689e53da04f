// Whole models on CUDA against the same models on the CPU: eval logits, a few SGD steps in
// train mode (losses, weights and BatchNorm statistics), and `whet train`'s library run end
// to end. Each kernel has its own suite; this one catches what only their composition shows
// (autograd on device tensors, optimizer updates, module moves, the trainer's device path).
#include <cmath>
#include <string>

#include "core/autograd.h"
#include "core/ops.h"
#include "models/registry.h"
#include "optim/sgd.h"
#include "tests/gpu/gpu_test_util.h"
#include "tests/test_train_util.h"
#include "train/trainer.h"

using namespace whet;
using namespace whet::gputest;

namespace {

// A model of the zoo built twice from the same seed, once moved to the device.
struct Twin {
  models::ClassifierPtr cpu_model, gpu_model;
};

Twin make_twin(const std::string& name, int64_t classes) {
  models::ModelOptions o;
  o.num_classes = classes;
  Twin t;
  manual_seed(11);
  t.cpu_model = models::create_model(name, o);
  manual_seed(11);
  t.gpu_model = models::create_model(name, o);
  t.gpu_model->to(dev());
  return t;
}

// Deep networks sum in a different order on the GPU (cuDNN and cuBLAS pick their own
// algorithms), and float32 rounding differences grow through dozens of layers: compared at
// rtol 1e-3 / atol 1e-4 rather than a single kernel's 1e-4 / 1e-5.
constexpr Tol kModelTol{1e-3, 1e-4};

const char* const kModels[] = {"small_cnn", "resnet18", "mobilenet_v2", "mobilenet_v3_small"};

}  // namespace

TEST_CASE("cuda models: eval logits match the CPU") {
  for (const char* name : kModels) {
    Twin t = make_twin(name, 7);
    const int64_t size = std::string(name) == "small_cnn" ? 28 : 64;
    const int64_t channels = std::string(name) == "small_cnn" ? 1 : 3;
    Tensor x = uniform_cpu({3, size, size, channels}, DType::f32, -1, 1, 5);
    t.cpu_model->eval();
    t.gpu_model->eval();
    NoGradGuard no_grad;
    Tensor yc = t.cpu_model->forward(x);
    Tensor yg = t.gpu_model->forward(x.to(dev()));
    CHECK(yg.device() == dev());
    WHET_CHECK_CLOSE(std::string(name) + " eval logits", yg, yc, kModelTol);
  }
}

TEST_CASE("cuda models: SGD steps in train mode follow the CPU") {
  for (const char* name : {"small_cnn", "resnet18", "mobilenet_v3_small"}) {
    Twin t = make_twin(name, 5);
    const bool small = std::string(name) == "small_cnn";
    const int64_t size = small ? 28 : 48, channels = small ? 1 : 3;
    Tensor x = uniform_cpu({4, size, size, channels}, DType::f32, -1, 1, 9);
    Tensor y = Tensor::from_vector(std::vector<int64_t>{0, 3, 1, 4}, {4});
    optim::SGDOptions so;
    so.lr = 0.01, so.momentum = 0.9, so.weight_decay = 1e-4;
    optim::SGD oc(t.cpu_model->parameters(), so), og(t.gpu_model->parameters(), so);
    t.cpu_model->train();
    t.gpu_model->train();
    for (int step = 0; step < 3; ++step) {
      oc.zero_grad();
      og.zero_grad();
      Tensor lc = cross_entropy(t.cpu_model->forward(x), y);
      Tensor lg = cross_entropy(t.gpu_model->forward(x.to(dev())), y.to(dev()));
      lc.backward();
      lg.backward();
      oc.step();
      og.step();
      WHET_CHECK_CLOSE(std::string(name) + " loss at step " + std::to_string(step), lg, lc,
                       kModelTol);
    }
    // Weights and running statistics after three steps, tensor by tensor.
    nn::NamedTensors sc = t.cpu_model->state_dict(), sg = t.gpu_model->state_dict();
    REQUIRE(sc.size() == sg.size());
    for (size_t i = 0; i < sc.size(); ++i) {
      if (!is_floating(sc[i].second.dtype())) continue;
      WHET_CHECK_CLOSE(std::string(name) + " " + sc[i].first + " after 3 steps", sg[i].second,
                       sc[i].second, kModelTol);
    }
  }
}

TEST_CASE("cuda models: whet train runs on the device and learns like the CPU") {
  train_test::TempDir dir;
  const std::string data = train_test::write_tensor_data(dir.file("data.safetensors"));
  train::TrainConfig c = train_test::tiny_config(data, dir.file("cpu"));
  train::TrainResult rc = train::Trainer(c).run();
  c.output_dir = dir.file("cuda");
  c.device = "cuda";
  train::Trainer tg(c);
  train::TrainResult rg = tg.run();
  CHECK(rg.completed);
  CHECK(tg.model().parameters().front().device() == dev());
  CHECK(rg.global_step == rc.global_step);
  // The same batches and the same initial weights: the losses differ only by summation order.
  CHECK(std::fabs(rg.train_loss - rc.train_loss) < 1e-3 * std::fabs(rc.train_loss) + 1e-4);
  CHECK(std::fabs(rg.val_acc - rc.val_acc) <= 1.0 / 16 + 1e-9);  // at most one of 16 images
}
