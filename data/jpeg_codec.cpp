// JPEG through libjpeg(-turbo). libjpeg reports errors by calling error_exit, which must not
// return; we longjmp back to the frame that called setjmp. Only libjpeg's C frames are
// skipped, and everything the jump must not lose (the pixel vector, the message) lives in the
// caller's frame and is reached through pointers.
#include <algorithm>
#include <csetjmp>
#include <cstdio>  // before jpeglib.h, which uses FILE and size_t without including it
#include <cstdlib>
#include <cstring>
#include <fstream>

#include <jpeglib.h>
// jerror.h after jpeglib.h: it needs its types.
#include <jerror.h>

#include "core/error.h"
#include "data/image_codec.h"

namespace whet::data {

namespace {

struct JpegErrorManager {
  jpeg_error_mgr pub;  // first, so a j_common_ptr's err casts to this
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void on_jpeg_error(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  longjmp(err->jump, 1);
}

// Level -1 is a warning about the data. Truncated or corrupt entropy-coded data would
// otherwise decode "successfully" into gray padding; benign ones (extraneous bytes before a
// marker, unknown Adobe transforms) pass, as they do in PIL.
void on_jpeg_message(j_common_ptr cinfo, int level) {
  if (level != -1) return;
  int code = cinfo->err->msg_code;
  if (code == JWRN_JPEG_EOF || code == JWRN_HUFF_BAD_CODE || code == JWRN_HIT_MARKER ||
      code == JWRN_MUST_RESYNC) {
    on_jpeg_error(cinfo);
  }
}

struct Decoded {
  std::vector<uint8_t> pixels;
  int height = 0, width = 0, channels = 0;
  bool cmyk = false, inverted = false;
};

// The DCT scaling denominator (8, 4, 2 or 1) that decodes the smallest image whose shorter
// side is at least min_side; 1 (full size) when min_side is 0.
unsigned scale_denominator(JDIMENSION width, JDIMENSION height, int64_t min_side) {
  if (min_side <= 0) return 1;
  const int64_t shorter = std::min<int64_t>(width, height);
  for (unsigned denom : {8u, 4u, 2u})
    if ((shorter + denom - 1) / denom >= min_side) return denom;  // libjpeg rounds sizes up
  return 1;
}

bool decode_raw(const uint8_t* bytes, size_t n, int64_t min_side, Decoded* out,
                JpegErrorManager* err) {
  jpeg_decompress_struct cinfo;
  cinfo.err = jpeg_std_error(&err->pub);
  err->pub.error_exit = on_jpeg_error;
  err->pub.emit_message = on_jpeg_message;
  if (setjmp(err->jump)) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, bytes, static_cast<unsigned long>(n));
  jpeg_read_header(&cinfo, TRUE);
  cinfo.scale_num = 1;
  cinfo.scale_denom = scale_denominator(cinfo.image_width, cinfo.image_height, min_side);
  if (cinfo.jpeg_color_space == JCS_GRAYSCALE) {
    cinfo.out_color_space = JCS_GRAYSCALE;
  } else if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
    cinfo.out_color_space = JCS_CMYK;
    out->cmyk = true;
    out->inverted = cinfo.saw_Adobe_marker;
  } else {
    cinfo.out_color_space = JCS_RGB;
  }
  // The size check comes before jpeg_start_decompress, which sizes libjpeg's own buffers from
  // the header: for a progressive file, the coefficients of the whole image (2 bytes a sample).
  jpeg_calc_output_dimensions(&cinfo);
  out->width = int(cinfo.output_width);
  out->height = int(cinfo.output_height);
  out->channels = cinfo.out_color_components;
  size_t row = size_t(out->width) * size_t(out->channels);
  if (double(row) * out->height > double(kMaxImageBytes)) {
    std::snprintf(err->message, sizeof err->message, "image too large (%dx%d)", out->width,
                  out->height);
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_start_decompress(&cinfo);
  out->pixels.resize(row * size_t(out->height));
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW p = out->pixels.data() + row * cinfo.output_scanline;
    jpeg_read_scanlines(&cinfo, &p, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return true;
}

// libjpeg mallocs the output at *mem; the caller frees it, on failure too.
bool encode_raw(const uint8_t* pixels, int h, int w, int c, int quality, unsigned char** mem,
                unsigned long* mem_size, JpegErrorManager* err) {
  jpeg_compress_struct cinfo;
  cinfo.err = jpeg_std_error(&err->pub);
  err->pub.error_exit = on_jpeg_error;
  if (setjmp(err->jump)) {
    jpeg_destroy_compress(&cinfo);
    return false;
  }
  jpeg_create_compress(&cinfo);
  jpeg_mem_dest(&cinfo, mem, mem_size);
  cinfo.image_width = JDIMENSION(w);
  cinfo.image_height = JDIMENSION(h);
  cinfo.input_components = c;
  cinfo.in_color_space = c == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  for (int i = 0; i < cinfo.num_components; ++i) {
    cinfo.comp_info[i].h_samp_factor = 1;
    cinfo.comp_info[i].v_samp_factor = 1;
  }
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW p = const_cast<uint8_t*>(pixels) + size_t(cinfo.next_scanline) * size_t(w) * c;
    jpeg_write_scanlines(&cinfo, &p, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  return true;
}

}  // namespace

Tensor decode_jpeg(const uint8_t* bytes, size_t n, const std::string& source, int64_t min_side) {
  Decoded d;
  JpegErrorManager err;
  if (!decode_raw(bytes, n, min_side, &d, &err)) {
    WHET_FAIL(source, ": corrupt JPEG: ", err.message);
  }
  WHET_CHECK(d.width > 0 && d.height > 0, source, ": JPEG of size 0");
  int c = d.cmyk ? 3 : d.channels;
  Tensor t = Tensor::empty({d.height, d.width, c}, DType::u8);
  uint8_t* o = t.data<uint8_t>();
  if (!d.cmyk) {
    std::memcpy(o, d.pixels.data(), d.pixels.size());
    return t;
  }
  size_t pixels = size_t(d.height) * size_t(d.width);
  for (size_t i = 0; i < pixels; ++i) {
    const uint8_t* s = &d.pixels[i * 4];
    // Adobe writes inverted inks: stored 255 - C, so R = (255 - C)(255 - K) / 255 = s0 s3 / 255.
    int k = d.inverted ? s[3] : 255 - s[3];
    for (int ch = 0; ch < 3; ++ch) {
      int v = d.inverted ? s[ch] : 255 - s[ch];
      o[i * 3 + size_t(ch)] = uint8_t((v * k + 127) / 255);
    }
  }
  return t;
}

void write_jpeg(const std::string& path, const Tensor& image, int quality) {
  WHET_CHECK(
      image.dim() == 3 && image.dtype() == DType::u8 && (image.size(2) == 1 || image.size(2) == 3),
      "write_jpeg: ", path, ": needs (H, W, 1 or 3) uint8, got ", shape_str(image.shape()), " ",
      dtype_name(image.dtype()));
  WHET_CHECK(quality >= 1 && quality <= 100, "write_jpeg: quality ", quality, " outside 1..100");
  Tensor c = image.to(Device::cpu());
  unsigned char* mem = nullptr;
  unsigned long mem_size = 0;
  JpegErrorManager err;
  bool ok = encode_raw(c.data<uint8_t>(), int(c.size(0)), int(c.size(1)), int(c.size(2)), quality,
                       &mem, &mem_size, &err);
  std::vector<uint8_t> bytes(mem, mem + (ok ? mem_size : 0));
  std::free(mem);
  WHET_CHECK(ok, "write_jpeg: ", path, ": ", err.message);
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  WHET_CHECK(f.good(), "write_jpeg: ", path, ": cannot write");
}

}  // namespace whet::data
