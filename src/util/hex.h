/* Hex digits, for percent-decoding wherever it happens. */
#ifndef TANDEM_HEX_H
#define TANDEM_HEX_H

/* The value of a hex digit, or -1. */
static inline int hex_digit_value(unsigned char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

#endif
