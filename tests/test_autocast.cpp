// Mixed precision: the autocast policy (core/autocast.h), dtype promotion of binary ops, and
// training under --precision bf16/fp16. The CPU's half adapter: test_half_adapter.cpp.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/autocast.h"
#include "core/autograd.h"
#include "core/backend.h"
#include "core/ops.h"
#include "models/registry.h"
#include "nn/loss.h"
#include "optim/optim.h"
#include "tests/cli_util.h"
#include "tests/half_test_util.h"
#include "tests/golden_util.h"
#include "tests/test_train_util.h"
#include "train/checkpoint.h"
#include "train/setup.h"
#include "train/trainer.h"

using namespace train_test;
using namespace half_test;

namespace {

// A float32 leaf holding the values of t rounded to dt: what autocast's cast hands the kernels.
Tensor rounded_leaf(const Tensor& t, DType dt) {
  return t.detach().to(dt).to(DType::f32).set_requires_grad();
}

// Upstream gradients in {-1, -0.5, 0, 0.5, 1}: their sums over a few dozen elements are exact
// in every dtype, so bias gradients (reductions) compare exactly too.
Tensor coarse(const Shape& s, uint64_t seed) {
  Generator g(seed);
  Tensor r = randint(-2, 3, s, DType::i64, Device::cpu(), g);
  return r.to(DType::f32) * 0.5;
}

}  // namespace

// ---- the guard ----

TEST_CASE("autocast: guards nest and restore, and a disabled guard turns autocast off") {
  CHECK_FALSE(autocast_enabled());
  Tensor a = rnd({2, 3}, 1), b = rnd({3, 4}, 2);
  {
    AutocastGuard outer(DType::bf16);
    CHECK(autocast_enabled());
    CHECK(matmul(a, b).dtype() == DType::bf16);
    {
      AutocastGuard inner(DType::f16);
      CHECK(autocast_dtype() == DType::f16);
      CHECK(matmul(a, b).dtype() == DType::f16);
      {
        AutocastGuard off(DType::f16, /*enabled=*/false);
        CHECK_FALSE(autocast_enabled());
        CHECK(matmul(a, b).dtype() == DType::f32);
      }
      CHECK(autocast_enabled());
      CHECK(autocast_dtype() == DType::f16);
    }
    CHECK(autocast_dtype() == DType::bf16);
    CHECK(matmul(a, b).dtype() == DType::bf16);
  }
  CHECK_FALSE(autocast_enabled());
  CHECK(matmul(a, b).dtype() == DType::f32);
  CHECK(contains(error_of([] { AutocastGuard g(DType::f32); }),
                 "autocast: dtype must be float16 or bfloat16, got float32"));
}

// ---- the policy ----

TEST_CASE("autocast: matmul, linear and conv2d compute in the autocast dtype") {
  Tensor x = rnd({2, 5, 5, 3}, 1), w = rnd({4, 3, 3, 3}, 2), b = rnd({4}, 3);
  Tensor lx = rnd({6, 8}, 4), lw = rnd({5, 8}, 5), lb = rnd({5}, 6);
  for (DType dt : kHalves) {
    INFO(std::string(dtype_name(dt)));
    AutocastGuard autocast(dt);
    CHECK(matmul(lx, lw.reshape({8, 5})).dtype() == dt);
    CHECK(linear(lx, lw, lb).dtype() == dt);
    CHECK(linear(lx, lw).dtype() == dt);
    Tensor y = conv2d(x, w, b);
    CHECK(y.dtype() == dt);
    // The value is the float32 convolution of the rounded operands, rounded once.
    Tensor want;
    {
      AutocastGuard off(dt, false);
      want = conv2d(x.to(dt).to(DType::f32), w.to(dt).to(DType::f32), b.to(dt).to(DType::f32));
    }
    check_rounded("conv2d", y, want);
    // float64 is never cast (as PyTorch): it stays float64.
    CHECK(matmul(lx.to(DType::f64), lw.to(DType::f64).reshape({8, 5})).dtype() == DType::f64);
  }
}

