// The data pipeline, part 1: IDX and Fashion-MNIST, image decoding and folders, subsets and
// splits, opening from a --data spec. PNG fixtures come from tools/golden/make_test_images.py
// (an independent encoder); data_test_util.h repeats its pixel formulas.
#include <doctest/doctest.h>

#include <set>

#include "data/idx.h"
#include "data/image_codec.h"
#include "data/image_folder.h"
#include "data/open.h"
#include "data/subset.h"
#include "data/tensor_dataset.h"
#include "tests/data_test_util.h"

using namespace data_test;

// ---- IDX and Fashion-MNIST ----

TEST_CASE("data: IDX files are parsed big-endian, plain and gzipped") {
  TempDir dir;
  // Hand-made bytes: uint8 (2, 3), then int16 (3) with a negative value.
  std::string u8 = dir / "u8.idx", i16 = dir / "i16.idx";
  write_bytes(u8, {0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 250});
  write_bytes(i16, {0, 0, 0x0B, 1, 0, 0, 0, 3, 0xFF, 0xFE, 0x01, 0x00, 0x00, 0x05});
  Tensor a = read_idx(u8);
  CHECK(a.shape() == Shape{2, 3});
  CHECK(a.dtype() == DType::u8);
  CHECK(a.to_vector<int>() == std::vector<int>{1, 2, 3, 4, 5, 250});
  Tensor b = read_idx(i16);
  CHECK(b.dtype() == DType::i32);
  CHECK(b.to_vector<int>() == std::vector<int>{-2, 256, 5});

  for (bool gzip : {false, true}) {
    CAPTURE(gzip);
    Tensor f = Tensor::from_vector<float>({1.5f, -2.25f, 3e7f, 0.f}, {2, 2});
    write_idx(dir / "f.idx", f, gzip);
    Tensor g = read_idx(dir / "f.idx");
    CHECK(g.shape() == Shape{2, 2});
    CHECK(g.to_vector<float>() == f.to_vector<float>());
    Tensor d = Tensor::from_vector<double>({0.1, -7.0}, {2});
    write_idx(dir / "d.idx.gz", d, gzip);
    CHECK(read_idx(dir / "d.idx.gz").to_vector<double>() == d.to_vector<double>());
  }
}

TEST_CASE("data: corrupt IDX files are errors naming the file") {
  TempDir dir;
  auto bad = [&](const std::string& name, const std::vector<uint8_t>& bytes,
                 const std::string& why) {
    std::string path = dir / name;
    write_bytes(path, bytes);
    std::string e = error_of([&] { read_idx(path); });
    CAPTURE(e);
    CHECK(contains(e, path));
    CHECK(contains(e, why));
  };
  bad("magic.idx", {1, 0, 8, 1, 0, 0, 0, 1, 7}, "magic");
  bad("type.idx", {0, 0, 0x07, 1, 0, 0, 0, 1, 7}, "unknown element type");
  bad("short.idx", {0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3}, "truncated");
  bad("long.idx", {0, 0, 8, 1, 0, 0, 0, 1, 1, 2}, "bytes after");
  bad("header.idx", {0, 0, 8}, "shorter than an IDX header");
  bad("rank.idx", {0, 0, 8, 0}, "rank 0");
  CHECK(contains(error_of([&] { read_idx(dir / "missing.idx"); }), "no such file"));

  // An image/label count mismatch names both files.
  write_idx(dir / "img.idx", Tensor::empty({3, 2, 2}, DType::u8));
  write_idx(dir / "lab.idx", Tensor::from_vector<int>({0, 1}, {2}, DType::u8));
  std::string e = error_of([&] { IdxDataset(dir / "img.idx", dir / "lab.idx"); });
  CHECK(contains(e, "3 images"));
  CHECK(contains(e, "lab.idx"));
}

