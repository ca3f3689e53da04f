// The GPU suite's main. With a CUDA device it runs doctest as usual; without one (or in a
// build without CUDA) it names every test case as skipped and exits 77, which CTest reports
// as Skipped: GPU tests never pass silently.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <vector>

#include "core/backend.h"

namespace {

// Prints "SKIPPED <name>: no CUDA device" for each test case doctest would run, when asked to
// list them (the query mode of doctest's reporter interface).
struct SkipReporter : doctest::IReporter {
  explicit SkipReporter(const doctest::ContextOptions&) {}
  void report_query(const doctest::QueryData& q) override {
    for (unsigned i = 0; i < q.num_data; ++i)
      std::printf("SKIPPED %s: no CUDA device\n", q.data[i]->m_name);
  }
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats&) override {}
  void test_case_start(const doctest::TestCaseData&) override {}
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats&) override {}
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}
};
REGISTER_REPORTER("whet-skip", 1, SkipReporter);

constexpr int kSkipped = 77;  // CTest's SKIP_RETURN_CODE for this binary

}  // namespace

int main(int argc, char** argv) {
  if (whet::cuda_device_count() == 0) {
    // doctest's own listing, printed by the reporter above; filters given on the command line
    // still apply.
    std::vector<const char*> args(argv, argv + argc);
    for (const char* a : {"--list-test-cases", "--reporters=whet-skip", "--no-version"})
      args.push_back(a);
    doctest::Context list(int(args.size()), args.data());
    list.run();
    std::printf("%s\n", whet::cuda_compiled() ? "whet: no CUDA device visible"
                                              : "whet: built without CUDA");
    return kSkipped;
  }
  doctest::Context ctx(argc, argv);
  return ctx.run();
}