TEST_CASE("autocast: softmax, cross_entropy, the losses, sum and mean return float32") {
  Tensor logits = rnd({4, 5}, 1), target = Tensor::from_vector<int64_t>({0, 4, 2, 1}, {4});
  Tensor y = rnd({4, 5}, 2);
  for (DType dt : kHalves) {
    INFO(std::string(dtype_name(dt)));
    Tensor h = logits.to(dt), hy = y.to(dt);
    AutocastGuard autocast(dt);
    CHECK(softmax(h).dtype() == DType::f32);
    CHECK(log_softmax(h, 0).dtype() == DType::f32);
    CHECK(cross_entropy(h, target).dtype() == DType::f32);
    CHECK(nn::mse_loss(h, hy).dtype() == DType::f32);
    CHECK(nn::l1_loss(h, y).dtype() == DType::f32);  // mixed dtypes meet in float32
    CHECK(nn::smooth_l1_loss(h, hy).dtype() == DType::f32);
    CHECK(nn::bce_with_logits_loss(h, sigmoid(hy)).dtype() == DType::f32);
    CHECK(sum(h).dtype() == DType::f32);
    CHECK(mean(h, {1}).dtype() == DType::f32);
    // The value is the float32 op on the half values: the cast up is exact.
    CHECK(cross_entropy(h, target).item() == cross_entropy(h.to(DType::f32), target).item());
    // float32 inputs are left as they are.
    CHECK(softmax(logits).dtype() == DType::f32);
  }
  // Outside autocast a half softmax stays half (computed in float32, rounded once).
  CHECK(softmax(logits.to(DType::bf16)).dtype() == DType::bf16);
}

TEST_CASE("autocast: batch_norm keeps the input dtype with float32 parameters and statistics") {
  Tensor x = rnd({3, 4, 4, 2}, 1, -1, 3);
  for (DType dt : kHalves) {
    INFO(std::string(dtype_name(dt)));
    Tensor w = ones({2}).set_requires_grad(), b = zeros({2}).set_requires_grad();
    Tensor rm = zeros({2}), rv = ones({2});
    Tensor xh = x.to(dt).set_requires_grad();
    Tensor y;
    {
      AutocastGuard autocast(dt);
      y = batch_norm(xh, w, b, rm, rv, true);
    }
    CHECK(y.dtype() == dt);
    CHECK(rm.dtype() == DType::f32);
    // Statistics of the half values, computed in float32 (double inside the kernel).
    Tensor rm32 = zeros({2}), rv32 = ones({2});
    Tensor y32 = batch_norm(x.to(dt).to(DType::f32), ones({2}), zeros({2}), rm32, rv32, true);
    CHECK(same_bits(rm, rm32));
    CHECK(same_bits(rv, rv32));
    check_rounded("batch_norm", y, y32);
    sum(y * coarse(y.shape(), 7)).backward();
    CHECK(xh.grad().dtype() == dt);
    CHECK(w.grad().dtype() == DType::f32);
    CHECK(b.grad().dtype() == DType::f32);

    // A model cast to half entirely: half parameters are widened, half statistics written back.
    Tensor rmh = zeros({2}, dt), rvh = ones({2}, dt);
    Tensor yh = batch_norm(x.to(dt), ones({2}, dt), zeros({2}, dt), rmh, rvh, true);
    CHECK(yh.dtype() == dt);
    CHECK(same_bits(rmh, rm32.to(dt)));
    CHECK(contains(error_of([&] {
                     batch_norm(x.to(dt), ones({2}, DType::f64), Tensor(), Tensor(), Tensor(),
                                true);
                   }),
                   "must be float32, got float64"));
  }
}

