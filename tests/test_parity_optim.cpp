// Ten-step training trajectories against PyTorch, for every optimizer x schedule pairing, on
// a small CNN with its first conv and BatchNorm frozen and the head in a faster group
// (fixtures: tools/golden/make_fixtures.py, float64).
#include <doctest/doctest.h>

#include <functional>
#include <map>

#include "nn/freeze.h"
#include "nn/layers.h"
#include "optim/optim.h"
#include "tests/golden_util.h"

using namespace whet;
using namespace whet::optim;
using golden::check_close;

namespace {
// Mirrors SmallCNN in make_fixtures.py, names included.
class SmallCNN : public nn::Module {
 public:
  SmallCNN() : Module("SmallCNN") {
    conv1 = register_module("conv1", std::make_shared<nn::Conv2d>(3, 6, 3, Conv2dOptions{1, 1}, false));
    bn1 = register_module("bn1", std::make_shared<nn::BatchNorm2d>(6));
    conv2 = register_module("conv2", std::make_shared<nn::Conv2d>(6, 8, 3, Conv2dOptions{2, 1}, false));
    bn2 = register_module("bn2", std::make_shared<nn::BatchNorm2d>(8));
    fc = register_module("fc", std::make_shared<nn::Linear>(8, 5));
  }
  Tensor forward(const Tensor& x) override {
    Tensor h = relu(bn1->forward(conv1->forward(x)));
    h = relu(bn2->forward(conv2->forward(h)));
    return fc->forward(adaptive_avg_pool2d(h, 1).flatten(1));
  }
  std::shared_ptr<nn::Conv2d> conv1, conv2;
  std::shared_ptr<nn::BatchNorm2d> bn1, bn2;
  std::shared_ptr<nn::Linear> fc;
};

using Groups = std::pair<nn::NamedTensors, nn::NamedTensors>;  // backbone, head

template <class Opt, class Options>
std::unique_ptr<Optimizer> two_groups(const Groups& g, Options o) {
  Options head = o;
  head.lr = o.lr * 10;
  head.weight_decay = 0.0;
  return std::make_unique<Opt>(std::vector<ParamGroup<Options>>{{g.first, o}, {g.second, head}});
}

SGDOptions sgd(double lr, double momentum = 0, double wd = 0, bool nesterov = false,
               double dampening = 0) {
  SGDOptions o;
  o.lr = lr, o.momentum = momentum, o.weight_decay = wd, o.nesterov = nesterov;
  o.dampening = dampening;
  return o;
}

const std::map<std::string, std::function<std::unique_ptr<Optimizer>(const Groups&)>> kOptimizers = {
    {"sgd", [](const Groups& g) { return two_groups<SGD>(g, sgd(0.05)); }},
    {"sgd_momentum_wd_nesterov",
     [](const Groups& g) { return two_groups<SGD>(g, sgd(0.05, 0.9, 1e-3, true)); }},
    {"sgd_dampening", [](const Groups& g) { return two_groups<SGD>(g, sgd(0.05, 0.8, 0, false, 0.3)); }},
    {"adam", [](const Groups& g) {
       AdamOptions o;
       o.lr = 0.01, o.weight_decay = 1e-3;
       return two_groups<Adam>(g, o);
     }},
    {"adam_amsgrad", [](const Groups& g) {
       AdamOptions o;
       o.lr = 0.01, o.beta1 = 0.8, o.beta2 = 0.99, o.amsgrad = true;
       return two_groups<Adam>(g, o);
     }},
    {"adamw", [](const Groups& g) {
       AdamWOptions o;
       o.lr = 0.01, o.weight_decay = 0.05;
       return two_groups<AdamW>(g, o);
     }},
    {"rmsprop", [](const Groups& g) {
       RMSpropOptions o;
       o.lr = 0.01, o.weight_decay = 1e-3;
       return two_groups<RMSprop>(g, o);
     }},
    {"rmsprop_centered_momentum", [](const Groups& g) {
       RMSpropOptions o;
       o.lr = 0.005, o.momentum = 0.9, o.centered = true;
       return two_groups<RMSprop>(g, o);
     }},
};

// A schedule is stepped after each optimizer step; plateau gets the step's loss.
struct Schedule {
  std::unique_ptr<LRScheduler> lr;
  std::unique_ptr<ReduceLROnPlateau> plateau;
  void step(double loss) {
    if (lr) lr->step();
    if (plateau) plateau->step(loss);
  }
};

const std::map<std::string, std::function<Schedule(Optimizer&)>> kSchedules = {
    {"constant", [](Optimizer&) { return Schedule{}; }},
    {"step", [](Optimizer& o) { return Schedule{std::make_unique<StepLR>(o, 3, 0.5), nullptr}; }},
    {"multistep", [](Optimizer& o) {
       return Schedule{std::make_unique<MultiStepLR>(o, std::vector<int64_t>{2, 5, 8}, 0.3), nullptr};
     }},
    {"exponential", [](Optimizer& o) { return Schedule{std::make_unique<ExponentialLR>(o, 0.8), nullptr}; }},
    {"cosine", [](Optimizer& o) {
       return Schedule{std::make_unique<CosineAnnealingLR>(o, 4, 1e-4), nullptr};
     }},
    {"warmup_cosine", [](Optimizer& o) {
       return Schedule{linear_warmup(o, 3, 0.1, std::make_unique<CosineAnnealingLR>(o, 7)), nullptr};
     }},
    {"onecycle", [](Optimizer& o) {
       OneCycleLROptions c;
       c.max_lr = {o.lr(0) * 4, o.lr(1) * 4};
       c.total_steps = 10;
       return Schedule{std::make_unique<OneCycleLR>(o, c), nullptr};
     }},
    {"plateau", [](Optimizer& o) {
       ReduceLROnPlateauOptions c;
       c.factor = 0.5;
       c.patience = 1;
       return Schedule{nullptr, std::make_unique<ReduceLROnPlateau>(o, c)};
     }},
};
}  // namespace

