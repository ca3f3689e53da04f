#include "data/image_codec.h"

#include <cstring>
#include <fstream>

#include "core/error.h"

namespace whet::data {

ImageFormat sniff_image_format(const uint8_t* b, size_t n) {
  static const uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (n >= 8 && std::memcmp(b, kPng, 8) == 0) return ImageFormat::png;
  if (n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return ImageFormat::jpeg;
  return ImageFormat::unknown;
}

// Names a few formats we do not decode, so the report says "GIF" rather than "unknown".
static std::string unsupported_name(const uint8_t* b, size_t n) {
  auto starts = [&](const char* s) {
    size_t k = std::strlen(s);
    return n >= k && std::memcmp(b, s, k) == 0;
  };
  if (starts("GIF8")) return "GIF";
  if (starts("BM")) return "BMP";
  if (starts("II*") || starts("MM")) return "TIFF";
  if (n >= 12 && starts("RIFF") && std::memcmp(b + 8, "WEBP", 4) == 0) return "WebP";
  if (n >= 2 && b[0] == 'P' && b[1] >= '1' && b[1] <= '7') return "Netpbm";
  if (n == 0) return "an empty file";
  return "not an image";
}

Tensor decode_image(const std::vector<uint8_t>& bytes, int channels, const std::string& source,
                    int64_t min_side) {
  WHET_CHECK(channels == 1 || channels == 3, "decode_image: channels must be 1 or 3, got ",
             channels);
  Tensor t;
  switch (sniff_image_format(bytes.data(), bytes.size())) {
    case ImageFormat::png:
      t = decode_png(bytes.data(), bytes.size(), source);
      break;
    case ImageFormat::jpeg:
      t = decode_jpeg(bytes.data(), bytes.size(), source, min_side);
      break;
    case ImageFormat::unknown:
      WHET_FAIL(source, ": unsupported image format (",
                unsupported_name(bytes.data(), bytes.size()), "); JPEG and PNG are read");
  }
  return convert_channels(t, channels);
}

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  WHET_CHECK(f.is_open(), path, ": cannot open");
  std::streamoff n = f.tellg();
  WHET_CHECK(n >= 0, path, ": cannot read");
  std::vector<uint8_t> bytes(static_cast<size_t>(n));
  f.seekg(0);
  f.read(reinterpret_cast<char*>(bytes.data()), n);
  WHET_CHECK(f.good() || n == 0, path, ": read failed");
  return bytes;
}

Tensor read_image(const std::string& path, int channels, int64_t min_side) {
  return decode_image(read_file_bytes(path), channels, path, min_side);
}

Tensor convert_channels(const Tensor& image, int channels) {
  WHET_CHECK(image.dim() == 3 && image.dtype() == DType::u8, "convert_channels: needs (H, W, C)",
             " uint8, got ", shape_str(image.shape()), " ", dtype_name(image.dtype()));
  int64_t in_c = image.size(2);
  WHET_CHECK(in_c >= 1 && in_c <= 4, "convert_channels: ", in_c, " channels");
  WHET_CHECK(channels == 1 || channels == 3, "convert_channels: to ", channels, " channels");
  if (in_c == channels) return image;
  int64_t pixels = image.size(0) * image.size(1);
  Tensor out = Tensor::empty({image.size(0), image.size(1), channels}, DType::u8);
  const uint8_t* s = image.data<uint8_t>();
  uint8_t* o = out.data<uint8_t>();
  bool color_in = in_c >= 3;
  for (int64_t i = 0; i < pixels; ++i, s += in_c) {
    if (channels == 3) {
      uint8_t r = s[0], g = color_in ? s[1] : s[0], b = color_in ? s[2] : s[0];
      *o++ = r, *o++ = g, *o++ = b;
    } else if (color_in) {
      *o++ = uint8_t((19595u * s[0] + 38470u * s[1] + 7471u * s[2] + 0x8000u) >> 16);
    } else {
      *o++ = s[0];  // gray + alpha
    }
  }
  return out;
}

}  // namespace whet::data
