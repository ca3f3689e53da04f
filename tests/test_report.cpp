// The HTML training report: reading a run's files back, the page's content, the `whet report`
// command, and a real rendering in headless Chromium (skipped, with a message, without one).
#include <doctest/doctest.h>

#include "tests/cli_util.h"
#include <sys/wait.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <sstream>

#include "data/image_codec.h"
#include "data_test_util.h"
#include "train/report.h"
#include "train/report_sections.h"
#include "train/svg_chart.h"

using namespace whet;
using namespace whet::train;
using data_test::TempDir;

namespace {
void write_text(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
}

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream os;
  os << f.rdbuf();
  return os.str();
}

bool has(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

size_t count(const std::string& s, const std::string& part) {
  size_t n = 0;
  for (size_t p = s.find(part); p != std::string::npos; p = s.find(part, p + 1)) ++n;
  return n;
}

int shell(const std::string& cmd, std::string* out = nullptr) {
  whet_test::Run r = whet_test::run_shell(cmd);
  if (out) *out = r.out;
  return r.status;
}

// A plausible run: warm-up then cosine learning rate, a loss falling with some noise,
// validation accuracy rising and levelling off, four classes, one of them with a name that
// must be escaped.
void write_run(const std::string& dir, int epochs = 8, int steps_per_epoch = 40) {
  write_text(dir + "/config.toml",
             "[model]\nmodel = \"resnet18\"\nweights = \"imagenet.pth\"\nnum_classes = 4\n"
             "freeze = [\"layer1.*\", \"conv1.*\"]\n\n"
             "[data]\ndata = \"folder:/data/flowers\"\nbatch_size = 32\n\n"
             "[optim]\noptimizer = \"sgd\"\nlr = 0.05\nmomentum = 0.9\n\n"
             "[schedule]\nscheduler = \"cosine\"\nwarmup_epochs = 1.0\n");
  std::ostringstream m;
  const int total = epochs * steps_per_epoch;
  int g = 0;
  for (int e = 0; e < epochs; ++e) {
    double loss_sum = 0;
    for (int s = 0; s < steps_per_epoch; ++s, ++g) {
      const double t = double(g) / total;
      const double lr =
          g < steps_per_epoch ? 0.05 * (g + 1) / steps_per_epoch : 0.025 * (1 + std::cos(M_PI * t));
      const double loss = 1.4 * std::exp(-3 * t) + 0.15 + 0.12 * std::sin(g * 1.7);
      loss_sum += loss;
      m << "{\"kind\":\"step\",\"epoch\":" << e << ",\"step\":" << s << ",\"global_step\":" << g
        << ",\"loss\":" << loss << ",\"acc\":" << 1 - loss / 2 << ",\"lr\":" << lr
        << ",\"images_per_s\":" << 410 + 5 * (g % 7) << "}\n";
    }
    const double val_acc = 0.92 - 0.6 * std::exp(-0.7 * (e + 1));
    m << "{\"kind\":\"epoch\",\"epoch\":" << e << ",\"train_loss\":" << loss_sum / steps_per_epoch
      << ",\"train_acc\":" << val_acc + 0.03 << ",\"val_loss\":" << 1.1 * std::exp(-0.4 * e) + 0.25
      << ",\"val_acc\":" << val_acc << ",\"val_top5\":1.0,\"lr\":0.05,\"seconds\":" << 61.5
      << "}\n";
  }
  write_text(dir + "/metrics.jsonl", m.str());
  write_text(dir + "/eval.json",
             R"({"split":"validation","classes":["daisy","rose","tulip","<b>sun & flower</b>"],
    "loss":0.31,"accuracy":0.875,"top5":1.0,
    "per_class":[{"name":"daisy","precision":0.9,"recall":0.9,"support":20},
                 {"name":"rose","precision":0.85,"recall":0.85,"support":20},
                 {"name":"tulip","precision":0.8,"recall":0.8,"support":20},
                 {"name":"<b>sun & flower</b>","precision":0.95,"recall":0.95,"support":20}],
    "confusion":[[18,1,1,0],[1,17,2,0],[0,3,16,1],[1,0,0,19]]})");
}
}  // namespace