TEST_CASE("autocast: relu, add, pooling, dropout, concat and reshape keep the dtype that arrives") {
  Pool2dOptions p;
  p.kernel_size = 2;
  for (DType dt : kHalves) {
    INFO(std::string(dtype_name(dt)));
    AutocastGuard autocast(dt);
    for (DType in : {dt, DType::f32}) {
      Tensor x = rnd({2, 4, 4, 3}, 1, -2, 2, in);
      CHECK(relu(x).dtype() == in);
      CHECK(add(x, x).dtype() == in);
      CHECK(max_pool2d(x, p).dtype() == in);
      CHECK(avg_pool2d(x, p).dtype() == in);
      CHECK(adaptive_avg_pool2d(x, 1).dtype() == in);
      CHECK(dropout(x, 0.5, true).dtype() == in);
      CHECK(concat({x, x}, 3).dtype() == in);
      CHECK(x.reshape({2, -1}).dtype() == in);
    }
  }
}

TEST_CASE("autocast: float32 weights get float32 gradients, the float32 math on rounded values") {
  // Autocast's gradients are those of the float32 graph on the rounded operands, each kernel's
  // result rounded once to the half dtype, then cast up to the float32 parameters.
  SUBCASE("linear") {
    for (DType dt : kHalves) {
      INFO(std::string(dtype_name(dt)));
      Tensor x = rnd({6, 8}, 1).set_requires_grad();
      Tensor w = rnd({5, 8}, 2).set_requires_grad(), b = rnd({5}, 3).set_requires_grad();
      Tensor g = coarse({6, 5}, 4);
      Tensor y;
      {
        AutocastGuard autocast(dt);
        y = linear(x, w, b);
      }
      y.backward(g.to(dt));
      CHECK(w.grad().dtype() == DType::f32);
      CHECK(x.grad().dtype() == DType::f32);
      Tensor xr = rounded_leaf(x, dt), wr = rounded_leaf(w, dt), br = rounded_leaf(b, dt);
      linear(xr, wr, br).backward(g.to(dt).to(DType::f32));
      CHECK(same_bits(w.grad(), wr.grad().to(dt).to(DType::f32)));
      CHECK(same_bits(b.grad(), br.grad().to(dt).to(DType::f32)));
      CHECK(same_bits(x.grad(), xr.grad().to(dt).to(DType::f32)));
    }
  }
  SUBCASE("conv2d") {
    for (DType dt : kHalves) {
      INFO(std::string(dtype_name(dt)));
      Conv2dOptions o;
      o.stride = 2;
      o.padding = 1;
      Tensor x = rnd({2, 6, 5, 3}, 5).set_requires_grad();
      Tensor w = rnd({4, 3, 3, 3}, 6).set_requires_grad(), b = rnd({4}, 7).set_requires_grad();
      Tensor y;
      {
        AutocastGuard autocast(dt);
        y = conv2d(x, w, b, o);
      }
      Tensor g = coarse(y.shape(), 8);
      y.backward(g.to(dt));
      CHECK(w.grad().dtype() == DType::f32);
      Tensor xr = rounded_leaf(x, dt), wr = rounded_leaf(w, dt), br = rounded_leaf(b, dt);
      conv2d(xr, wr, br, o).backward(g.to(dt).to(DType::f32));
      CHECK(same_bits(w.grad(), wr.grad().to(dt).to(DType::f32)));
      CHECK(same_bits(b.grad(), br.grad().to(dt).to(DType::f32)));
      CHECK(same_bits(x.grad(), xr.grad().to(dt).to(DType::f32)));
    }
  }
}