TEST_CASE("data: an IDX dataset yields (H, W, 1) uint8 samples") {
  TempDir dir;
  Tensor images = Tensor::empty({4, 3, 2}, DType::u8);
  for (int i = 0; i < 24; ++i) images.data<uint8_t>()[i] = uint8_t(i);
  write_idx(dir / "img.idx", images, true);
  write_idx(dir / "lab.idx", Tensor::from_vector<int>({2, 0, 1, 2}, {4}, DType::u8));
  IdxDataset d(dir / "img.idx", dir / "lab.idx");
  CHECK(d.size() == 4);
  CHECK(d.class_names() == std::vector<std::string>{"0", "1", "2"});
  Sample s = d.get(2);
  CHECK(s.image.shape() == Shape{3, 2, 1});
  CHECK(s.label == 1);
  CHECK(px(s.image, 0, 0, 0) == 12);
  CHECK(px(s.image, 2, 1, 0) == 17);
}

TEST_CASE("data: Fashion-MNIST from Debian's dataset-fashion-mnist") {
  if (!fs::exists(std::string(kFashionMnistDir) + "/train-labels-idx1-ubyte.gz")) {
    MESSAGE("skipped: ", kFashionMnistDir, " is missing (apt-get install dataset-fashion-mnist;",
            " tools/setup.sh installs it)");
    return;
  }
  DatasetPtr train = fashion_mnist("train"), test = fashion_mnist("test");
  CHECK(train->size() == 60000);
  CHECK(test->size() == 10000);
  CHECK(train->num_classes() == 10);
  CHECK(train->class_names()[0] == "T-shirt/top");
  CHECK(train->class_names()[9] == "Ankle boot");
  Sample s = train->get(0);
  CHECK(s.image.shape() == Shape{28, 28, 1});
  CHECK(s.image.dtype() == DType::u8);
  CHECK(s.label == 9);
  int64_t sum = 0;
  for (int64_t i = 0; i < 784; ++i) sum += s.image.data<uint8_t>()[i];
  CHECK(sum == 76247);  // from the raw file, by Python's gzip
  std::vector<int64_t> counts(10, 0);
  for (int64_t l : all_labels(*test)) ++counts[size_t(l)];
  CHECK(counts == std::vector<int64_t>(10, 1000));
  CHECK(test->label(1) == 2);
  CHECK(contains(error_of([] { fashion_mnist("val"); }), "train or test"));
}

// ---- decoding ----

TEST_CASE("data: PNG decoding (gray, 4-bit, 16-bit, RGB, RGBA, gray+alpha, palette)") {
  Tensor g = read_image(fixture("gray8.png"), 1);
  REQUIRE(g.shape() == Shape{kH, kW, 1});
  Tensor g3 = read_image(fixture("gray8.png"), 3);
  Tensor g16 = read_image(fixture("gray16.png"), 1);
  Tensor g4 = read_image(fixture("gray4.png"), 1);
  Tensor ga = read_image(fixture("gray_alpha8.png"), 1);
  Tensor rgb = read_image(fixture("rgb8.png"), 3);
  Tensor rgb_l = read_image(fixture("rgb8.png"), 1);
  Tensor rgb16_ = read_image(fixture("rgb16.png"), 3);
  Tensor rgba = read_image(fixture("rgba8.png"), 3);
  Tensor pal = read_image(fixture("palette2.png"), 3);
  REQUIRE(rgb.shape() == Shape{kH, kW, 3});
  REQUIRE(pal.shape() == Shape{kH, kW, 3});
  int wrong = 0;
  for (int y = 0; y < kH; ++y) {
    for (int x = 0; x < kW; ++x) {
      wrong += px(g, y, x, 0) != gray8(y, x);
      wrong += px(g16, y, x, 0) != scale16(gray16(y, x));
      wrong += px(g4, y, x, 0) != gray4(y, x) * 17;
      wrong += px(ga, y, x, 0) != gray8(y, x);
      wrong += px(rgb_l, y, x, 0) != luma(rgb8(y, x, 0), rgb8(y, x, 1), rgb8(y, x, 2));
      for (int c = 0; c < 3; ++c) {
        wrong += px(g3, y, x, c) != gray8(y, x);
        wrong += px(rgb, y, x, c) != rgb8(y, x, c);
        wrong += px(rgb16_, y, x, c) != scale16(rgb16(y, x, c));
        wrong += px(rgba, y, x, c) != rgb8(y, x, c);  // alpha dropped, colour kept
        wrong += px(pal, y, x, c) != palette(y, x, c);
      }
    }
  }
  CHECK(wrong == 0);
}