TEST_CASE("report: metrics.jsonl keeps the latest attempt after a resume, skips bad lines") {
  const std::string text =
      "{\"kind\":\"step\",\"epoch\":0,\"step\":0,\"global_step\":0,\"loss\":2.0,\"lr\":0.1}\n"
      "{\"kind\":\"step\",\"epoch\":0,\"step\":1,\"global_step\":1,\"loss\":1.9,\"lr\":0.1}\n"
      "{\"kind\":\"step\",\"epoch\":0,\"step\":2,\"global_step\":2,\"loss\":1.8,\"lr\":0.1}\n"
      "{\"kind\":\"epoch\",\"epoch\":0,\"train_loss\":1.9,\"val_acc\":0.5}\n"
      "{\"kind\":\"step\",\"epoch\":1,\"step\":0,\"global_step\":3,\"loss\":1.7,\"l\n"  // crash
      "{\"kind\":\"step\",\"epoch\":0,\"step\":2,\"global_step\":2,\"loss\":1.5,\"lr\":0.1}\n"
      "{\"kind\":\"epoch\",\"epoch\":0,\"train_loss\":1.6,\"val_acc\":null}\n"
      "{\"kind\":\"note\",\"text\":\"hello\"}\n"
      "\n";
  RunMetrics m = parse_metrics_jsonl(text);
  CHECK(m.skipped_lines == 2);
  REQUIRE(m.steps.size() == 3);
  CHECK(m.steps[2].global_step == 2);
  CHECK(m.steps[2].loss == doctest::Approx(1.5));
  CHECK(std::isnan(m.steps[2].acc));  // absent
  REQUIRE(m.epochs.size() == 1);
  CHECK(m.epochs[0].train_loss == doctest::Approx(1.6));
  CHECK(std::isnan(m.epochs[0].val_acc));  // null: NaN as nlohmann writes it
}

TEST_CASE("report: config.toml is flattened by section in the file's order") {
  auto c = parse_config_toml(
      "zeta = 1\nalpha = \"x\"\n[optim]\nlr = 0.05\nbeta = [1, 2]\n"
      "[data.augment]\nflip = true\nmix = [\"a\", 1e-4, 3.0, { k = 2 }]\n",
      "config.toml");
  REQUIRE(c.size() == 6);
  CHECK(c[0].section == "");
  CHECK(c[0].key == "zeta");
  CHECK(c[1].value == "x");  // strings unquoted
  CHECK(c[2].section == "optim");
  CHECK(c[2].key == "lr");
  CHECK(c[2].value == "0.05");
  CHECK(c[3].value == "[1, 2]");
  CHECK(c[4].section == "data.augment");
  CHECK(c[4].value == "true");
  CHECK(c[5].value == "[\"a\", 0.0001, 3.0, { k = 2 }]");
  CHECK_THROWS_WITH_AS(parse_config_toml("a = \n", "bad.toml"), doctest::Contains("bad.toml:1"),
                       Error);
}

TEST_CASE("report: chart ticks are round numbers and labels tell them apart") {
  auto t = nice_ticks(0.13, 0.92, 5);
  REQUIRE(t.size() >= 4);
  CHECK(t.front() == doctest::Approx(0.2));
  CHECK(t[1] - t[0] == doctest::Approx(0.2));
  CHECK(tick_label(0.4, 0.2) == "0.4");
  CHECK(tick_label(0.30000000000000004, 0.1) == "0.3");
  CHECK(tick_label(1500, 500) == "1500");
  CHECK(tick_label(0.0002, 0.0001) == "0.0002");
  CHECK(tick_label(1e-5, 1e-5) == "1e-05");
  auto e = nice_ticks(0, 3, 6, /*integer=*/true);
  CHECK(e == std::vector<double>{0, 1, 2, 3});
  CHECK(html_escape("<a href='x'>&\"") == "&lt;a href=&#39;x&#39;&gt;&amp;&quot;");
}

TEST_CASE("report: the page has the curves, confusion matrix, per-class table and config") {
  TempDir dir;
  write_run(dir.path.string());
  write_report(dir.path.string());
  const std::string html = read_text(report_path(dir.path.string()));
  REQUIRE(!html.empty());
  CHECK(has(html, "<!DOCTYPE html>"));
  CHECK(has(html, "<title>whet report – resnet18</title>"));
  for (const char* title :
       {"Loss per epoch", "Accuracy per epoch", "Training loss per step", "Learning rate"})
    CHECK_MESSAGE(has(html, std::string("aria-label=\"") + title + "\""), title);
  CHECK(count(html, "<svg class=\"chart\"") == 4);
  CHECK(count(html, "<polyline") >= 7);    // train/val loss, train/val/top-5 acc, 2 step, lr
  CHECK(count(html, "<circle") == 8 * 5);  // epoch markers: 2 loss + 3 accuracy series
  for (const char* name : {"daisy", "rose", "tulip"}) CHECK(has(html, name));
  CHECK(has(html, "&lt;b&gt;sun &amp; flower&lt;/b&gt;"));  // escaped, never markup
  CHECK(!has(html, "<b>sun"));
  CHECK(count(html, "<td style=\"background: rgba(37, 99, 235") == 4);  // the diagonal
  CHECK(has(html, ">18</td>"));
  CHECK(has(html, "87.50%"));  // eval accuracy card
  CHECK(has(html, "on the validation set"));
  CHECK(has(html, "[optim]"));
  CHECK(has(html, ">0.05</td>"));
  CHECK(has(html, "folder:/data/flowers"));
  CHECK(has(html, "layer1.*"));
  CHECK(html.find("resnet18") < html.find("[data]"));
  // Self-contained: nothing is fetched, nothing runs.
  CHECK(!has(html, "http://"));
  CHECK(!has(html, "https://"));
  CHECK(!has(html, "<script"));
  CHECK(!has(html, "src="));
  CHECK(!has(html, "url("));
  CHECK(!has(html, "<link"));
  CHECK(!has(html, "@import"));
  // Regenerating an unchanged run gives the same bytes.
  write_report(dir.path.string());
  CHECK(read_text(report_path(dir.path.string())) == html);
}

