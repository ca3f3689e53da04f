// --early-stop N: a run ends once N validations in a row found no better accuracy, stays
// ended when resumed, and is refused without validation data.
#include <doctest/doctest.h>

#include <string>

#include "tests/test_train_util.h"
#include "train/trainer.h"

using namespace train_test;
using whet::train::TrainConfig;

TEST_CASE("train: --early-stop ends the run after N validations without a better accuracy") {
  TempDir dir;
  const std::string data = write_tensor_data(dir / "data.safetensors");
  TrainConfig c = tiny_config(data, dir.file("run"));
  c.epochs = 10;
  c.lr = 1e-9;  // the accuracy of epoch 1 is never beaten (ties do not count)
  c.early_stop = 2;
  const whet::train::TrainResult r = whet::train::run_training(c);
  CHECK(r.completed);
  CHECK(r.epochs_done == 3);  // best at 1, then 2 and 3 without improvement
  CHECK(r.global_step == 3 * 6);

  // Resumed, it stays stopped: no more steps.
  const whet::train::TrainResult again = whet::train::run_training(whet::train::resume_config(c.output_dir));
  CHECK(again.completed);
  CHECK(again.global_step == r.global_step);

  // Validation every 2 epochs: patience counts validations, not epochs.
  c.output_dir = dir.file("sparse");
  c.val_every = 2;
  c.early_stop = 1;
  CHECK(whet::train::run_training(c).epochs_done == 4);  // best at 2, none better at 4

  c.output_dir = dir.file("none");
  c.val_fraction = 0;
  CHECK(contains(error_of([&] { whet::train::run_training(c); }),
                 "--early-stop 1 watches the validation accuracy"));
}