TEST_CASE("parity: optimizer x schedule trajectories, part of the network frozen") {
  golden::Fixture fx("optim.safetensors");
  Tensor x = fx["data.input"], y = fx["data.target"];
  for (const auto& [oname, make_opt] : kOptimizers) {
    for (const auto& [sname, make_sched] : kSchedules) {
      std::string run = oname + "." + sname;
      INFO("run ", run);
      SmallCNN model;
      model.to(DType::f64);
      nn::NamedTensors init;
      for (auto& [n, t] : model.state_dict()) init.emplace_back(n, fx["init." + n]);
      model.load_state_dict(init);
      nn::freeze_matching(model, {"conv1.*"});
      model.bn1->set_frozen(true);
      model.train();
      Groups groups;
      for (auto& [n, p] : model.named_trainable_parameters())
        (n.rfind("fc.", 0) == 0 ? groups.second : groups.first).emplace_back(n, p);
      std::unique_ptr<Optimizer> opt = make_opt(groups);
      Schedule sched = make_sched(*opt);

      std::vector<double> losses, lrs;
      for (int step = 0; step < 10; ++step) {
        opt->zero_grad();
        Tensor loss = cross_entropy(model.forward(x), y);
        loss.backward();
        lrs.push_back(opt->lr(0));
        lrs.push_back(opt->lr(1));
        opt->step();
        losses.push_back(loss.item());
        sched.step(losses.back());
      }
      check_close(run + " lr", Tensor::from_vector(lrs, {10, 2}), fx[run + ".lr"], 1e-12, 1e-15);
      check_close(run + " loss", Tensor::from_vector(losses, {10}), fx[run + ".loss"],
                  golden::kF64Rtol, golden::kF64Atol);
      for (auto& [n, t] : model.state_dict()) {
        if (n.rfind("conv1.", 0) == 0 || n.rfind("bn1.", 0) == 0) {
          INFO("frozen ", n);
          CHECK(t.to_vector<double>() == fx["init." + n].to_vector<double>());
        } else if (n.find("num_batches_tracked") == std::string::npos) {
          check_close(run + " " + n, t, fx[run + ".final." + n], golden::kF64Rtol, golden::kF64Atol);
        }
      }
    }
  }
}
