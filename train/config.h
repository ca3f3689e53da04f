// The configuration of a training run: one struct, one table of its fields. The table is the
// single source of the TOML keys (config files, the config.toml saved with each run) and of
// the `whet train` flags (key `num_classes` <-> flag `--num-classes`; a bool key `k` gives
// `--k` and `--no-k`), so the two cannot drift apart.
//
//   TrainConfig c;                                    // the defaults below
//   apply_toml_file(c, "run.toml");                   // keys present in the file override
//   c.lr = 0.1;                                       // as a flag would
//   resolve(c);                                       // validate, fill in the "auto" values
//   std::string text = to_toml(c);                    // what config.toml holds
//
// In a file, keys sit in their section ([model], [data], [optim], [schedule], [run]) or at
// the top level; an unknown key, a key in another section, or a value of the wrong type is
// an error naming the file, line and key.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace whet::train {

struct TrainConfig {
  // [model]
  std::string model;                     // a name of the zoo (models/registry.h)
  std::string weights;                   // pretrained weights; empty: random init
  bool reset_head = false;               // new head even when the pretrained one fits
  int64_t num_classes = 0;               // 0: the data's
  int64_t in_channels = 0;               // 0: the model's own; else the stem is adapted
  std::vector<std::string> freeze;       // globs over parameter names
  std::vector<std::string> freeze_type;  // module types: Conv2d, BatchNorm2d, Linear, ...
  std::vector<std::string> unfreeze;     // globs, applied after freeze and freeze_type
  bool freeze_bn = false;                // BatchNorm statistics and affine fixed
  double drop_rate = -1;                 // dropout before the head; < 0: the model's own
  double drop_path = 0;                  // stochastic depth rate of the last residual block
  int64_t freeze_stages = 0;             // the first N stages (stem first), BatchNorm included
  double width_mult = 1.0;               // MobileNets' width multiplier
  std::string width_rule;                // MobileNetV3: torchvision | timm; empty: torchvision
  double bn_eps = 0;                     // every BatchNorm's eps; 0: the model's own
  double bn_momentum = 0;                // every BatchNorm's momentum; 0: the model's own

  // [data]
  std::string data;                  // data/open.h spec
  double val_fraction = 0.0;         // > 0: split validation off the training set
  std::vector<int64_t> classes;      // keep only these, relabelled 0..k-1
  int64_t per_class = 0;             // > 0: at most this many training images per class
  int64_t image_size = 0;            // 0: the model's default input size
  std::string augment = "imagenet";  // imagenet | flip | none
  double color_jitter = 0;           // > 0: brightness, contrast, saturation strength
  double random_erase = 0;           // > 0: probability of erasing a rectangle
  double mixup = 0;                  // > 0: mixup's Beta alpha (data/mix.h)
  double cutmix = 0;                 // > 0: cutmix's Beta alpha
  int64_t batch_size = 32;
  int64_t micro_batches = 1;  // > 1: each batch in this many pieces, gradients accumulated
  int64_t workers = 2;
  bool shuffle = true;
  bool strict_data = false;  // unreadable images are errors instead of skipped
  bool fast_decode = false;  // JPEGs decode at a reduced scale where the transforms allow

  // [optim]
  std::string optimizer = "sgd";  // sgd | adam | adamw | rmsprop
  double lr = 0.01;
  double momentum = 0.9;       // sgd and rmsprop
  bool nesterov = false;       // sgd
  double weight_decay = -1.0;  // < 0: the optimizer's default (adamw 0.01, others 0)
  double bias_norm_weight_decay = -1.0;  // of 1-D parameters; < 0: weight_decay
  double head_lr = 0.0;        // > 0: the head's lr; else lr * head_lr_mult
  double head_lr_mult = 1.0;
  double layer_decay = 1.0;  // < 1: stage k below the head gets lr * layer_decay^k
  std::string loss = "ce";   // ce | mse | bce (mse and bce on one-hot targets)
  double label_smoothing = 0.0;
  std::string class_weights;  // "", "balanced" or "w0,w1,..." (ce only)
  double l1 = 0.0;         // coefficient of sum |p| over the trainable parameters
  double l2 = 0.0;         // coefficient of sum p^2 (a loss term, unlike weight_decay)
  double clip_grad = 0.0;  // > 0: max total gradient norm
  double ema_decay = 0.0;  // > 0: validate and save an exponential moving average of the weights

