// The data pipeline, part 2: transforms (values against PyTorch / torchvision semantics)
// and the loader (determinism across worker counts, resume, drop_last, errors).
#include <doctest/doctest.h>

#include <algorithm>
#include <numeric>
#include <set>

#include "data/loader.h"
#include "data/sample_rng.h"
#include "data/subset.h"
#include "data/transforms.h"
#include "tests/data_test_util.h"
#include "tests/golden_util.h"

using namespace data_test;

// ---- transforms ----

TEST_CASE("data: Resize without antialiasing is PyTorch's plain bilinear interpolation") {
  Generator g(0);
  Tensor x = Tensor::from_vector<float>({0, 1, 2, 3}, {2, 2, 1});
  Tensor up = Resize(4, 4, Antialias::off).apply(x, g);
  REQUIRE(up.shape() == Shape{4, 4, 1});
  // F.interpolate(torch.arange(4.).view(1, 1, 2, 2), size=4, mode="bilinear")
  std::vector<float> want = {0.0f, 0.25f, 0.75f, 1.0f, 0.5f, 0.75f, 1.25f, 1.5f,
                             1.5f, 1.75f, 2.25f, 2.5f, 2.0f, 2.25f, 2.75f, 3.0f};
  CHECK(up.to_vector<float>() == want);
  // Upscaling reads two inputs per axis either way.
  CHECK(Resize(4, 4).apply(x, g).to_vector<float>() == want);

  // Halving without antialiasing averages 2x2 blocks (source coordinates fall between
  // pixels); with it, each output also weighs the next ring of pixels.
  std::vector<float> v(16);
  for (int i = 0; i < 16; ++i) v[size_t(i)] = float(i);
  const Tensor x4 = Tensor::from_vector<float>(v, {4, 4, 1});
  Tensor down = Resize(2, 2, Antialias::off).apply(x4, g);
  CHECK(down.to_vector<float>() == std::vector<float>{2.5f, 4.5f, 10.5f, 12.5f});
  CHECK(Resize(2, 2).apply(x4, g).to_vector<float>() != down.to_vector<float>());

  // Shorter edge: (4, 10) -> Resize(2) -> (2, int(2 * 10 / 4)) = (2, 5); uint8 stays uint8.
  Tensor img = Tensor::empty({4, 10, 3}, DType::u8);
  for (int64_t i = 0; i < img.numel(); ++i) img.data<uint8_t>()[i] = uint8_t(i);
  Tensor r = Resize(2, Antialias::off).apply(img, g);
  CHECK(r.shape() == Shape{2, 5, 3});
  CHECK(r.dtype() == DType::u8);
  // Output (0, 0, c) averages input rows 0-1, columns 0-1: (c + 3 + c + 30 + 33 + c) / 4.
  CHECK(px(r, 0, 0, 0) == int(std::nearbyint((0 + 3 + 30 + 33) / 4.0)));
  CHECK(Resize(6).apply(Tensor::empty({12, 6, 1}, DType::f32), g).shape() == Shape{12, 6, 1});
  CHECK(Resize(2, Antialias::off).describe() == "Resize(2, antialias=False)");
  CHECK(Resize(2).describe() == "Resize(2)");
}

TEST_CASE("data: Resize matches torch's interpolate, plain and antialiased, and its uint8 path") {
  // tools/golden/make_resize_fixtures.py: downscales by 2 and by fractions, an upscale, a
  // mixed change and an unchanged axis.
  const golden::Fixture fx("resize.safetensors");
  Generator g(0);
  for (const char* name : {"down2", "down_fraction", "up", "mixed", "keep_height", "strong_down"}) {
    INFO(name);
    const std::string n = name;
    const Tensor want = fx[n + ".antialias"];
    const int64_t h = want.size(0), w = want.size(1);
    golden::check_close(n + " plain", Resize(h, w, Antialias::off).apply(fx[n + ".input"], g),
                        fx[n + ".plain"], 1e-5, 1e-6);
    golden::check_close(n + " antialias", Resize(h, w).apply(fx[n + ".input"], g), want, 1e-5,
                        1e-6);
    // torch's uint8 path uses integer weights: within one level of whet's float path.
    const Tensor u8 = Resize(h, w).apply(fx[n + ".u8_input"], g);
    REQUIRE(u8.dtype() == DType::u8);
    golden::check_close(n + " uint8", u8.to(DType::f32), fx[n + ".u8_antialias"].to(DType::f32), 0,
                        1.0);
  }
}