TEST_CASE("autocast: backward runs with autocast off, in the dtypes the forward used") {
  Tensor x = rnd({3, 4}, 1), w = rnd({2, 4}, 2).set_requires_grad();
  bool enabled_in_backward = true;
  Tensor inside;
  {
    AutocastGuard autocast(DType::bf16);
    Tensor y = linear(x, w);
    Tensor probe = y.detach().clone();  // y's gradient passes through, noting the state
    record("probe", {y}, probe, [&](const Tensor& g, const NeedsGrad&) {
      enabled_in_backward = autocast_enabled();
      return std::vector<Tensor>{g};
    });
    sum(probe).backward();  // called inside the region
    CHECK(autocast_enabled());
    inside = w.grad().clone();
  }
  CHECK_FALSE(enabled_in_backward);
  w.set_grad(Tensor());
  Tensor loss;
  {
    AutocastGuard autocast(DType::bf16);
    loss = sum(linear(x, w));
  }
  loss.backward();
  CHECK(inside.dtype() == DType::f32);
  CHECK(same_bits(inside, w.grad()));
}

TEST_CASE("autocast: conv, batch_norm, relu and linear under bf16 match torch.autocast") {
  // tools/golden/make_autocast_fixtures.py: the same network under
  // torch.autocast("cpu", dtype=torch.bfloat16), one training-mode step.
  golden::Fixture f("autocast.safetensors");
  Tensor x = f.copy("input").set_requires_grad();
  Tensor cw = f.copy("conv.weight").set_requires_grad(),
         cb = f.copy("conv.bias").set_requires_grad();
  Tensor bw = f.copy("bn.weight").set_requires_grad(), bb = f.copy("bn.bias").set_requires_grad();
  Tensor lw = f.copy("linear.weight").set_requires_grad();
  Tensor lb = f.copy("linear.bias").set_requires_grad();
  Tensor rm = zeros({8}), rv = ones({8});
  Conv2dOptions o;
  o.padding = 1;
  Tensor z, logits, loss;
  {
    AutocastGuard autocast(DType::bf16);
    z = conv2d(x, cw, cb, o);
    Tensor a = relu(batch_norm(z, bw, bb, rm, rv, true));
    logits = linear(a.flatten(1), lw, lb);
    loss = cross_entropy(logits, f["target"]);
  }
  CHECK(z.dtype() == DType::bf16);
  CHECK(logits.dtype() == DType::bf16);
  CHECK(loss.dtype() == DType::f32);
  loss.backward();
  const double rtol = 1.6e-2, atol = 1e-5;  // assert_close's bfloat16 tolerances
  golden::check_close("conv output", z.to(DType::f32), f["conv_output"], rtol, atol);
  golden::check_close("logits", logits.to(DType::f32), f["logits"], rtol, atol);
  golden::check_close("loss", loss, f["loss"], rtol, atol);
  golden::check_close("running_mean", rm, f["bn.running_mean"], rtol, atol);
  golden::check_close("running_var", rv, f["bn.running_var"], rtol, atol);
  for (auto [name, t] : {std::pair{"input", x},
                         {"conv.weight", cw},
                         {"conv.bias", cb},
                         {"bn.weight", bw},
                         {"bn.bias", bb},
                         {"linear.weight", lw},
                         {"linear.bias", lb}}) {
    CHECK(t.grad().dtype() == DType::f32);
    golden::check_close(std::string("grad ") + name, t.grad(), f[std::string("grad.") + name], rtol,
                        atol);
  }
}

// ---- promotion ----

