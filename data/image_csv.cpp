#include "data/image_csv.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include "core/error.h"

namespace fs = std::filesystem;

namespace whet::data {

namespace {

struct Row {
  std::string path, label;
  int64_t line = 0;
};

std::vector<Row> read_rows(const std::string& csv) {
  std::ifstream in(csv);
  WHET_CHECK(in.is_open(), "--data csv: ", csv, ": cannot open");
  const fs::path dir = fs::path(csv).parent_path();
  std::vector<Row> rows;
  std::string text;
  int64_t line = 0;
  bool header = true;
  while (std::getline(in, text)) {
    ++line;
    const std::string where = csv + ":" + std::to_string(line);
    if (text.empty() || text == "\r") continue;
    std::vector<std::string> f = split_csv_line(text, where);
    if (header) {  // the column names
      header = false;
      WHET_CHECK(f.size() >= 2, where, ": the header names ", f.size(),
                 " column(s); expected the image path and the class (e.g. path,label)");
      continue;
    }
    WHET_CHECK(f.size() >= 2 && !f[0].empty() && !f[1].empty(), where,
               ": expected an image path and a class name, got '", text, "'");
    const fs::path p(f[0]);
    rows.push_back({(p.is_absolute() ? p : dir / p).string(), f[1], line});
  }
  WHET_CHECK(!rows.empty(), "--data csv: ", csv, " lists no images (a header line, then one "
             "row per image: path,class)");
  return rows;
}

bool is_integer(const std::string& s) {
  if (s.empty() || s.size() > 18) return false;
  size_t i = s[0] == '-' ? 1 : 0;
  return i < s.size() && std::all_of(s.begin() + long(i), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::vector<std::string> sorted_classes(const std::vector<Row>& rows) {
  std::vector<std::string> names;
  for (const Row& r : rows) names.push_back(r.label);
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  if (std::all_of(names.begin(), names.end(), is_integer))
    std::sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
      return std::strtoll(a.c_str(), nullptr, 10) < std::strtoll(b.c_str(), nullptr, 10);
    });
  return names;
}

DatasetPtr listed(const std::string& csv, const std::vector<Row>& rows,
                  const std::vector<std::string>& classes, const ImageFolderOptions& options) {
  std::map<std::string, int64_t> label_of;
  for (size_t c = 0; c < classes.size(); ++c) label_of[classes[c]] = int64_t(c);
  std::vector<ImageFolder::LabelledFile> files;
  for (const Row& r : rows) {
    auto it = label_of.find(r.label);
    WHET_CHECK(it != label_of.end(), csv, ":", r.line, ": class '", r.label,
               "' is not among the training classes");
    files.push_back({r.path, it->second});
  }
  return std::make_shared<ImageFolder>(csv, classes, std::move(files), options);
}

}  // namespace

std::vector<std::string> split_csv_line(const std::string& line, const std::string& where) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  size_t end = line.size();
  if (end > 0 && line[end - 1] == '\r') --end;
  for (size_t i = 0; i < end; ++i) {
    const char c = line[i];
    if (quoted) {
      if (c != '"')
        fields.back() += c;
      else if (i + 1 < end && line[i + 1] == '"')
        fields.back() += '"', ++i;
      else
        quoted = false;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  WHET_CHECK(!quoted, where, ": a quoted field is not closed");
  return fields;
}

TrainVal image_csv_splits(const std::string& spec, const ImageFolderOptions& options) {
  const size_t comma = spec.find(',');
  const std::string train_csv = spec.substr(0, comma);
  WHET_CHECK(!train_csv.empty(), "--data csv:", spec, ": expected csv:TRAIN.csv[,VAL.csv]");
  const std::vector<Row> train_rows = read_rows(train_csv);
  const std::vector<std::string> classes = sorted_classes(train_rows);
  TrainVal out{listed(train_csv, train_rows, classes, options), nullptr};
  if (comma != std::string::npos) {
    const std::string val_csv = spec.substr(comma + 1);
    out.val = listed(val_csv, read_rows(val_csv), classes, options);
  }
  return out;
}

}  // namespace whet::data
