#include "tools/whet/config_flags.h"

#include <type_traits>

#include "train/trainer.h"

namespace whet::cli {

namespace {
template <class T>
struct IsVector : std::false_type {};
template <class T>
struct IsVector<std::vector<T>> : std::true_type {};
}  // namespace

void add_config_flags(CLI::App& cmd, ConfigFlags& a) {
  cmd.add_option("--config", a.config_file,
                 "TOML file of keys (as a run's config.toml writes them); flags override it")
      ->check(CLI::ExistingFile);
  train::TrainConfig::for_each_field([&](const train::FieldInfo& f, auto member) {
    using T = std::decay_t<decltype(a.flags.*member)>;
    const std::string flag = train::flag_of(f.key);
    CLI::Option* opt;
    if constexpr (std::is_same_v<T, bool>) {
      opt = cmd.add_flag(flag + ",!--no-" + flag.substr(2), a.flags.*member, f.help);
    } else {
      opt = cmd.add_option(flag, a.flags.*member, f.help);
      // Lists: one value per occurrence (repeatable) or comma-separated.
      if constexpr (IsVector<T>::value)
        opt->delimiter(',')->allow_extra_args(false);
      else
        opt->capture_default_str();
    }
    // A later scalar flag wins (`whet train $BASE_FLAGS --lr 0.1`); lists accumulate.
    if constexpr (!IsVector<T>::value) opt->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    opt->group(f.section);
    a.fields.emplace_back(opt, [member](train::TrainConfig& dst, const train::TrainConfig& src) {
      dst.*member = src.*member;
    });
  });
}

train::TrainConfig build_config(const ConfigFlags& a) {
  auto layer = [&](train::TrainConfig base) {
    if (!a.config_file.empty()) train::apply_toml_file(base, a.config_file);
    for (const auto& [opt, copy] : a.fields)
      if (opt->count() > 0) copy(base, a.flags);
    return base;
  };
  train::TrainConfig c = layer(train::TrainConfig{});
  if (!c.resume.empty()) c = layer(train::resume_config(c.resume));
  return c;
}

}  // namespace whet::cli
