#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WHET_TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(WHET_TEST_ASAN)
// Under AddressSanitizer: tests check that an impossible allocation (a 4 PiB tensor) ends in
// whet::Error, which relies on the C allocator returning null as the standard says. ASan
// aborts instead unless told otherwise; ASAN_OPTIONS from the environment still apply on top.
extern "C" const char* __asan_default_options() { return "allocator_may_return_null=1"; }
#endif
