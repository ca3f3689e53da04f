#include "train/report.h"

#include <filesystem>
#include <sstream>

#include "core/error.h"
#include "io/atomic_file.h"
#include "train/report_sections.h"
#include "train/svg_chart.h"

namespace whet::train {

namespace {
// The model's name for the title: key `model` at the top level or in [model]
// (train/config.h), or `[model] name`.
std::string model_name(const ReportData& d) {
  if (!d.config) return "";
  for (const auto& e : *d.config)
    if ((e.key == "model" && (e.section.empty() || e.section == "model")) ||
        (e.section == "model" && e.key == "name"))
      return e.value;
  return "";
}
}  // namespace

std::string render_report(const ReportData& d) {
  const std::string model = model_name(d);
  const std::string title = "whet report" + (model.empty() ? "" : " – " + model);
  std::ostringstream os;
  os << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
     << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
     << "<title>" << html_escape(title) << "</title>\n<style>" << report_css()
     << "</style>\n</head>\n<body>\n"
     << "<header><h1>" << html_escape(title) << "</h1><div class=\"sub\">" << html_escape(d.dir)
     << "</div></header>\n";

  if (!d.notes.empty()) {
    os << "<section class=\"notes\"><h2>Notes</h2><ul>\n";
    for (const auto& n : d.notes) os << "<li>" << html_escape(n) << "</li>\n";
    os << "</ul></section>\n";
  }
  if ((d.metrics && !d.metrics->epochs.empty()) || (d.metrics && !d.metrics->steps.empty()) ||
      d.eval)
    os << "<section id=\"summary\"><h2>Summary</h2>\n" << summary_html(d) << "</section>\n";
  if (d.metrics && (!d.metrics->epochs.empty() || !d.metrics->steps.empty()))
    os << "<section id=\"curves\"><h2>Training curves</h2>\n"
       << curves_html(*d.metrics) << "</section>\n";
  if (d.eval) {
    os << "<section id=\"evaluation\"><h2>Evaluation"
       << (d.eval_split.empty()
               ? ""
               : " <span class=\"split\">on the " + html_escape(d.eval_split) + " set</span>")
       << "</h2>\n<div class=\"two\">\n"
       << "<div><h3>Confusion matrix</h3>\n"
       << confusion_html(*d.eval) << "</div>\n"
       << "<div><h3>Per class</h3>\n"
       << per_class_html(*d.eval) << "</div>\n"
       << "</div></section>\n";
  }
  if (d.config)
    os << "<section id=\"config\"><h2>Configuration</h2>\n"
       << config_html(*d.config) << "</section>\n";
  os << "<footer>Made by whet " << WHET_VERSION
     << " from config.toml, metrics.jsonl and eval.json; regenerate with <code>whet report "
     << html_escape(d.dir) << "</code>.</footer>\n</body>\n</html>\n";
  return os.str();
}

std::string report_path(const std::string& output_dir) {
  return (std::filesystem::path(output_dir) / "report.html").string();
}

void write_report(const std::string& output_dir) {
  const std::string html = render_report(load_report_data(output_dir));
  io::AtomicFileWriter f(report_path(output_dir), "write_report");
  f.write(html.data(), html.size());
  f.commit();
}

}  // namespace whet::train