TEST_CASE("data: JPEG decoding within a tolerance, RGB and gray") {
  TempDir dir;
  Tensor rgb = smooth_rgb(16, 24);
  write_jpeg(dir / "rgb.jpg", rgb, 100);
  Tensor back = read_image(dir / "rgb.jpg", 3);
  REQUIRE(back.shape() == rgb.shape());
  int worst = 0;
  for (int64_t i = 0; i < rgb.numel(); ++i) {
    worst = std::max(worst, std::abs(int(back.data<uint8_t>()[i]) - rgb.data<uint8_t>()[i]));
  }
  CHECK(worst <= 3);

  Tensor gray = convert_channels(rgb, 1);
  write_jpeg(dir / "gray.jpeg", gray, 100);
  Tensor gray_back = read_image(dir / "gray.jpeg", 1);
  Tensor gray_as_rgb = read_image(dir / "gray.jpeg", 3);
  REQUIRE(gray_back.shape() == Shape{16, 24, 1});
  worst = 0;
  for (int64_t y = 0; y < 16; ++y) {
    for (int64_t x = 0; x < 24; ++x) {
      worst = std::max(worst, std::abs(px(gray_back, y, x, 0) - px(gray, y, x, 0)));
      for (int c = 0; c < 3; ++c) CHECK(px(gray_as_rgb, y, x, c) == px(gray_back, y, x, 0));
    }
  }
  CHECK(worst <= 2);
  // The format is told by content: a JPEG named .png decodes.
  fs::copy_file(dir / "rgb.jpg", dir / "misnamed.png");
  CHECK(read_image(dir / "misnamed.png", 3).shape() == rgb.shape());
}

TEST_CASE("data: JPEGs decode at a reduced scale that keeps min_side, PNGs whole") {
  TempDir dir;
  const Tensor rgb = smooth_rgb(48, 64);
  write_jpeg(dir / "big.jpg", rgb, 95);
  // The smallest of 1/8, 1/4, 1/2 whose shorter side (48, rounded up) still reaches min_side.
  CHECK(read_image(dir / "big.jpg", 3).shape() == Shape{48, 64, 3});
  CHECK(read_image(dir / "big.jpg", 3, 6).shape() == Shape{6, 8, 3});
  CHECK(read_image(dir / "big.jpg", 3, 7).shape() == Shape{12, 16, 3});
  CHECK(read_image(dir / "big.jpg", 3, 12).shape() == Shape{12, 16, 3});
  CHECK(read_image(dir / "big.jpg", 3, 13).shape() == Shape{24, 32, 3});
  CHECK(read_image(dir / "big.jpg", 1, 25).shape() == Shape{48, 64, 1});
  // A scaled decode is the image, smaller: its pixel (y, x) averages the block it stands for.
  const Tensor quarter = read_image(dir / "big.jpg", 3, 12);
  int worst = 0;
  for (int64_t y = 0; y < 12; ++y)
    for (int64_t x = 0; x < 16; ++x)
      for (int c = 0; c < 3; ++c) {
        double mean = 0;
        for (int64_t dy = 0; dy < 4; ++dy)
          for (int64_t dx = 0; dx < 4; ++dx) mean += px(rgb, 4 * y + dy, 4 * x + dx, c) / 16.0;
        worst = std::max(worst, int(std::lround(std::abs(px(quarter, y, x, c) - mean))));
      }
  CHECK(worst <= 4);
  // An image folder passes it on; PNGs decode whole.
  write_png(dir / "root/a/small.png", rgb);
  fs::copy_file(dir / "big.jpg", dir / "root/a/big.jpg");
  ImageFolderOptions fo;
  fo.min_side = 12;
  ImageFolder folder(dir / "root", fo);
  std::set<Shape> shapes;
  for (int64_t i = 0; i < folder.size(); ++i) shapes.insert(folder.get(i).image.shape());
  CHECK(shapes == std::set<Shape>{Shape{12, 16, 3}, Shape{48, 64, 3}});
}