TEST_CASE("promotion: mixed floating dtypes promote as PyTorch's result_type") {
  const Tensor f16 = ones({2}, DType::f16), bf16 = ones({2}, DType::bf16), f32 = ones({2}),
               f64 = ones({2}, DType::f64);
  CHECK(result_type(f16, f32) == DType::f32);
  CHECK(result_type(bf16, f32) == DType::f32);
  CHECK(result_type(bf16, f16) == DType::f32);
  CHECK(result_type(bf16, f64) == DType::f64);
  CHECK(result_type(f32, f64) == DType::f64);
  // A 0-D operand takes the dimensioned one's dtype: half * scalar stays half.
  CHECK(result_type(bf16, Tensor::scalar(2.0, DType::f64)) == DType::bf16);
  CHECK(result_type(Tensor::scalar(2.0), f16) == DType::f16);
  CHECK(result_type(Tensor::scalar(1.0, DType::f16), Tensor::scalar(1.0)) == DType::f32);

  Tensor a = Tensor::from_vector<float>({1.5f, -2.25f}, {2}, DType::bf16);
  Tensor b = Tensor::from_vector<float>({0.1f, 3.0f}, {2});
  Tensor y = add(a, b);
  CHECK(y.dtype() == DType::f32);
  CHECK(y.to_vector<float>() == std::vector<float>{1.5f + 0.1f, -2.25f + 3.0f});
  CHECK(mul(a, Tensor::scalar(2.0)).dtype() == DType::bf16);
  CHECK(gt(a, b).dtype() == DType::boolean);
  CHECK(contains(error_of([&] { add(f32, ones({2}, DType::i32)); }),
                 "add: dtype mismatch (float32 and int32)"));
}

TEST_CASE("promotion: each operand's gradient comes back in its own dtype") {
  Tensor a = Tensor::from_vector<float>({1.5f, -2.0f}, {2}, DType::bf16).set_requires_grad();
  Tensor b = Tensor::from_vector<float>({0.5f, 3.0f}, {2}).set_requires_grad();
  Tensor c = Tensor::from_vector<double>({2.0, 4.0}, {2}).set_requires_grad();
  sum((a * b) / c).backward();
  CHECK(a.grad().dtype() == DType::bf16);
  CHECK(b.grad().dtype() == DType::f32);
  CHECK(c.grad().dtype() == DType::f64);
  CHECK(a.grad().to_vector<double>() == std::vector<double>{0.25, 0.75});      // b / c
  CHECK(b.grad().to_vector<double>() == std::vector<double>{0.75, -0.5});      // a / c
  CHECK(c.grad().to_vector<double>() == std::vector<double>{-0.1875, 0.375});  // -ab / c^2
}

// ---- training ----

namespace {

// 64 images (12, 12, 1) of 4 classes, write_tensor_data's recipe, in memory.
struct Synthetic {
  Tensor images, labels;
};
constexpr float kBand = 0.5f;  // the class signal: weak against noise of unit variance
Synthetic synthetic() {
  const int64_t n = 64, k = 4, h = 12;
  Generator g(7);
  Synthetic d{randn({n, h, h, 1}, DType::f32, Device::cpu(), g), Tensor()};
  std::vector<int64_t> labels;
  float* px = d.images.data<float>();
  for (int64_t i = 0; i < n; ++i) {
    labels.push_back(i % k);
    const int64_t band = (i % k) * h / k;
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = band; x < band + h / k; ++x) px[(i * h + y) * h + x] += kBand;
  }
  d.labels = Tensor::from_vector(labels, {n});
  return d;
}

// The loss of each of `steps` SGD steps of small_cnn on batches of 16, as the trainer takes
// them under `precision` (autocast around forward and loss, the scaler for fp16).
std::vector<double> train_losses(const std::string& precision, int steps) {
  const Synthetic d = synthetic();
  const train::PrecisionPolicy p = train::precision_policy(precision);
  manual_seed(11);
  models::ModelOptions mo;
  mo.num_classes = 4;
  models::ClassifierPtr m = models::create_model("small_cnn", mo);
  m->train();
  optim::SGDOptions so;
  so.lr = 0.05;
  so.momentum = 0.9;
  optim::SGD opt(m->parameters(), so);
  optim::GradScalerOptions gso;
  gso.enabled = p.loss_scaling;
  optim::GradScaler scaler(gso);
  std::vector<double> losses;
  for (int s = 0; s < steps; ++s) {
    const int64_t b = (s % 4) * 16;
    opt.zero_grad();
    Tensor loss;
    {
      AutocastGuard autocast(p.dtype, p.autocast);
      loss = cross_entropy(m->forward(d.images.slice(b, b + 16)), d.labels.slice(b, b + 16));
    }
    CHECK(loss.dtype() == DType::f32);
    scaler.scale(loss).backward();
    scaler.step(opt);
    scaler.update();
    losses.push_back(loss.item());
  }
  for (const Tensor& t : m->parameters()) CHECK(t.dtype() == DType::f32);  // master weights
  return losses;
}

