// PNG through libpng's classic API (the simplified png_image API would composite alpha and
// apply gamma to 16-bit data, neither of which PIL does). libpng reports errors by longjmp to
// png_jmpbuf; as in jpeg_codec.cpp, only libpng's C frames are skipped and everything that
// must survive the jump lives in the caller's frame.
#include <png.h>

#include <cstdio>
#include <cstring>
#include <fstream>

#include "core/error.h"
#include "data/image_codec.h"

namespace whet::data {

namespace {

struct PngIo {
  const uint8_t* data = nullptr;
  size_t size = 0, pos = 0;
  std::vector<uint8_t>* out = nullptr;  // when writing
  char message[256] = "";
};

void on_png_error(png_structp png, png_const_charp msg) {
  auto* io = static_cast<PngIo*>(png_get_error_ptr(png));
  std::snprintf(io->message, sizeof io->message, "%s", msg);
  png_longjmp(png, 1);
}

// Warnings (an sRGB profile libpng finds odd, a bad ancillary chunk CRC) leave the pixels
// intact; PIL ignores them too.
void on_png_warning(png_structp, png_const_charp) {}

void read_from_memory(png_structp png, png_bytep dst, png_size_t n) {
  auto* io = static_cast<PngIo*>(png_get_io_ptr(png));
  if (io->size - io->pos < n) png_error(png, "unexpected end of file (truncated)");
  std::memcpy(dst, io->data + io->pos, n);
  io->pos += n;
}

void write_to_memory(png_structp png, png_bytep src, png_size_t n) {
  auto* io = static_cast<PngIo*>(png_get_io_ptr(png));
  io->out->insert(io->out->end(), src, src + n);
}

void flush_nothing(png_structp) {}

struct Decoded {
  std::vector<uint8_t> pixels;
  std::vector<png_bytep> rows;
  png_uint_32 width = 0, height = 0;
  int channels = 0;
};

bool decode_raw(PngIo* io, Decoded* out) {
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, io, on_png_error, on_png_warning);
  if (!png) {
    std::snprintf(io->message, sizeof io->message, "out of memory");
    return false;
  }
  png_infop info = png_create_info_struct(png);
  if (!info || setjmp(png_jmpbuf(png))) {
    // Before destroying: png_destroy_read_struct nulls `info`, which would pass libpng's
    // every error off as "out of memory".
    if (!info) std::snprintf(io->message, sizeof io->message, "out of memory");
    png_destroy_read_struct(&png, info ? &info : nullptr, nullptr);
    return false;
  }
  png_set_read_fn(png, io, read_from_memory);
  png_read_info(png, info);
  // The pixels are DEFLATE data, which expands at most about 1032:1. A header that claims more
  // than the file could inflate to is damaged or forged: refused before allocating for it.
  if (double(png_get_rowbytes(png, info)) * png_get_image_height(png, info) >
      1032.0 * double(io->size)) {
    char msg[160];
    std::snprintf(msg, sizeof msg, "header claims %ux%u pixels, more than %zu bytes can hold",
                  unsigned(png_get_image_width(png, info)),
                  unsigned(png_get_image_height(png, info)), io->size);
    png_error(png, msg);
  }
  int color = png_get_color_type(png, info);
  int depth = png_get_bit_depth(png, info);
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
  if (depth == 16) png_set_scale_16(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  out->width = png_get_image_width(png, info);
  out->height = png_get_image_height(png, info);
  out->channels = png_get_channels(png, info);
  size_t row = size_t(out->width) * size_t(out->channels);
  if (png_get_rowbytes(png, info) != row) png_error(png, "unexpected row layout");
  // A forged header must not make us allocate tens of gigabytes.
  if (double(row) * out->height > double(kMaxImageBytes)) png_error(png, "image too large");
  out->pixels.resize(row * out->height);
  out->rows.resize(out->height);
  for (png_uint_32 y = 0; y < out->height; ++y) out->rows[y] = out->pixels.data() + row * y;
  png_read_image(png, out->rows.data());
  png_destroy_read_struct(&png, &info, nullptr);
  return true;
}

bool encode_raw(PngIo* io, const uint8_t* pixels, int h, int w, int c) {
  png_structp png =
      png_create_write_struct(PNG_LIBPNG_VER_STRING, io, on_png_error, on_png_warning);
  if (!png) return false;
  png_infop info = png_create_info_struct(png);
  if (!info || setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, info ? &info : nullptr);
    return false;
  }
  static const int kColor[] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA,
                               PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};
  png_set_write_fn(png, io, write_to_memory, flush_nothing);
  png_set_IHDR(png, info, png_uint_32(w), png_uint_32(h), 8, kColor[c], PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int y = 0; y < h; ++y) {
    png_write_row(png, const_cast<png_bytep>(pixels + size_t(y) * size_t(w) * size_t(c)));
  }
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return true;
}

}  // namespace

Tensor decode_png(const uint8_t* bytes, size_t n, const std::string& source) {
  PngIo io;
  io.data = bytes;
  io.size = n;
  Decoded d;
  WHET_CHECK(decode_raw(&io, &d), source, ": corrupt PNG: ", io.message);
  WHET_CHECK(d.width > 0 && d.height > 0, source, ": PNG of size 0");
  Tensor t = Tensor::empty({int64_t(d.height), int64_t(d.width), d.channels}, DType::u8);
  std::memcpy(t.data<uint8_t>(), d.pixels.data(), d.pixels.size());
  return t;
}

void write_png(const std::string& path, const Tensor& image) {
  WHET_CHECK(
      image.dim() == 3 && image.dtype() == DType::u8 && image.size(2) >= 1 && image.size(2) <= 4,
      "write_png: ", path, ": needs (H, W, 1..4) uint8, got ", shape_str(image.shape()), " ",
      dtype_name(image.dtype()));
  Tensor c = image.to(Device::cpu());
  std::vector<uint8_t> bytes;
  PngIo io;
  io.out = &bytes;
  WHET_CHECK(encode_raw(&io, c.data<uint8_t>(), int(c.size(0)), int(c.size(1)), int(c.size(2))),
             "write_png: ", path, ": ", io.message);
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  WHET_CHECK(f.good(), "write_png: ", path, ": cannot write");
}

}  // namespace whet::data
