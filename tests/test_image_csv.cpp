// data/image_csv.h: images listed in CSV files, as `--data csv:TRAIN.csv[,VAL.csv]`.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "data/image_csv.h"
#include "data/open.h"
#include "tests/data_test_util.h"

using namespace whet;
using namespace whet::data;
using namespace data_test;
namespace fs = std::filesystem;

namespace {

void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

std::vector<int64_t> labels_of(const Dataset& d) {
  std::vector<int64_t> out;
  for (int64_t i = 0; i < d.size(); ++i) out.push_back(d.label(i));
  return out;
}

}  // namespace

TEST_CASE("data: csv fields, quoting and line ends") {
  CHECK(split_csv_line("a,b,c", "x") == std::vector<std::string>{"a", "b", "c"});
  CHECK(split_csv_line("\"x, y\",\"say \"\"hi\"\"\",\r", "x") ==
        std::vector<std::string>{"x, y", "say \"hi\"", ""});
  CHECK(contains(error_of([] { split_csv_line("\"open,b", "f.csv:3"); }),
                 "f.csv:3: a quoted field is not closed"));
}

TEST_CASE("data: csv:TRAIN,VAL lists labelled images, classes sorted, paths relative to the file") {
  TempDir dir;
  fs::copy_file(fixture("rgb8.png"), dir / "set/img/a.png");
  fs::copy_file(fixture("gray8.png"), dir / "set/img/b.png");
  fs::copy_file(fixture("rgba8.png"), dir / "set/img/c.png");
  fs::copy_file(fixture("rgb8.png"), dir / "set/img/v.png");
  write_text(dir / "set/train.csv",
             "image,label,extra\nimg/a.png,10,x\n\"img/b.png\",2,y\nimg/c.png,10,z\n"
             "img/missing.png,2,w\n");
  write_text(dir / "set/val.csv", "image,label\r\nimg/v.png,2\r\n");
  const TrainVal d = open_data("csv:" + (dir / "set/train.csv") + "," + (dir / "set/val.csv"));
  // Integers sort numerically: "2" before "10".
  CHECK(d.train->class_names() == std::vector<std::string>{"2", "10"});
  CHECK(d.train->size() == 3);  // the missing file is skipped and reported
  CHECK(labels_of(*d.train) == std::vector<int64_t>{1, 0, 1});
  CHECK(d.train->get(0).image.shape() == Shape{kH, kW, 3});
  CHECK(px(d.train->get(0).image, 1, 2, 0) == rgb8(1, 2, 0));
  const auto& listed = dynamic_cast<const ImageFolder&>(*d.train);
  REQUIRE(listed.skipped().size() == 1);
  CHECK(contains(listed.skip_report(), "missing.png: cannot open"));
  CHECK(contains(listed.describe(), "images listed in"));
  REQUIRE(d.val);
  CHECK(d.val->class_names() == d.train->class_names());
  CHECK(labels_of(*d.val) == std::vector<int64_t>{0});

  // Names sort by bytes; the training split by fraction works as for folders.
  write_text(dir / "set/names.csv", "p,c\nimg/a.png,cat\nimg/b.png,ant\nimg/c.png,cat\nimg/v.png,ant\n");
  DataOptions o;
  o.val_fraction = 0.5;
  const TrainVal s = open_data("csv:" + (dir / "set/names.csv"), o);
  CHECK(s.train->class_names() == std::vector<std::string>{"ant", "cat"});
  CHECK(s.train->size() + s.val->size() == 4);
}

TEST_CASE("data: bad csv files are errors naming the file and line") {
  TempDir dir;
  fs::copy_file(fixture("rgb8.png"), dir / "a.png");
  const std::string csv = dir / "t.csv";
  auto error_for = [&](const std::string& text, const std::string& spec_tail = "") {
    write_text(csv, text);
    return error_of([&] { open_data("csv:" + csv + spec_tail); });
  };
  CHECK(contains(error_of([&] { open_data("csv:" + (dir / "none.csv")); }), "none.csv: cannot open"));
  CHECK(contains(error_for("path,label\n"), "lists no images"));
  CHECK(contains(error_for("path\na.png\n"), "t.csv:1: the header names 1 column"));
  CHECK(contains(error_for("path,label\na.png,x\nb.png\n"), "t.csv:3: expected an image path and a class"));
  CHECK(contains(error_for("path,label\na.png,\n"), "t.csv:2: expected an image path and a class"));
  write_text(dir / "v.csv", "path,label\na.png,dog\n");
  CHECK(contains(error_for("path,label\na.png,cat\n", "," + (dir / "v.csv")),
                 "v.csv:2: class 'dog' is not among the training classes"));
  // Every row of a class unreadable: the class has no image.
  CHECK(contains(error_for("path,label\na.png,cat\nnope.png,dog\n"), "class dog has no readable"));
  ImageFolderOptions strict;
  strict.strict = true;
  write_text(csv, "path,label\na.png,cat\nnope.png,cat\n");
  CHECK(contains(error_of([&] { image_csv_splits(csv, strict); }), "nope.png: cannot open"));
}
