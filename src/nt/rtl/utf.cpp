// UTF-8 / UTF-16 conversion (strict decoding, U+FFFD for anything malformed).
#include "nt/rtl/utf.hpp"

namespace uwsk::nt::utf {

size_t decode_utf16(const char16_t *s, size_t n, char32_t &cp, bool &valid) {
  char16_t u = s[0];
  if (u < 0xD800 || u > 0xDFFF) {
    cp = u;
    valid = true;
    return 1;
  }
  if (u <= 0xDBFF && n >= 2 && s[1] >= 0xDC00 && s[1] <= 0xDFFF) {
    cp = 0x10000 + ((static_cast<char32_t>(u) - 0xD800) << 10) + (s[1] - 0xDC00);
    valid = true;
    return 2;
  }
  cp = replacement_char;
  valid = false;
  return 1;
}

size_t decode_utf8(const char *s, size_t n, char32_t &cp, bool &valid) {
  auto b0 = static_cast<unsigned char>(s[0]);
  if (b0 < 0x80) {
    cp = b0;
    valid = true;
    return 1;
  }
  size_t len;
  char32_t value;
  char32_t min_value;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2, value = b0 & 0x1F, min_value = 0x80;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3, value = b0 & 0x0F, min_value = 0x800;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4, value = b0 & 0x07, min_value = 0x10000;
  } else {
    cp = replacement_char;
    valid = false;
    return 1;
  }
  size_t i = 1;
  for (; i < len && i < n; ++i) {
    auto b = static_cast<unsigned char>(s[i]);
    if ((b & 0xC0) != 0x80) {
      break;
    }
    value = (value << 6) | (b & 0x3F);
  }
  // A truncated or interrupted sequence is replaced as a whole (its valid prefix consumed).
  if (i < len || value < min_value || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) {
    cp = replacement_char;
    valid = false;
    return i;
  }
  cp = value;
  valid = true;
  return len;
}

size_t encode_utf8(char32_t cp, char *out) {
  if (cp < 0x80) {
    out[0] = static_cast<char>(cp);
    return 1;
  }
  if (cp < 0x800) {
    out[0] = static_cast<char>(0xC0 | (cp >> 6));
    out[1] = static_cast<char>(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = static_cast<char>(0xE0 | (cp >> 12));
    out[1] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out[2] = static_cast<char>(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = static_cast<char>(0xF0 | (cp >> 18));
  out[1] = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
  out[2] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
  out[3] = static_cast<char>(0x80 | (cp & 0x3F));
  return 4;
}

size_t encode_utf16(char32_t cp, char16_t *out) {
  if (cp < 0x10000) {
    out[0] = static_cast<char16_t>(cp);
    return 1;
  }
  cp -= 0x10000;
  out[0] = static_cast<char16_t>(0xD800 + (cp >> 10));
  out[1] = static_cast<char16_t>(0xDC00 + (cp & 0x3FF));
  return 2;
}

namespace {

template <typename Text, typename In> Text transcoded(const In *s, size_t n, bool *all_valid) {
  Text out;
  out.reserve(n);
  transcode(
      s, n,
      [&out](const typename Text::value_type *units, size_t count) { out.append(units, count); },
      all_valid);
  return out;
}

} // namespace

std::string to_utf8(const char16_t *s, size_t n, bool *all_valid) {
  return transcoded<std::string>(s, n, all_valid);
}

std::u16string to_utf16(const char *s, size_t n, bool *all_valid) {
  return transcoded<std::u16string>(s, n, all_valid);
}

} // namespace uwsk::nt::utf
