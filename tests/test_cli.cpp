// The whet command line, run as a user would.
#include <doctest/doctest.h>

#include "tests/cli_util.h"

#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "core/op_registry.h"

namespace {
using whet_test::Run;
Run run(const std::string& args) { return whet_test::run_whet(args); }
}  // namespace

TEST_CASE("cli: --version prints the version") {
  Run r = run("--version");
  CHECK(r.status == 0);
  CHECK(r.out.find(std::string("whet ") + WHET_VERSION) != std::string::npos);
}

TEST_CASE("cli: ops --json lists every registered op with its kernels and checks") {
  Run r = run("ops --json");
  REQUIRE(r.status == 0);
  nlohmann::json j = nlohmann::json::parse(r.out);
  REQUIRE(j.is_array());
  CHECK(j.size() == whet::op_registry().size());
  for (const auto& op : j) {
    INFO(op.dump());
    CHECK(op.contains("name"));
    CHECK(op["cpu"].get<bool>());
    CHECK(op.contains("cuda"));
    if (op["differentiable"].get<bool>()) CHECK(op["gradcheck"].get<bool>());
  }
}

TEST_CASE("cli: ops prints a table - unknown flags fail with a message") {
  Run r = run("ops");
  CHECK(r.status == 0);
  CHECK(r.out.find("conv2d") != std::string::npos);
  Run bad = run("ops --no-such-flag");
  CHECK(bad.status != 0);
  CHECK(bad.out.find("no-such-flag") != std::string::npos);
  Run bad_cmd = run("frobnicate");
  CHECK(bad_cmd.status != 0);
}