TEST_CASE("data: corrupt images are errors naming the file") {
  for (const char* name : {"truncated.png", "bad_crc.png", "not_an_image.png"}) {
    CAPTURE(name);
    std::string e = error_of([&] { read_image(fixture(name), 3); });
    CAPTURE(e);
    CHECK(contains(e, fixture(name)));
  }
  CHECK(contains(error_of([&] { read_image(fixture("not_an_image.png"), 3); }),
                 "unsupported image format"));
  // libpng's own words, not a generic failure.
  CHECK(contains(error_of([&] { read_image(fixture("bad_crc.png"), 3); }), "CRC error"));
  CHECK(contains(error_of([&] { read_image(fixture("truncated.png"), 3); }), "truncated"));
  TempDir dir;
  write_jpeg(dir / "full.jpg", smooth_rgb(64, 64), 90);
  std::vector<uint8_t> bytes = read_file_bytes(dir / "full.jpg");
  bytes.resize(bytes.size() / 2);
  write_bytes(dir / "half.jpg", bytes);
  std::string e = error_of([&] { read_image(dir / "half.jpg", 3); });
  CAPTURE(e);
  CHECK(contains(e, "corrupt JPEG"));
}

// ---- image folders ----

TEST_CASE("data: image folder classes, order, labels and the skip report") {
  TempDir dir;
  fs::copy_file(fixture("rgb8.png"), dir / "root/cat/b.png");
  write_jpeg(dir / "root/cat/a.JPG", smooth_rgb(8, 8), 95);
  fs::copy_file(fixture("gray8.png"), dir / "root/ant/x.png");
  fs::copy_file(fixture("palette2.png"), dir / "root/bee/sub/y.png");
  fs::copy_file(fixture("rgba8.png"), dir / "root/bee/z.png");
  write_bytes(dir / "root/cat/notes.txt", {'h', 'i'});            // ignored
  write_bytes(dir / "root/cat/anim.gif", {'G', 'I', 'F'});        // reported: unsupported
  fs::copy_file(fixture("rgb8.png"), dir / "root/.cache/q.png");  // hidden: no class
  fs::copy_file(fixture("rgb8.png"), dir / "root/ant/.z.png");    // hidden file

  ImageFolder f(dir / "root");
  CHECK(f.class_names() == std::vector<std::string>{"ant", "bee", "cat"});
  REQUIRE(f.size() == 5);
  std::vector<std::string> names;
  for (int64_t i = 0; i < f.size(); ++i) names.push_back(fs::path(f.path(i)).filename());
  // bee: files sorted by (directory, name): root/bee/z.png before root/bee/sub/y.png.
  CHECK(names == std::vector<std::string>{"x.png", "z.png", "y.png", "a.JPG", "b.png"});
  CHECK(all_labels(f) == std::vector<int64_t>{0, 1, 1, 2, 2});
  Sample s = f.get(4);
  CHECK(s.label == 2);
  CHECK(s.image.shape() == Shape{kH, kW, 3});
  CHECK(px(s.image, 1, 2, 0) == rgb8(1, 2, 0));
  CHECK(f.get(0).image.shape() == Shape{kH, kW, 3});  // gray expanded to RGB
  REQUIRE(f.skipped().size() == 1);
  CHECK(contains(f.skipped()[0].path, "anim.gif"));
  CHECK(contains(f.skip_report(), "unsupported format"));

  ImageFolderOptions gray;
  gray.channels = 1;
  CHECK(ImageFolder(dir / "root", gray).get(3).image.shape() == Shape{8, 8, 1});
}

TEST_CASE("data: image folder skips corrupt images, or fails in strict mode") {
  TempDir dir;
  fs::copy_file(fixture("rgb8.png"), dir / "root/a/good.png");
  fs::copy_file(fixture("gray8.png"), dir / "root/a/good2.png");
  fs::copy_file(fixture("not_an_image.png"), dir / "root/a/text.png");
  fs::copy_file(fixture("truncated.png"), dir / "root/b/cut.png");
  fs::copy_file(fixture("rgb8.png"), dir / "root/b/fine.png");

  // The signature check catches text.png while scanning; cut.png fails only when read, is
  // then reported and replaced by the next readable image.
  ImageFolder quick(dir / "root");
  CHECK(quick.size() == 4);
  REQUIRE(quick.skipped().size() == 1);
  CHECK(contains(quick.skipped()[0].path, "text.png"));
  CHECK(contains(quick.skipped()[0].reason, "not a JPEG or PNG"));
  REQUIRE(fs::path(quick.path(2)).filename() == "cut.png");
  Sample s = quick.get(2);
  CHECK(s.label == 1);  // fine.png, the next one
  CHECK(quick.skipped().size() == 2);
  CHECK(contains(quick.skip_report(), "cut.png"));

  ImageFolderOptions verify;
  verify.verify = true;
  ImageFolder thorough(dir / "root", verify);
  CHECK(thorough.size() == 3);
  CHECK(thorough.skipped().size() == 2);

  ImageFolderOptions strict;
  strict.strict = true;
  CHECK(contains(error_of([&] { ImageFolder(dir / "root", strict); }), "text.png"));
  fs::remove(dir / "root/a/text.png");
  ImageFolder strict_folder(dir / "root", strict);
  CHECK(contains(error_of([&] { strict_folder.get(2); }), "cut.png"));
}

