// Decoding (and, for tests and previews, encoding) of JPEG and PNG images into (H, W, C)
// uint8 tensors, with the channel conversions torchvision's ImageFolder gets from PIL's
// Image.convert("RGB") / convert("L"):
//   - alpha is dropped, not composited (PIL's RGBA -> RGB); transparent pixels keep the
//     colour stored under them;
//   - gray -> RGB repeats the value; RGB -> gray is ITU-R 601-2 luma with PIL's fixed-point
//     rounding, L = (19595 R + 38470 G + 7471 B + 0x8000) >> 16;
//   - palette images expand through their palette (and tRNS, then dropped as alpha);
//   - 16-bit PNGs scale to 8 bits with rounding, round(v * 255 / 65535) (libpng's
//     png_set_scale_16; PIL instead keeps the high byte of RGB and clips 16-bit gray);
//   - gray PNGs of 1, 2 or 4 bits scale to 0..255; gAMA / iCCP are ignored (as PIL does);
//   - CMYK / YCCK JPEGs (Adobe, inverted) convert as R = C K / 255 etc.
// The format is told by the file's signature, not its extension.
//
// Corrupt data is an error: libjpeg's warnings (premature end of data, corrupt Huffman data),
// after which it would silently pad the image with gray, count as failures, as PIL raises for
// truncated files by default.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace whet::data {

enum class ImageFormat { unknown, jpeg, png };

// Decoded images larger than this are refused (a forged header could ask for terabytes).
constexpr size_t kMaxImageBytes = size_t(1) << 31;

// From the first bytes (at least 8 are needed to tell).
ImageFormat sniff_image_format(const uint8_t* bytes, size_t n);

// Decodes `bytes` into (H, W, channels) uint8, `channels` 1 or 3. `source` names the data in
// errors. Throws whet::Error for unknown formats and corrupt data.
// min_side > 0 lets a JPEG decode smaller, at 1/2, 1/4 or 1/8 of its size (libjpeg scales
// in the DCT domain, several times faster than decoding all the pixels), the smallest scale
// whose shorter side is still at least min_side. The pixels then differ from a full decode
// followed by a resize; PNGs always decode whole.
Tensor decode_image(const std::vector<uint8_t>& bytes, int channels,
                    const std::string& source = "image", int64_t min_side = 0);

// Reads and decodes a file; errors name the path.
Tensor read_image(const std::string& path, int channels, int64_t min_side = 0);

// Reads a whole file (throws naming the path).
std::vector<uint8_t> read_file_bytes(const std::string& path);

// Converts (H, W, C) uint8 with C in {1, 2, 3, 4} (gray, gray+alpha, RGB, RGBA) to 1 or 3
// channels, by the rules above.
Tensor convert_channels(const Tensor& image, int channels);

// Encoders: `image` (H, W, C) uint8 with C = 1 or 3 (PNG also 2 and 4). JPEG is baseline
// with 4:4:4 sampling (no chroma subsampling) at `quality` 1..100.
void write_png(const std::string& path, const Tensor& image);
void write_jpeg(const std::string& path, const Tensor& image, int quality = 95);

// The codec entry points behind decode_image (jpeg_codec.cpp, png_codec.cpp). They return
// the image as stored, after palette / bit-depth expansion: C = 1, 2, 3 or 4 (PNG), 1 or 3
// (JPEG).
Tensor decode_jpeg(const uint8_t* bytes, size_t n, const std::string& source,
                   int64_t min_side = 0);
Tensor decode_png(const uint8_t* bytes, size_t n, const std::string& source);

}  // namespace whet::data