double mean_of_last(const std::vector<double>& v, size_t n) {
  double s = 0;
  for (size_t i = v.size() - n; i < v.size(); ++i) s += v[i];
  return s / double(n);
}

}  // namespace

TEST_CASE("autocast training: small_cnn under bf16 and fp16 learns as float32 does") {
  const int steps = 40;
  const std::vector<double> f32 = train_losses("fp32", steps);
  CHECK(mean_of_last(f32, 8) < 0.1 * f32.front());
  for (const std::string precision : {"bf16", "fp16"}) {
    INFO(precision);
    const std::vector<double> h = train_losses(precision, steps);
    // Decreasing as float32's does...
    CHECK(mean_of_last(h, 8) < 0.1 * h.front());
    // ...and step by step close to it. Rounding differences (bf16 keeps 8 significant bits,
    // a relative 2^-9 per op; fp16 11) compound through 40 steps of SGD with momentum; the
    // largest gap measured is 0.008 (bf16) on losses from ln 4 = 1.39 down to 0.001, so 0.05
    // leaves a 6x margin for other CPUs' summation orders.
    double worst = 0;
    for (int i = 0; i < steps; ++i)
      worst = std::max(worst, std::abs(h[size_t(i)] - f32[size_t(i)]));
    MESSAGE(precision << ": first loss " << h.front() << " (fp32 " << f32.front()
                      << "), mean of the last 8 " << mean_of_last(h, 8) << " (fp32 "
                      << mean_of_last(f32, 8) << "), largest gap to fp32 " << worst);
    CHECK(worst < 0.05);
  }
}

TEST_CASE("autocast: the zoo's models run a training step under bf16 and fp16") {
  // Residual adds, squeeze-excitation products, depthwise convolutions, hardswish: every op
  // the models use meets half activations and float32 parameters. 64x64 keeps the last
  // BatchNorms above one value per channel per image: at 32x32 (1x1 features, BN over 2
  // values) mobilenet_v2's float32 gradients reach 1e7, past float16's 65504.
  for (const char* name : {"resnet18", "mobilenet_v2", "mobilenet_v3_small"}) {
    for (DType dt : kHalves) {
      INFO((std::string(name) + " " + dtype_name(dt)));
      manual_seed(3);
      models::ModelOptions mo;
      mo.num_classes = 3;
      models::ClassifierPtr m = models::create_model(name, mo);
      m->train();
      Tensor logits, loss;
      {
        AutocastGuard autocast(dt);
        logits = m->forward(rnd({2, 64, 64, 3}, 1));
        loss = cross_entropy(logits, Tensor::from_vector<int64_t>({0, 2}, {2}));
      }
      CHECK(logits.dtype() == dt);
      CHECK(loss.dtype() == DType::f32);
      loss.backward();
      for (const auto& [pname, p] : m->named_parameters()) {
        INFO(pname);
        REQUIRE(p.grad().defined());
        CHECK(p.grad().dtype() == DType::f32);
        CHECK_MESSAGE(std::isfinite(sum(abs(p.grad())).item()), pname);
      }
    }
  }
}