TEST_CASE("data: a JPEG through whet's decoder and eval transform is what torchvision makes") {
  // tools/golden/make_pipeline_fixtures.py: a 120x90 4:2:0 JPEG, decoded by torchvision.io
  // and put through torchvision's ImageNet evaluation transform at 64.
  const golden::Fixture fx("pipeline.safetensors");
  const Tensor img = read_image(std::string(WHET_SOURCE_DIR) + "/tests/data/images/photo.jpg", 3);
  REQUIRE(img.shape() == Shape{90, 120, 3});
  // Both are libjpeg-turbo with its default (accurate integer) IDCT and fancy upsampling.
  CHECK(img.to_vector<int>() == fx["decoded"].to_vector<int>());
  Generator g(0);
  // torch resizes uint8 with integer weights, whet in float: one level apart at most, which
  // Normalize turns into 1 / (255 * 0.224).
  golden::check_close("eval64", eval_transform(64)->apply(img, g), fx["eval64"], 0,
                      1.0 / (255 * 0.224) + 1e-5);
}

TEST_CASE("data: RandomCrop pads with zeros and takes the window its two draws place") {
  Tensor img = Tensor::empty({5, 6, 2}, DType::u8);
  for (int64_t i = 0; i < img.numel(); ++i) img.data<uint8_t>()[i] = uint8_t(i + 1);
  const RandomCrop crop(4, 2);
  std::set<std::pair<int64_t, int64_t>> origins;
  for (uint64_t seed = 0; seed < 64; ++seed) {
    Generator g(seed), replay(seed);
    const Tensor out = crop.apply(img, g);
    REQUIRE(out.shape() == Shape{4, 4, 2});
    // torchvision's order: top in [0, 5 + 4 - 4], then left in [0, 6 + 4 - 4].
    const int64_t top = randint(replay, 0, 6) - 2, left = randint(replay, 0, 7) - 2;
    CHECK(g.offset() == replay.offset());  // two draws, whatever the outcome
    origins.insert({top, left});
    for (int64_t y = 0; y < 4; ++y)
      for (int64_t x = 0; x < 4; ++x)
        for (int64_t c = 0; c < 2; ++c) {
          const int64_t iy = top + y, ix = left + x;
          const bool inside = iy >= 0 && iy < 5 && ix >= 0 && ix < 6;
          CHECK(px(out, y, x, c) == (inside ? px(img, iy, ix, c) : 0));
        }
  }
  CHECK(origins.size() > 20);  // the windows move
  Generator g(0);
  CHECK(RandomCrop(5, 0).apply(Tensor::empty({5, 5, 1}, DType::u8), g).shape() == Shape{5, 5, 1});
  CHECK_THROWS_WITH_AS(RandomCrop(12, 2).apply(img, g),
                       doctest::Contains("RandomCrop: a 12x12 crop of a (5, 6, 2) image"), Error);
  CHECK(crop.describe() == "RandomCrop(4, padding=2)");
}

TEST_CASE("data: CenterCrop, flips, ToFloat, Normalize and ToChannels") {
  Generator g(1);
  Tensor img = Tensor::empty({5, 6, 1}, DType::u8);
  for (int64_t i = 0; i < 30; ++i) img.data<uint8_t>()[i] = uint8_t(i);
  // top = round((5 - 2) / 2) = round(1.5) = 2 (half to even), left = round(2) = 2.
  Tensor c = CenterCrop(2, 2).apply(img, g);
  CHECK(c.to_vector<int>() == std::vector<int>{14, 15, 20, 21});
  // Larger than the image: padded with zeros, the image at ((4 - 2) / 2, (5 - 2) / 2).
  Tensor small = Tensor::from_vector<int>({1, 2, 3, 4}, {2, 2, 1}, DType::u8);
  Tensor padded = CenterCrop(4, 5).apply(small, g);
  CHECK(padded.shape() == Shape{4, 5, 1});
  CHECK(padded.to_vector<int>() ==
        std::vector<int>{0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 3, 4, 0, 0, 0, 0, 0, 0, 0});

  Tensor rgb = Tensor::from_vector<int>({1, 2, 3, 4, 5, 6}, {1, 2, 3}, DType::u8);
  CHECK(RandomHorizontalFlip(1.0).apply(rgb, g).to_vector<int>() ==
        std::vector<int>{4, 5, 6, 1, 2, 3});
  CHECK(RandomHorizontalFlip(0.0).apply(rgb, g).to_vector<int>() == rgb.to_vector<int>());

  Tensor f = ToFloat().apply(Tensor::from_vector<int>({0, 51, 255}, {1, 1, 3}, DType::u8), g);
  CHECK(f.dtype() == DType::f32);
  CHECK(f.to_vector<float>() == std::vector<float>{0.0f, 0.2f, 1.0f});
  Tensor n = Normalize::imagenet().apply(f, g);
  CHECK(pf(n, 0, 0, 0) == doctest::Approx(-0.485 / 0.229).epsilon(1e-6));
  CHECK(pf(n, 0, 0, 2) == doctest::Approx((1.0 - 0.406) / 0.225).epsilon(1e-6));
  CHECK(contains(error_of([&] { Normalize::imagenet().apply(rgb, g); }), "ToFloat"));

  Tensor three = ToChannels(3).apply(Tensor::from_vector<float>({0.5f}, {1, 1, 1}), g);
  CHECK(three.to_vector<float>() == std::vector<float>{0.5f, 0.5f, 0.5f});
  CHECK(ToChannels(1).apply(rgb, g).to_vector<int>() ==
        std::vector<int>{luma(1, 2, 3), luma(4, 5, 6)});
}