TEST_CASE("data: empty image folders are errors naming the folder") {
  TempDir dir;
  fs::create_directories(dir.path / "empty");
  std::string e = error_of([&] { ImageFolder(dir / "empty"); });
  CHECK(contains(e, "empty"));
  CHECK(contains(e, "no class folders"));
  fs::copy_file(fixture("rgb8.png"), dir / "root/full/a.png");
  fs::create_directories(dir.path / "root/hollow");
  write_bytes(dir / "root/hollow/readme.txt", {'x'});
  e = error_of([&] { ImageFolder(dir / "root"); });
  CHECK(contains(e, (dir.path / "root/hollow").string()));
  CHECK(contains(e, "no readable"));
  CHECK(contains(error_of([&] { ImageFolder(dir / "nowhere"); }), "no such folder"));
}

TEST_CASE("data: split by folder (train/ and val/)") {
  TempDir dir;
  for (const char* split : {"train", "val"}) {
    for (const char* cls : {"x", "y"}) {
      fs::copy_file(fixture("rgb8.png"), dir / (std::string("d/") + split + "/" + cls + "/1.png"));
    }
  }
  fs::copy_file(fixture("rgb8.png"), dir / "d/train/y/2.png");
  TrainVal tv = image_folder_splits(dir / "d");
  REQUIRE(tv.val != nullptr);
  CHECK(tv.train->size() == 3);
  CHECK(tv.val->size() == 2);
  CHECK(tv.val->class_names() == tv.train->class_names());
  fs::create_directories(dir.path / "d/val/z");
  fs::copy_file(fixture("rgb8.png"), dir / "d/val/z/1.png");
  std::string e = error_of([&] { image_folder_splits(dir / "d"); });
  CHECK(contains(e, "unexpected: z"));
}

// ---- subsets and splits ----

TEST_CASE("data: class subsets relabel in the given order and per-class limits are seeded") {
  auto base = indexed_dataset(50, 5);  // labels i % 5
  DatasetPtr two = select_classes(base, {3, 1});
  CHECK(two->size() == 20);
  CHECK(two->class_names() == std::vector<std::string>{"3", "1"});
  CHECK(two->get(0).label == 1);  // sample 1 (class 1)
  CHECK(pf(two->get(0).image, 0, 0, 0) == 1.0f);
  CHECK(two->label(1) == 0);  // sample 3 (class 3)
  CHECK(contains(error_of([&] { select_classes(base, {1, 1}); }), "twice"));
  CHECK(contains(error_of([&] { select_classes(base, {5}); }), "out of range"));

  DatasetPtr few = limit_per_class(base, 3, 7);
  CHECK(few->size() == 15);
  std::vector<int64_t> counts(5, 0);
  for (int64_t l : all_labels(*few)) ++counts[size_t(l)];
  CHECK(counts == std::vector<int64_t>(5, 3));
  auto idx = [](const DatasetPtr& d) { return static_cast<const Subset&>(*d).indices(); };
  CHECK(idx(few) == idx(limit_per_class(base, 3, 7)));
  CHECK(idx(few) != idx(limit_per_class(base, 3, 8)));
  std::vector<int64_t> few_idx = idx(few);
  CHECK(std::is_sorted(few_idx.begin(), few_idx.end()));
  CHECK(limit_per_class(base, 100, 7)->size() == 50);  // fewer than asked: all of them

  // Combined: five classes, relabelled, then two of each.
  DatasetPtr combo = limit_per_class(select_classes(base, {4, 0}), 2, 1);
  CHECK(combo->size() == 4);
  for (int64_t i = 0; i < combo->size(); ++i) {
    int64_t original = int64_t(pf(combo->get(i).image, 0, 0, 0));
    CHECK(combo->label(i) == (original % 5 == 4 ? 0 : 1));
  }
}