  // [schedule]
  std::string scheduler =
      "constant";                   // constant|step|multistep|exponential|cosine|onecycle|plateau
  double warmup_epochs = 0.0;       // linear warm-up, composed with any scheduler
  int64_t step_size = 10;           // step: epochs between decays
  double gamma = 0.1;               // step, multistep, exponential (per epoch), plateau
  std::vector<int64_t> milestones;  // multistep: epochs
  double min_lr = 0.0;              // cosine floor, plateau floor
  int64_t patience = 2;             // plateau: epochs without improvement

  // [run]
  int64_t epochs = 10;
  int64_t max_steps_per_epoch = 0;  // > 0: cut epochs short (quick demos)
  int64_t val_every = 1;            // validate every N epochs, and after the last
  int64_t early_stop = 0;           // > 0: stop after this many validations without a better accuracy
  int64_t stop_at_step = 0;         // > 0: checkpoint and stop after this many steps in all
  std::string device = "cpu";       // cpu | cuda | cuda:N | auto
  std::string precision = "fp32";   // fp32 | tf32 | fp16 | bf16 (train/setup.h, PrecisionPolicy)
  int64_t seed = 0;
  std::string output_dir;        // empty: runs/<model>-<date>-<time>
  bool overwrite = false;        // allow an output_dir that already holds a run
  std::string save;              // final weights (PyTorch layout) to this file
  int64_t checkpoint_every = 0;  // > 0: also checkpoint every N steps
  std::string resume;            // a run's output_dir to continue
  int64_t log_every = 10;        // steps between step lines (metrics.jsonl, plain output)
  bool quiet = false;

  // Calls f(info, &TrainConfig::member) for every field, in file order.
  template <class F>
  static void for_each_field(F&& f);
};

// Where a field lives and what it means: the TOML section and key, and the help text.
struct FieldInfo {
  const char* section;
  const char* key;
  const char* help;
};

// Applies the keys present in a TOML document to `c` (others keep their value). `source`
// names the document in errors. Throws whet::Error for syntax errors, unknown keys and
// sections, keys in the wrong section and values of the wrong type.
void apply_toml(TrainConfig& c, const std::string& text, const std::string& source);
void apply_toml_file(TrainConfig& c, const std::string& path);

// The whole configuration as TOML, by section, each key with its help as a comment.
// apply_toml of the result onto default values gives `c` back.
std::string to_toml(const TrainConfig& c);

// Checks every value (throwing whet::Error naming the key, its flag and the accepted values)
// and replaces the "auto" values that do not depend on the data or the model: weight_decay,
// output_dir. Idempotent.
void resolve(TrainConfig& c);

// The values of the augment key (train/setup.h builds each one's transforms).
inline const std::vector<std::string>& augment_choices() {
  static const std::vector<std::string> choices = {"imagenet", "crop", "flip", "none"};
  return choices;
}

// The shortest decimal text that reads back as v: "0.05", "1e-05" (not "0.050000000000000003").
std::string shortest_decimal(double v);

// "num_classes" -> "--num-classes".
std::string flag_of(const std::string& key);

// ---- the table ----