TEST_CASE("autocast training: an fp16 overflow skips the step and backs the scale off") {
  const Synthetic d = synthetic();
  manual_seed(11);
  models::ModelOptions mo;
  mo.num_classes = 4;
  models::ClassifierPtr m = models::create_model("small_cnn", mo);
  optim::SGDOptions so;
  so.lr = 0.05;
  so.momentum = 0.9;
  optim::SGD opt(m->parameters(), so);
  optim::GradScalerOptions gso;
  gso.init_scale = std::ldexp(1.0, 100);  // the loss gradient overflows float16 at once
  optim::GradScaler scaler(gso);
  const nn::NamedTensors before = m->state_dict();
  std::vector<Tensor> copies;
  for (const auto& kv : before) copies.push_back(kv.second.clone());

  Tensor loss;
  {
    AutocastGuard autocast(DType::f16);
    loss = cross_entropy(m->forward(d.images.slice(0, 16)), d.labels.slice(0, 16));
  }
  CHECK(std::isfinite(loss.item()));  // the forward is fine; the scaled gradients are not
  scaler.scale(loss).backward();
  scaler.step(opt);
  CHECK(scaler.found_inf(opt).item() == 1.0);
  scaler.update();
  CHECK(scaler.get_scale() == std::ldexp(1.0, 99));
  CHECK(scaler.growth_tracker() == 0);
  // Parameters, buffers (running statistics move in the forward: PyTorch's too) untouched by
  // the step, and no optimizer state created.
  const nn::NamedTensors after = m->state_dict();
  for (size_t i = 0; i < after.size(); ++i) {
    if (after[i].first.find("running_") != std::string::npos) continue;
    if (after[i].first.find("num_batches") != std::string::npos) continue;
    INFO(after[i].first);
    CHECK(same_bits(after[i].second, copies[i]));
  }
  for (const auto& kv : opt.state_dict()) CHECK(kv.first.rfind("state.", 0) != 0);
}

TEST_CASE("train: --precision bf16 trains from the CLI with float32 master weights") {
  TempDir dir;
  const std::string data = write_tensor_data(dir / "data.safetensors");
  const std::string out = dir / "run";
  whet_test::Run r = whet_test::run_whet(
      "train --model small_cnn --data tensors:" + data +
      " --val-fraction 0.25 --image-size 12 --augment flip --batch-size 8 --workers 0 --seed 3"
      " --epochs 2 --precision bf16 --output-dir " +
      out);
  INFO(r.out);
  REQUIRE(r.status == 0);
  CHECK(contains(r.out, "precision: bf16 autocast, float32 master weights"));
  CHECK(contains(r.out, "done: 12 steps; validation accuracy "));
  train::Checkpoint ck = train::load_checkpoint(out + "/last.safetensors");
  CHECK(contains(ck.metadata.at("config"), "precision = 'bf16'"));
  for (const auto& [name, t] : ck.part("model.")) {
    INFO(name);
    CHECK((t.dtype() == DType::f32 || t.dtype() == DType::i64));
  }
  CHECK(ck.part("scaler.").empty());  // bf16 needs no loss scaling

  // fp16 with clipping: the scaler unscales before clipping, and its state is checkpointed.
  whet_test::Run h = whet_test::run_whet(
      "train --model small_cnn --data tensors:" + data +
      " --val-fraction 0.25 --image-size 12 --batch-size 8 --workers 0 --seed 3 --epochs 1"
      " --precision fp16 --clip-grad 1.0 --quiet --output-dir " +
      (dir / "fp16"));
  INFO(h.out);
  REQUIRE(h.status == 0);
  train::Checkpoint hk = train::load_checkpoint(dir / "fp16/last.safetensors");
  CHECK_FALSE(hk.part("scaler.").empty());
}

TEST_CASE("train: --precision tf32 on the CPU is refused, naming the flag") {
  TempDir dir;
  train::TrainConfig c = tiny_config(write_tensor_data(dir / "data.safetensors"), dir / "run");
  c.precision = "tf32";
  CHECK(contains(error_of([&] { train::Trainer t(c); }),
                 "--precision tf32 needs --device cuda; the CPU computes float32 exactly"));
  CHECK_FALSE(std::filesystem::exists(dir / "run"));
}