TEST_CASE("data: RandomResizedCrop is deterministic for a seed and stays inside") {
  RandomResizedCrop rrc(16);
  Tensor img = smooth_rgb(40, 60);
  Generator a = sample_generator(5, 2, 17), b = sample_generator(5, 2, 17);
  Tensor x = rrc.apply(img, a), y = rrc.apply(img, b);
  CHECK(x.shape() == Shape{16, 16, 3});
  CHECK(x.to_vector<int>() == y.to_vector<int>());
  std::set<std::vector<int64_t>> boxes;
  for (int64_t i = 0; i < 50; ++i) {
    Generator gi = sample_generator(5, 2, i);
    auto box = rrc.sample_box(40, 60, gi);
    CHECK(box.top >= 0);
    CHECK(box.left >= 0);
    CHECK(box.top + box.height <= 40);
    CHECK(box.left + box.width <= 60);
    double ratio = double(box.width) / double(box.height);
    CHECK(ratio > 0.7);
    CHECK(ratio < 1.45);
    boxes.insert({box.top, box.left, box.height, box.width});
  }
  CHECK(boxes.size() > 40);  // different samples, different crops
  // No crop of area 1000 and ratio 1 fits a 10 x 100 image: the fallback is a center crop
  // of ratio 1 (the largest ratio), 10 x 10 at column (100 - 10) / 2.
  Generator g(3);
  auto box = RandomResizedCrop(8, 1.0, 1.0, 1.0, 1.0).sample_box(10, 100, g);
  CHECK(box.top == 0);
  CHECK(box.left == 45);
  CHECK(box.height == 10);
  CHECK(box.width == 10);
}

TEST_CASE("data: the ImageNet presets give normalized float crops") {
  Generator g(0);
  Tensor img = smooth_rgb(40, 60);
  Tensor t = train_transform(32)->apply(img, g);
  CHECK(t.shape() == Shape{32, 32, 3});
  CHECK(t.dtype() == DType::f32);
  Tensor e = eval_transform(32)->apply(img, g);
  CHECK(e.shape() == Shape{32, 32, 3});
  Tensor gray = Tensor::empty({28, 28, 1}, DType::u8);
  CHECK(eval_transform(24, 3)->apply(gray, g).shape() == Shape{24, 24, 3});
  CHECK(train_transform(24, 1)->apply(img, g).shape() == Shape{24, 24, 1});
}

// ---- the loader ----

namespace {

std::vector<Batch> run_epoch(DataLoader& loader) {
  std::vector<Batch> out;
  Batch b;
  while (loader.next(b)) out.push_back(b);
  return out;
}

void check_same(const std::vector<Batch>& a, const std::vector<Batch>& b) {
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    CAPTURE(i);
    CHECK(a[i].indices == b[i].indices);
    CHECK(a[i].labels.to_vector<int64_t>() == b[i].labels.to_vector<int64_t>());
    CHECK(a[i].images.to_vector<float>() == b[i].images.to_vector<float>());
  }
}

TransformPtr augment() {
  return std::make_shared<Compose>(std::vector<TransformPtr>{
      std::make_shared<RandomResizedCrop>(4), std::make_shared<RandomHorizontalFlip>()});
}

}  // namespace

