// Images listed in a CSV file, as many datasets ship them (Kaggle's train.csv, labels.csv):
//
//   path,label           a header line, then one image per row: its path (relative to the
//   img/001.jpg,cat      CSV file's folder, or absolute) and its class name; further columns
//   img/002.jpg,dog      are ignored; fields may be quoted ("a, b" and "" inside quotes)
//
// Class names are sorted, numerically when every one is an integer ("2" before "10"), else
// in byte order; labels are their positions. With a second CSV (`TRAIN.csv,VAL.csv`) the
// validation rows take the training classes, and a class the training rows lack is an error.
// Images are scanned, skipped and reported as in an image folder (data/image_folder.h).
#pragma once
#include <string>
#include <vector>

#include "data/image_folder.h"

namespace whet::data {

// "TRAIN.csv" or "TRAIN.csv,VAL.csv" (val = nullptr without the second).
TrainVal image_csv_splits(const std::string& spec, const ImageFolderOptions& options = {});

// The fields of one CSV line (RFC 4180 quoting; a trailing '\r' is dropped). Throws on an
// unterminated quote, naming `where`.
std::vector<std::string> split_csv_line(const std::string& line, const std::string& where);

}  // namespace whet::data
