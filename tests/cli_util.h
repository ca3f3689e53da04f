// Running commands from tests: the whet CLI (WHET_CLI holds the built binary's path) or any
// shell command, capturing exit status and output.
#pragma once
#include <doctest/doctest.h>

#include <array>
#include <cstdio>
#include <string>
#include <sys/wait.h>

namespace whet_test {

struct Run {
  int status;       // the exit status; -1 when the process did not exit normally
  std::string out;  // stdout, and stderr unless it was discarded
};

// Runs a shell command line; stderr joins stdout unless `stdout_only`.
inline Run run_shell(const std::string& cmd, bool stdout_only = false) {
  std::string line = cmd + (stdout_only ? " 2>/dev/null" : " 2>&1");
  FILE* p = popen(line.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  std::array<char, 4096> buf;
  while (size_t n = fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// Runs `whet ARGS`.
inline Run run_whet(const std::string& args, bool stdout_only = false) {
  return run_shell(std::string(WHET_CLI) + " " + args, stdout_only);
}

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace whet_test