TEST_CASE("data: loader batches are identical for 0, 1 and 4 workers") {
  auto data = indexed_dataset(23, 3, 8, 8, 1);
  // Make pixels differ within an image, so crops and flips show in the values (samples are
  // views of the dataset's tensor, so writing through them changes the dataset).
  for (int64_t i = 0; i < data->size(); ++i) {
    float* p = data->get(i).image.data<float>();
    for (int64_t k = 0; k < 64; ++k) p[k] = float(i * 100 + k);
  }
  std::vector<std::vector<Batch>> runs;
  for (int workers : {0, 1, 4}) {
    LoaderOptions o;
    o.batch_size = 5, o.num_workers = workers, o.seed = 42, o.prefetch = 3;
    DataLoader loader(data, augment(), o);
    CHECK(loader.batches_per_epoch() == 5);
    std::vector<Batch> both = run_epoch(loader);
    CHECK(loader.position() == LoaderPosition{0, 5});
    loader.set_epoch(1);
    for (Batch& b : run_epoch(loader)) both.push_back(b);
    runs.push_back(both);
  }
  check_same(runs[0], runs[1]);
  check_same(runs[0], runs[2]);
  const std::vector<Batch>& r = runs[0];
  REQUIRE(r.size() == 10);
  CHECK(r[0].images.shape() == Shape{5, 4, 4, 1});
  CHECK(r[4].images.shape() == Shape{3, 4, 4, 1});  // 23 = 4 * 5 + 3
  CHECK(r[0].labels.dtype() == DType::i64);
  CHECK(r[5].epoch == 1);
  // Every sample once per epoch, in a new order each epoch.
  std::vector<int64_t> e0, e1;
  for (int i = 0; i < 5; ++i) e0.insert(e0.end(), r[i].indices.begin(), r[i].indices.end());
  for (int i = 5; i < 10; ++i) e1.insert(e1.end(), r[i].indices.begin(), r[i].indices.end());
  CHECK(e0 != e1);
  LoaderOptions same;
  same.seed = 42;
  CHECK(DataLoader(data, nullptr, same).epoch_order(0) == e0);
  std::sort(e0.begin(), e0.end());
  for (int64_t i = 0; i < 23; ++i) CHECK(e0[size_t(i)] == i);
  // Labels follow the samples.
  for (int64_t k = 0; k < 5; ++k) {
    CHECK(r[0].labels.data<int64_t>()[k] == r[0].indices[size_t(k)] % 3);
  }
}

TEST_CASE("data: loader order without shuffle, drop_last, and uint8 images") {
  auto data = indexed_dataset(11, 2, 2, 2, 1);
  LoaderOptions o;
  o.batch_size = 4, o.shuffle = false, o.drop_last = true, o.num_workers = 2;
  DataLoader loader(data, nullptr, o);
  CHECK(loader.batches_per_epoch() == 2);
  std::vector<Batch> r = run_epoch(loader);
  REQUIRE(r.size() == 2);
  CHECK(r[0].indices == std::vector<int64_t>{0, 1, 2, 3});
  CHECK(r[1].indices == std::vector<int64_t>{4, 5, 6, 7});
  CHECK(r[1].images.shape() == Shape{4, 2, 2, 1});
  CHECK(pf(r[1].images[2], 1, 1, 0) == 6.0f);

  // uint8 images come out as float in [0, 1].
  Tensor images = Tensor::empty({2, 1, 1, 1}, DType::u8);
  images.data<uint8_t>()[0] = 0, images.data<uint8_t>()[1] = 255;
  auto u8 = std::make_shared<TensorDataset>(images, Tensor::from_vector<int64_t>({0, 1}, {2}));
  o.drop_last = false;
  DataLoader l2(u8, nullptr, o);
  Batch b;
  REQUIRE(l2.next(b));
  CHECK(b.images.to_vector<float>() == std::vector<float>{0.0f, 1.0f});
  CHECK_FALSE(l2.next(b));
}

TEST_CASE("data: loader resumes from a saved position with the same remaining batches") {
  auto data = indexed_dataset(37, 4, 6, 6, 1);
  LoaderOptions o;
  o.batch_size = 4, o.num_workers = 3, o.seed = 9;
  DataLoader full(data, augment(), o);
  full.set_epoch(2);
  std::vector<Batch> whole = run_epoch(full);
  REQUIRE(whole.size() == 10);

  // Interrupted after 4 batches of epoch 2 (with batches prefetched beyond), saved, restored
  // into a new loader with another worker count.
  DataLoader first(data, augment(), o);
  first.set_epoch(2);
  Batch b;
  for (int i = 0; i < 4; ++i) REQUIRE(first.next(b));
  LoaderPosition saved = first.position();
  CHECK(saved == LoaderPosition{2, 4});
  o.num_workers = 1;
  DataLoader second(data, augment(), o);
  second.seek(saved);
  std::vector<Batch> rest = run_epoch(second);
  check_same(rest, std::vector<Batch>(whole.begin() + 4, whole.end()));
  CHECK(rest.front().index == 4);

  // Seeking back on a running loader drops what it prefetched.
  first.seek({2, 1});
  std::vector<Batch> again = run_epoch(first);
  check_same(again, std::vector<Batch>(whole.begin() + 1, whole.end()));
  CHECK(contains(error_of([&] { first.seek({2, 11}); }), "outside an epoch"));
}