TEST_CASE("data: split by fraction is deterministic, disjoint and stratified") {
  auto base = indexed_dataset(100, 4);
  TrainVal a = split_by_fraction(base, 0.2, 11), b = split_by_fraction(base, 0.2, 11);
  TrainVal c = split_by_fraction(base, 0.2, 12);
  auto idx = [](const DatasetPtr& d) { return static_cast<const Subset&>(*d).indices(); };
  CHECK(a.train->size() == 80);
  CHECK(a.val->size() == 20);
  CHECK(idx(a.val) == idx(b.val));
  CHECK(idx(a.val) != idx(c.val));
  std::vector<int64_t> train_idx = idx(a.train), val_idx = idx(a.val);
  std::set<int64_t> all(train_idx.begin(), train_idx.end());
  all.insert(val_idx.begin(), val_idx.end());
  CHECK(all.size() == 100);
  std::vector<int64_t> per(4, 0);
  for (int64_t l : all_labels(*a.val)) ++per[size_t(l)];
  CHECK(per == std::vector<int64_t>(4, 5));
  TrainVal u = split_by_fraction(base, 0.25, 3, false);
  CHECK(u.val->size() == 25);
  CHECK(contains(error_of([&] { split_by_fraction(base, 1.0, 0); }), "(0, 1)"));
}

// ---- opening from a spec ----

TEST_CASE("data: open_data specs, validation halves and few-shot options") {
  TempDir dir;
  for (int i = 0; i < 6; ++i) {
    for (const char* cls : {"p", "q", "r"}) {
      fs::copy_file(fixture("rgb8.png"),
                    dir / (std::string("imgs/") + cls + "/" + std::to_string(i) + ".png"));
    }
  }
  DataOptions o;
  o.val_fraction = 0.5, o.seed = 3, o.classes = {2, 0}, o.per_class = 2;
  TrainVal d = open_data("folder:" + (dir.path / "imgs").string(), o);
  REQUIRE(d.val != nullptr);
  CHECK(d.train->size() == 4);  // 2 of each of the 2 classes
  CHECK(d.val->size() == 6);    // half of each class's 6
  CHECK(d.train->class_names() == std::vector<std::string>{"r", "p"});
  CHECK(contains(describe_data(d), "train: "));

  TrainVal plain = open_data((dir.path / "imgs").string());
  CHECK(plain.train->size() == 18);
  CHECK(plain.val == nullptr);

  // tensors:FILE goes through the caller's loader.
  DataOptions t;
  CHECK(contains(error_of([&] { open_data("tensors:x.safetensors", t); }), "loader"));
  t.load_tensors = [](const std::string& path) {
    CHECK(path == "x.safetensors");
    TensorFile f;
    f.tensors = {{"labels", Tensor::from_vector<int64_t>({1, 0, 1}, {3})},
                 {"images", Tensor::empty({3, 2, 2, 3}, DType::f32)}};
    f.metadata = {{"class_names", "neg,pos"}};
    return f;
  };
  TrainVal td = open_data("tensors:x.safetensors", t);
  CHECK(td.train->size() == 3);
  CHECK(td.train->class_names() == std::vector<std::string>{"neg", "pos"});
  CHECK(td.train->get(0).image.shape() == Shape{2, 2, 3});
  CHECK(contains(error_of([&] { open_data("idx:only_one_file", {}); }), "IMAGES,LABELS"));

  if (fs::exists(std::string(kFashionMnistDir) + "/train-labels-idx1-ubyte.gz")) {
    DataOptions f;
    f.classes = {5, 6, 7, 8, 9}, f.per_class = 100, f.seed = 1;
    TrainVal fm = open_data("fashion-mnist", f);
    CHECK(fm.train->size() == 500);
    CHECK(fm.val->size() == 5000);
    CHECK(fm.train->class_names()[0] == "Sandal");
  }
}
