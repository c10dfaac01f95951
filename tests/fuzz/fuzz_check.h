/* The fuzzers' one assertion: an invariant that fails aborts, so libFuzzer
 * keeps the input that broke it. */
#ifndef TANDEM_FUZZ_CHECK_H
#define TANDEM_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                                                \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);                 \
      abort();                                                                                     \
    }                                                                                              \
  } while (0)

#endif
