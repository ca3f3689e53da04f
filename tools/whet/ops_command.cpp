// `whet ops`: every op with whether it has a CPU kernel, a CUDA kernel and a gradient check.
// The answers come from the kernel tables and the case table, not from a list of claims.
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "core/op_registry.h"
#include "tools/opcheck/opcheck.h"
#include "tools/whet/commands.h"

namespace whet::cli {

namespace {
int print_ops(bool json) {
  const Backend* cuda = cuda_backend();
  nlohmann::json list = nlohmann::json::array();
  for (const OpInfo& op : op_registry()) {
    nlohmann::json o;
    o["name"] = op.name;
    o["cpu"] = op.has_kernel(cpu_backend());
    o["cuda"] = cuda != nullptr && op.has_kernel(*cuda);
    o["differentiable"] = op.differentiable;
    o["gradcheck"] = op.differentiable && opcheck::has_gradcheck_case(op.name);
    list.push_back(o);
  }
  if (json) {
    std::cout << list.dump(1) << "\n";
    return 0;
  }
  std::cout << std::left << std::setw(22) << "op" << std::setw(6) << "cpu" << std::setw(6)
            << "cuda" << "gradcheck\n";
  auto mark = [](const nlohmann::json& v) { return v.get<bool>() ? "yes" : "-"; };
  for (const auto& o : list) {
    std::cout << std::setw(22) << o["name"].get<std::string>() << std::setw(6) << mark(o["cpu"])
              << std::setw(6) << mark(o["cuda"])
              << (o["differentiable"].get<bool>() ? mark(o["gradcheck"]) : "n/a") << "\n";
  }
  std::cout << "\nCUDA backend " << (cuda ? "compiled" : "not compiled") << "; "
            << cuda_device_count() << " CUDA device(s) visible\n";
  return 0;
}
}  // namespace

void add_ops_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("ops", "List every op: CPU kernel, CUDA kernel, gradient check");
  auto* json = cmd->add_flag("--json", "Print a JSON list of {name, cpu, cuda, gradcheck}");
  cmd->callback([json] { set_action([json] { return print_ops(json->count() > 0); }); });
}

}  // namespace whet::cli