template <class F>
void TrainConfig::for_each_field(F&& f) {
  using C = TrainConfig;
  f(FieldInfo{"model", "model", "Model name (see `whet models`)"}, &C::model);
  f(FieldInfo{"model", "weights",
              "Pretrained weights (.safetensors or .pth); a head of another "
              "size is replaced"},
    &C::weights);
  f(FieldInfo{"model", "reset_head",
              "Initialise a new head even when the pretrained one has the right size "
              "(a new task with as many classes)"},
    &C::reset_head);
  f(FieldInfo{"model", "num_classes", "Classes of the head (0: the data's)"}, &C::num_classes);
  f(FieldInfo{"model", "in_channels",
              "Input channels (0: the model's own; else the pretrained "
              "stem is adapted)"},
    &C::in_channels);
  f(FieldInfo{"model", "freeze", "Freeze parameters whose name matches GLOB (repeatable)"},
    &C::freeze);
  f(FieldInfo{"model", "freeze_type",
              "Freeze the parameters of every module of this type: "
              "Conv2d, BatchNorm2d, Linear (repeatable)"},
    &C::freeze_type);
  f(FieldInfo{"model", "unfreeze",
              "Unfreeze parameters matching GLOB, after --freeze "
              "(repeatable)"},
    &C::unfreeze);
  f(FieldInfo{"model", "freeze_bn",
              "Freeze BatchNorm layers: statistics and affine "
              "parameters fixed"},
    &C::freeze_bn);
  f(FieldInfo{"model", "freeze_stages",
              "Freeze the first N stages of the backbone, stem first (resnet: stem, layer1..4), "
              "their BatchNorm statistics included; `whet inspect` lists the stages"},
    &C::freeze_stages);
  f(FieldInfo{"model", "drop_rate",
              "Dropout before the head's last Linear (negative: the model's own, MobileNets 0.2, "
              "ResNets none; timm's --drop)"},
    &C::drop_rate);
  f(FieldInfo{"model", "drop_path",
              "Stochastic depth: drop each residual branch per sample, at rates rising linearly "
              "to this one at the last block (timm's --drop-path; e.g. 0.1; 0: off)"},
    &C::drop_path);
  f(FieldInfo{"model", "width_mult",
              "MobileNets' width multiplier (torchvision's width_mult; 0.5 for timm's "
              "mobilenetv2_050, 1.4 for mobilenetv2_140; other models take only 1)"},
    &C::width_mult);
  f(FieldInfo{"model", "width_rule",
              "How --width-mult scales MobileNetV3: torchvision (default) or timm (its "
              "mobilenetv3_small_050/075, mobilenetv3_large_075 widths; timm's weights set it by "
              "themselves)"},
    &C::width_rule);
  f(FieldInfo{"model", "bn_eps",
              "BatchNorm eps of every layer (0: the model's own; timm's MobileNetV3 weights set "
              "timm's 1e-5 by themselves)"},
    &C::bn_eps);
  f(FieldInfo{"model", "bn_momentum",
              "BatchNorm running-statistics momentum of every layer (0: the model's own; timm's "
              "MobileNetV3 weights set timm's 0.1 by themselves)"},
    &C::bn_momentum);

  f(FieldInfo{"data", "data",
              "Data: fashion-mnist[:DIR], idx:IMAGES,LABELS, folder:DIR or DIR, "
              "tensors:FILE, csv:TRAIN.csv[,VAL.csv] (rows path,class)"},
    &C::data);
  f(FieldInfo{"data", "val_fraction",
              "Split this fraction of the training set off for "
              "validation (0: the source's own validation set)"},
    &C::val_fraction);
  f(FieldInfo{"data", "classes", "Keep only these classes, relabelled 0..k-1 (e.g. 5,6,7)"},
    &C::classes);
  f(FieldInfo{"data", "per_class", "At most this many training images per class (0: all)"},
    &C::per_class);
  f(FieldInfo{"data", "image_size", "Model input size (0: the model's default)"}, &C::image_size);
  f(FieldInfo{"data", "augment",
              "Training augmentation: imagenet (random resized crop, flip), crop (random "
              "crop with 4 pixels of zero padding, flip: the small-image recipe of CIFAR and "
              "Fashion-MNIST), flip, none"},
    &C::augment);
  f(FieldInfo{"data", "color_jitter",
              "Jitter brightness, contrast and saturation by factors in [1 - S, 1 + S], random "
              "order (torchvision's ColorJitter; timm's --color-jitter 0.4; 0: off)"},
    &C::color_jitter);
  f(FieldInfo{"data", "random_erase",
              "Erase a random rectangle (2-33% of the image) to the mean with this probability "
              "(torchvision's RandomErasing; timm's --reprob; 0: off)"},
    &C::random_erase);
  f(FieldInfo{"data", "mixup",
              "Mixup: blend each image with its partner in the batch by lam ~ Beta(A, A), "
              "targets alike (timm's --mixup; e.g. 0.2; 0: off)"},
    &C::mixup);
  f(FieldInfo{"data", "cutmix",
              "CutMix: paste a box of the partner image, lam ~ Beta(A, A) (e.g. 1.0; 0: off); "
              "with --mixup, each batch takes one of the two"},
    &C::cutmix);
  f(FieldInfo{"data", "batch_size", "Images per step (under mpirun: in all processes together)"},
    &C::batch_size);
  f(FieldInfo{"data", "micro_batches",
              "Run each batch as N micro-batches whose gradients add up: the same steps in "
              "1/N of the activation memory (BatchNorm sees the micro-batches)"},
    &C::micro_batches);
  f(FieldInfo{"data", "workers", "Loader threads (0: load on the training thread)"}, &C::workers);
  f(FieldInfo{"data", "shuffle", "Shuffle the training set every epoch"}, &C::shuffle);
  f(FieldInfo{"data", "strict_data", "Unreadable images are errors instead of skipped"},
    &C::strict_data);
  f(FieldInfo{"data", "fast_decode",
              "Decode JPEGs at 1/2, 1/4 or 1/8 scale (in libjpeg's DCT domain, several times "
              "faster) while their shorter side stays large enough for the transforms: "
              "image_size / sqrt(0.08) for imagenet augmentation's smallest crops, else "
              "image_size. Pixels then differ from a full decode and resize"},
    &C::fast_decode);

  f(FieldInfo{"optim", "optimizer", "sgd, adam, adamw or rmsprop"}, &C::optimizer);
  f(FieldInfo{"optim", "lr", "Learning rate (of the backbone; see head_lr)"}, &C::lr);
  f(FieldInfo{"optim", "momentum", "Momentum (sgd, rmsprop)"}, &C::momentum);
  f(FieldInfo{"optim", "nesterov", "Nesterov momentum (sgd)"}, &C::nesterov);
  f(FieldInfo{"optim", "weight_decay",
              "Weight decay (negative: the optimizer's default, "
              "adamw 0.01, others 0)"},
    &C::weight_decay);
  f(FieldInfo{"optim", "bias_norm_weight_decay",
              "Weight decay of biases and normalisation weights, the 1-D parameters (negative: "
              "--weight-decay; 0 leaves them undecayed, as timm does)"},
    &C::bias_norm_weight_decay);
  f(FieldInfo{"optim", "head_lr",
              "Learning rate of the classifier head (0: lr * "
              "head_lr_mult)"},
    &C::head_lr);
  f(FieldInfo{"optim", "head_lr_mult", "Head learning rate as a multiple of lr"}, &C::head_lr_mult);
  f(FieldInfo{"optim", "layer_decay",
              "Layer-wise lr decay: the k-th stage below the head "
              "learns at lr * layer_decay^k (1: off)"},
    &C::layer_decay);
  f(FieldInfo{"optim", "loss", "ce, mse or bce (mse and bce on one-hot targets)"}, &C::loss);
  f(FieldInfo{"optim", "label_smoothing", "Label smoothing of the targets"}, &C::label_smoothing);
  f(FieldInfo{"optim", "class_weights",
              "Weight the cross-entropy per class: balanced (n / (K * count) over the training "
              "set) or one weight per class, e.g. 1,3,1 (validation reports the plain loss)"},
    &C::class_weights);
  f(FieldInfo{"optim", "l1", "L1 penalty coefficient over the trainable parameters"}, &C::l1);
  f(FieldInfo{"optim", "l2",
              "L2 penalty coefficient: adds l2 * sum p^2 over the trainable parameters to the "
              "loss (through Adam's moments, unlike --weight-decay with adamw)"},
    &C::l2);
  f(FieldInfo{"optim", "clip_grad", "Clip the total gradient norm to this (0: off)"},
    &C::clip_grad);
  f(FieldInfo{"optim", "ema_decay",
              "Average the weights over the steps with this decay (e.g. 0.999; 0: off); "
              "validation, best.safetensors, eval.json and --save then use the average"},
    &C::ema_decay);

  f(FieldInfo{"schedule", "scheduler",
              "constant, step, multistep, exponential, cosine, "
              "onecycle or plateau"},
    &C::scheduler);
  f(FieldInfo{"schedule", "warmup_epochs",
              "Linear warm-up over this many epochs (fractions "
              "allowed), then the scheduler"},
    &C::warmup_epochs);
  f(FieldInfo{"schedule", "step_size", "step: epochs between decays"}, &C::step_size);
  f(FieldInfo{"schedule", "gamma",
              "Decay factor: step, multistep, exponential (per epoch), "
              "plateau"},
    &C::gamma);
  f(FieldInfo{"schedule", "milestones", "multistep: the epochs to decay at (e.g. 30,60)"},
    &C::milestones);
  f(FieldInfo{"schedule", "min_lr", "Lowest lr of cosine and plateau"}, &C::min_lr);
  f(FieldInfo{"schedule", "patience",
              "plateau: epochs without improvement of the validation "
              "loss before decaying"},
    &C::patience);

  f(FieldInfo{"run", "epochs", "Epochs"}, &C::epochs);
  f(FieldInfo{"run", "max_steps_per_epoch",
              "Cut every epoch to at most this many steps (0: "
              "whole epochs)"},
    &C::max_steps_per_epoch);
  f(FieldInfo{"run", "val_every",
              "Validate every N epochs and after the last (plateau patience counts "
              "validations)"},
    &C::val_every);
  f(FieldInfo{"run", "early_stop",
              "Stop once this many validations in a row found no better accuracy than the best "
              "(0: off); best.safetensors keeps the best"},
    &C::early_stop);
  f(FieldInfo{"run", "stop_at_step",
              "Checkpoint and stop once this many steps are done in "
              "all; --resume continues (0: run to the end)"},
    &C::stop_at_step);
  f(FieldInfo{"run", "device", "cpu, cuda, cuda:N or auto (CUDA when a device is there)"},
    &C::device);
  f(FieldInfo{"run", "precision",
              "fp32; bf16 or fp16: mixed precision (autocast) on CPU or CUDA with float32 "
              "master weights, fp16 with loss scaling; tf32: TF32 matrix math, CUDA only"},
    &C::precision);
  f(FieldInfo{"run", "seed", "Seed of initialisation, splits, shuffling and augmentation"},
    &C::seed);
  f(FieldInfo{"run", "output_dir", "Where the run's files go (default runs/MODEL-DATE-TIME)"},
    &C::output_dir);
  f(FieldInfo{"run", "overwrite", "Allow an output directory that already holds a run"},
    &C::overwrite);
  f(FieldInfo{"run", "save", "Write the final weights here (safetensors, PyTorch layout)"},
    &C::save);
  f(FieldInfo{"run", "checkpoint_every", "Also checkpoint every N steps (0: each epoch only)"},
    &C::checkpoint_every);
  f(FieldInfo{"run", "resume", "Continue the run in this directory from its last checkpoint"},
    &C::resume);
  f(FieldInfo{"run", "log_every",
              "Steps between step lines in metrics.jsonl and plain "
              "output"},
    &C::log_every);
  f(FieldInfo{"run", "quiet", "Print nothing but errors"}, &C::quiet);
}

}  // namespace whet::train