TEST_CASE("report: missing parts are omitted with a note, and so is a bad eval.json") {
  TempDir dir;
  write_report(dir.path.string());
  std::string html = read_text(report_path(dir.path.string()));
  CHECK(has(html, "No config.toml"));
  CHECK(has(html, "No metrics.jsonl"));
  CHECK(has(html, "No eval.json"));
  CHECK(!has(html, "<svg"));
  CHECK(!has(html, "id=\"evaluation\""));

  write_text(dir / "eval.json", "{\"classes\": [\"a\"]}");
  write_text(dir / "metrics.jsonl",
             "{\"kind\":\"epoch\",\"epoch\":1,\"train_loss\":0.5,\"train_acc\":0.8,\"lr\":0.1}\n");
  write_report(dir.path.string());
  html = read_text(report_path(dir.path.string()));
  CHECK(has(html, "eval.json could not be read"));
  CHECK(has(html, "Loss per epoch"));
  CHECK(!has(html, "Training loss per step"));
  CHECK(has(html, "aria-label=\"Learning rate\""));  // from the epoch lines
  CHECK_THROWS_AS(write_report((dir.path / "absent").string()), Error);
}

TEST_CASE("report: many classes get a compact heat map, then a list of top confusions") {
  for (size_t C : {40, 150}) {
    CAPTURE(C);
    EvalResult r;
    r.confusion.assign(C, std::vector<int64_t>(C, 0));
    for (size_t c = 0; c < C; ++c) {
      r.classes.push_back("k" + std::to_string(c));
      r.confusion[c][c] = 9;
      r.confusion[c][(c + 1) % C] = c == 7 ? 5 : 1;
      r.per_class.push_back({r.classes.back(), 0.9, 0.9, 10});
    }
    const std::string html = confusion_html(r);
    if (C == 40) {
      CHECK(has(html, "class=\"cm compact\""));
      CHECK(count(html, "<td style=") == C * C);
    } else {
      CHECK(!has(html, "<td style="));
      CHECK(html.size() < 20000);
      CHECK(has(html, "<td>k7</td><td>k8</td><td class=\"num\">5</td><td class=\"num\">50.0%"));
    }
  }
}

TEST_CASE("report: whet report DIR regenerates report.html") {
  TempDir dir;
  write_run(dir.path.string(), 2, 5);
  std::string out;
  CHECK(shell(std::string(WHET_CLI) + " report " + dir.path.string(), &out) == 0);
  CHECK(has(out, "report.html"));
  CHECK(has(read_text(report_path(dir.path.string())), "Accuracy per epoch"));
  CHECK(shell(std::string(WHET_CLI) + " report " + (dir.path / "nope").string()) != 0);
}

TEST_CASE("report: renders in headless Chromium to a non-blank page") {
  const std::string script = std::string(WHET_SOURCE_DIR) + "/tools/render_report.sh";
  TempDir dir;
  write_run(dir.path.string());
  write_report(dir.path.string());
  const std::string png = (dir.path / "report.png").string();
  std::string out;
  const int rc =
      shell(script + " " + report_path(dir.path.string()) + " " + png + " 1200 2000", &out);
  if (rc == 2) {
    MESSAGE(
        "skipped: no Chromium on this machine (tools/setup.sh installs Debian's chromium; "
        "or set WHET_CHROMIUM): ",
        out);
    return;
  }
  INFO(out);
  REQUIRE(rc == 0);
  const Tensor img = data::read_image(png, 3);
  REQUIRE(img.dim() == 3);
  CHECK(img.size(0) == 2000);
  CHECK(img.size(1) == 1200);
  // Not blank: many distinct colours, and the series colours of the charts are there.
  const uint8_t* p = img.data<uint8_t>();
  const int64_t n = img.size(0) * img.size(1);
  std::set<int> colours;
  int64_t blue = 0, orange = 0, dark = 0;
  double sum = 0, sum2 = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int r = p[3 * i], g = p[3 * i + 1], b = p[3 * i + 2];
    colours.insert((r >> 3) << 10 | (g >> 3) << 5 | (b >> 3));
    blue += std::abs(r - 37) < 24 && std::abs(g - 99) < 24 && std::abs(b - 235) < 24;
    orange += std::abs(r - 234) < 24 && std::abs(g - 88) < 24 && std::abs(b - 12) < 24;
    dark += r + g + b < 200;  // text
    const double v = (r + g + b) / 3.0;
    sum += v, sum2 += v * v;
  }
  const double var = sum2 / double(n) - (sum / double(n)) * (sum / double(n));
  INFO("distinct colours ", colours.size(), ", blue ", blue, ", orange ", orange, ", dark ", dark,
       ", variance ", var);
  CHECK(colours.size() > 100);
  CHECK(var > 100);
  CHECK(blue > 500);    // training curves and the heat map's diagonal
  CHECK(orange > 100);  // validation curves
  CHECK(dark > 2000);   // text
}