namespace {
// A dataset whose sample 5 cannot be loaded.
class Faulty : public Dataset {
 public:
  int64_t size() const override { return 8; }
  Sample get(int64_t i) const override {
    WHET_CHECK(i != 5, "sample 5 is broken");
    return {Tensor::empty({2, 2, 1}, DType::f32).fill_(double(i)), 0};
  }
  std::vector<std::string> class_names() const override { return {"only"}; }
  std::string describe() const override { return "faulty"; }
};
}  // namespace

TEST_CASE("data: a batch that fails to load rethrows from next(), in order") {
  LoaderOptions o;
  o.batch_size = 2, o.shuffle = false, o.num_workers = 2;
  DataLoader loader(std::make_shared<Faulty>(), nullptr, o);
  Batch b;
  CHECK(loader.next(b));
  CHECK(loader.next(b));
  CHECK(contains(error_of([&] { loader.next(b); }), "sample 5 is broken"));
  CHECK(loader.next(b));
  CHECK(b.indices == std::vector<int64_t>{6, 7});
}

TEST_CASE("data: the ranks' shares of a batch are the single-process batch, split in order") {
  auto data = indexed_dataset(23, 3, 8, 8, 1);
  LoaderOptions o;
  o.batch_size = 6, o.num_workers = 1, o.seed = 5, o.drop_last = true;
  DataLoader whole(data, augment(), o);
  const std::vector<Batch> all = run_epoch(whole);
  REQUIRE(all.size() == 3);
  std::vector<std::vector<Batch>> shares;
  for (int rank : {0, 1, 2}) {
    LoaderOptions r = o;
    r.rank = rank, r.world_size = 3;
    DataLoader part(data, augment(), r);
    CHECK(part.batches_per_epoch() == 3);
    shares.push_back(run_epoch(part));
  }
  for (size_t b = 0; b < all.size(); ++b) {
    CAPTURE(b);
    std::vector<int64_t> joined;
    std::vector<float> pixels;
    for (const auto& s : shares) {
      REQUIRE(s[b].labels.size(0) == 2);
      joined.insert(joined.end(), s[b].indices.begin(), s[b].indices.end());
      const std::vector<float> px = s[b].images.to_vector<float>();
      pixels.insert(pixels.end(), px.begin(), px.end());
    }
    CHECK(joined == all[b].indices);
    CHECK(pixels == all[b].images.to_vector<float>());  // same augmentation per image
  }
  LoaderOptions uneven = o;
  uneven.world_size = 4;
  CHECK(contains(error_of([&] { DataLoader bad(data, nullptr, uneven); }),
                 "cannot be shared equally by 4 processes"));
  LoaderOptions ragged = o;
  ragged.world_size = 2, ragged.drop_last = false;
  CHECK(contains(error_of([&] { DataLoader bad(data, nullptr, ragged); }), "last ragged batch"));
}

TEST_CASE("data: shard gives each rank a contiguous share, together the whole set") {
  auto data = indexed_dataset(10, 2, 2, 2, 1);
  std::vector<int64_t> seen;
  for (int rank = 0; rank < 3; ++rank) {
    DatasetPtr part = shard(data, rank, 3);
    CHECK(part->size() == (rank == 0 ? 3 : rank == 1 ? 3 : 4));  // 10*r/3 boundaries: 0,3,6,10
    auto sub = std::dynamic_pointer_cast<const Subset>(part);
    REQUIRE(sub != nullptr);
    seen.insert(seen.end(), sub->indices().begin(), sub->indices().end());
  }
  std::vector<int64_t> all(10);
  std::iota(all.begin(), all.end(), int64_t(0));
  CHECK(seen == all);                // in order, each index once
  CHECK(shard(data, 0, 1) == data);  // one process: the dataset itself
  CHECK(contains(error_of([&] { shard(data, 0, 11); }), "fewer than the 11 processes"));
  CHECK(contains(error_of([&] { shard(data, 3, 3); }), "outside a world of 3"));
}
