// `whet eval`: a trained classifier on a labelled dataset — loss, top-1 and top-5 accuracy,
// per-class precision and recall, the confusion matrix — as a table, and as JSON (the
// eval.json the training report reads) with --json:
//   whet eval --model resnet18 --weights run/model.safetensors --data folder:photos
//             [--split val] [--image-size 224] [--batch-size 64] [--json run/eval.json]
//             [--device cuda] [--precision bf16]
// The class count and input channels come from the weights; images get the training run's
// evaluation transform (resize, centre crop, normalise: train/setup.h eval_transform_for),
// its settings read from the run (tools/whet/load_classifier.h run_eval_transform).
// --precision means what it means for `whet train` (train/setup.h PrecisionPolicy), for the
// forward only: bf16 / fp16 autocast, tf32 matrix math on CUDA; the JSON records it.
#include <iostream>

#include "core/backend.h"
#include "core/math_mode.h"
#include "data/open.h"
#include "data/subset.h"
#include "dist/communicator.h"
#include "io/atomic_file.h"
#include "io/safetensors.h"
#include "tools/whet/commands.h"
#include "tools/whet/load_classifier.h"
#include "train/evaluate.h"
#include "train/setup.h"

namespace whet::cli {

namespace {
struct EvalArgs : ClassifierArgs {
  std::string data, split = "auto", json, device = "cpu", precision = "fp32";
  int64_t batch_size = 64;
  int workers = 2;
};

int run_eval(const EvalArgs& a) {
  const Device device = train::runnable_device(a.device);
  train::check_precision_device(a.precision, device);
  const train::PrecisionPolicy precision = train::precision_policy(a.precision);
  LoadedClassifier lc = load_classifier(a.model, a.weights, a.num_classes, a.width_mult);
  const int64_t num_classes = lc.model->num_classes();
  const int channels = lc.model->in_channels() == 1 ? 1 : 3;

  std::string preprocessing;
  int64_t resize_side = 0;
  const data::TransformPtr transform = run_eval_transform(
      lc, a.model, a.weights, a.image_size, a.augment, preprocessing, &resize_side);
  data::DataOptions dopt;
  dopt.channels = channels;
  dopt.min_side = a.fast_decode ? resize_side : 0;
  dopt.load_tensors = [](const std::string& p) {
    io::SafetensorsFile f = io::load_safetensors(p);
    return data::TensorFile{f.tensors, f.metadata};
  };
  const data::TrainVal tv = data::open_data(a.data, dopt);
  // "auto": the validation half when the source has one (DIR/val, fashion-mnist's test set),
  // else everything there is.
  data::DatasetPtr ds = a.split == "train" ? tv.train
                        : a.split == "val" ? tv.val
                                           : (tv.val ? tv.val : tv.train);
  WHET_CHECK(ds != nullptr, "--split val: ", a.data, " has no validation set");
  WHET_CHECK(ds->size() > 0, a.data, ": no samples to evaluate");
  WHET_CHECK(ds->num_classes() <= num_classes, a.data, " has ", ds->num_classes(),
             " classes, the model's head only ", num_classes);

  // The data's own names label the rows (its labels are what is being checked); a head
  // wider than the data keeps the checkpoint's names, or indices, for the rest.
  std::vector<std::string> names = ds->class_names();
  for (int64_t c = int64_t(names.size()); c < num_classes; ++c)
    names.push_back(size_t(c) < lc.class_names.size() ? lc.class_names[size_t(c)]
                                                      : std::to_string(c));

  // Under mpirun each process evaluates its share and the counts are added up; rank 0 speaks.
  const std::shared_ptr<dist::Communicator> comm = dist::world();
  const int ranks = comm->world_size();
  const bool root = comm->rank() == 0;
  data::LoaderOptions lopt;
  lopt.batch_size = a.batch_size;
  lopt.shuffle = false;
  lopt.num_workers = a.workers;
  data::DataLoader loader(data::shard(ds, comm->rank(), ranks), transform, lopt);
  const Device on = ranks > 1 && device.is_cuda() && a.device.find(':') == std::string::npos
                        ? Device::cuda(dist::local_rank() % cuda_device_count())  // a GPU each
                        : device;
  lc.model->to(on);

  const bool json_to_stdout = a.json == "-";
  std::ostream quiet(nullptr);
  std::ostream& log = !root ? quiet : json_to_stdout ? std::cerr : std::cout;
  log << "model    " << a.model << " (" << num_classes << " classes, " << lc.model->in_channels()
      << " input channels) from " << a.weights << "\n"
      << "data     " << ds->describe()
      << (ranks > 1 ? " (shared by " + std::to_string(ranks) + " processes)" : "") << "\n"
      << "input    " << preprocessing << "\n"
      << "compute  " << a.precision << (precision.autocast ? " autocast" : "") << "\n";
  set_allow_tf32(precision.tf32);
  train::EvalResult r =
      train::evaluate(*lc.model, loader, num_classes, names,
                      precision.autocast ? std::optional<DType>(precision.dtype) : std::nullopt,
                      comm.get());
  log << train::format_eval(r);

  nlohmann::json j = train::to_json(r);
  j["precision"] = a.precision;
  const std::string text = j.dump(2) + "\n";
  if (!root) return 0;
  if (json_to_stdout) {
    std::cout << text;
  } else if (!a.json.empty()) {
    io::AtomicFileWriter f(a.json, "whet eval --json");
    f.write(text.data(), text.size());
    f.commit();
    log << "\nwrote " << a.json << "\n";
  }
  return 0;
}
}  // namespace

void add_eval_command(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("eval",
                         "Evaluate a classifier on labelled data: loss, top-1/top-5, per-class "
                         "precision/recall, confusion matrix");
  auto a = std::make_shared<EvalArgs>();
  add_classifier_options(cmd, *a);
  cmd->add_option("--data", a->data,
                  "fashion-mnist[:DIR], idx:IMAGES,LABELS, folder:DIR (or DIR), tensors:FILE")
      ->required();
  cmd->add_option("--split", a->split,
                  "auto (validation set when there is one, else all), val or train")
      ->check(CLI::IsMember({"auto", "val", "train"}));
  cmd->add_option("--batch-size", a->batch_size, "Images per forward")->check(CLI::PositiveNumber);
  cmd->add_option("--workers", a->workers, "Loader threads (0: load on the main thread)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--json", a->json,
                  "Also write the results as JSON to this file (- : stdout "
                  "instead of the table)");
  cmd->add_option("--device", a->device, "cpu, cuda, cuda:N or auto");
  cmd->add_option("--precision", a->precision,
                  "fp32; bf16 or fp16: forward under autocast (mixed precision, CPU or CUDA); "
                  "tf32: float32 with TF32 matrix math (CUDA only)")
      ->check(CLI::IsMember({"fp32", "tf32", "fp16", "bf16"}));
  cmd->callback([a] { set_action([a] { return run_eval(*a); }); });
}

}  // namespace whet::cli
