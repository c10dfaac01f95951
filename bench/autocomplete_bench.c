/* Autocomplete latency on a 10,000-line document per language: the time of
 * one ac_complete_utf16 call (what POST /api/autocomplete runs), p50 and p99
 * over calls at cursors spread through the document.
 *
 *   build/bench/autocomplete_bench [calls per language, default 400]
 *
 * The documents are generated: functions with locals, calls, comments and
 * strings in each language's syntax, so the tokenizer sees what it would in
 * real code. Measures; asserts nothing. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rooms/autocomplete.h"

#define LINES 10000
#define DOC_CAP (4u << 20)

/* One function of about ten lines in the language, with names numbered by
 * `n` so the document has many distinct identifiers. */
static size_t emit_function(enum ac_lang lang, int n, char *out, size_t cap) {
  switch (lang) {
  case AC_LANG_PYTHON:
    return (size_t)snprintf(out, cap,
                            "def compute_total_%d(items, factor):\n"
                            "    # sum the weighted values of item %d\n"
                            "    running_total = 0\n"
                            "    for item in items:\n"
                            "        weight_%d = item.weight * factor\n"
                            "        running_total += weight_%d\n"
                            "    label = \"total for %d\"\n"
                            "    print(label, running_total)\n"
                            "    return running_total\n\n",
                            n, n, n, n, n);
  case AC_LANG_JAVASCRIPT:
  case AC_LANG_TYPESCRIPT:
    return (size_t)snprintf(out, cap,
                            "function computeTotal%d(items, factor) {\n"
                            "  // sum the weighted values of item %d\n"
                            "  let runningTotal = 0;\n"
                            "  for (const item of items) {\n"
                            "    const weight%d = item.weight * factor;\n"
                            "    runningTotal += weight%d;\n"
                            "  }\n"
                            "  console.log(`total ${runningTotal}`, 'label %d');\n"
                            "  return runningTotal;\n}\n",
                            n, n, n, n, n);
  case AC_LANG_C:
    return (size_t)snprintf(out, cap,
                            "static int compute_total_%d(const int *items, int count) {\n"
                            "    /* sum the weighted values of item %d */\n"
                            "    int running_total = 0;\n"
                            "    for (int i = 0; i < count; i++) {\n"
                            "        int weight_%d = items[i] * 2;\n"
                            "        running_total += weight_%d;\n"
                            "    }\n"
                            "    printf(\"total %%d for %d\\n\", running_total);\n"
                            "    return running_total;\n}\n",
                            n, n, n, n, n);
  case AC_LANG_GO:
    return (size_t)snprintf(out, cap,
                            "func computeTotal%d(items []int, factor int) int {\n"
                            "\t// sum the weighted values of item %d\n"
                            "\trunningTotal := 0\n"
                            "\tfor _, item := range items {\n"
                            "\t\tweight%d := item * factor\n"
                            "\t\trunningTotal += weight%d\n"
                            "\t}\n"
                            "\tfmt.Println(\"total for %d\", runningTotal)\n"
                            "\treturn runningTotal\n}\n",
                            n, n, n, n, n);
  case AC_LANG_RUST:
    return (size_t)snprintf(out, cap,
                            "fn compute_total_%d(items: &[i64], factor: i64) -> i64 {\n"
                            "    // sum the weighted values of item %d\n"
                            "    let mut running_total = 0;\n"
                            "    for item in items {\n"
                            "        let weight_%d = item * factor;\n"
                            "        running_total += weight_%d;\n"
                            "    }\n"
                            "    println!(\"total for %d {}\", running_total);\n"
                            "    running_total\n}\n",
                            n, n, n, n, n);
  case AC_LANG_JAVA:
    return (size_t)snprintf(out, cap,
                            "static int computeTotal%d(int[] items, int factor) {\n"
                            "    // sum the weighted values of item %d\n"
                            "    int runningTotal = 0;\n"
                            "    for (int item : items) {\n"
                            "        int weight%d = item * factor;\n"
                            "        runningTotal += weight%d;\n"
                            "    }\n"
                            "    System.out.println(\"total for %d \" + runningTotal);\n"
                            "    return runningTotal;\n}\n",
                            n, n, n, n, n);
  default: return 0;
  }
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Makes the document, then cuts it at `cursor` line starts and types a
 * prefix there ("runn", "wei", "pri", ...) as an editor would. */
static int bench_language(enum ac_lang lang, int calls, char *doc, char *work, uint64_t *ns) {
  size_t len = 0;
  int lines = 0;
  for (int n = 0; lines < LINES; n++) {
    size_t k = emit_function(lang, n, doc + len, DOC_CAP - len);
    for (size_t i = 0; i < k; i++)
      lines += doc[len + i] == '\n';
    len += k;
  }
  static const char *const prefixes[] = {"runn", "wei", "pr", "comp", "it", "re", "f", ""};
  struct ac_result res;
  unsigned seed = 12345;
  for (int c = 0; c < calls; c++) {
    seed = seed * 1103515245u + 12345u;
    size_t at = (seed >> 8) % len;
    while (at > 0 && doc[at - 1] != '\n')
      at--;
    const char *prefix = prefixes[c % (int)(sizeof prefixes / sizeof prefixes[0])];
    size_t plen = strlen(prefix);
    memcpy(work, doc, at);
    memcpy(work + at, prefix, plen);
    memcpy(work + at + plen, "\n", 1);
    memcpy(work + at + plen + 1, doc + at, len - at);
    size_t wlen = len + plen + 1;
    uint64_t t0 = now_ns();
    int rc = ac_complete_utf16(work, wlen, at + plen, lang, &res); /* ASCII: units = bytes */
    ns[c] = now_ns() - t0;
    if (rc != AC_OK) {
      fprintf(stderr, "autocomplete_bench: %s: %s\n", ac_lang_name(lang), ac_error_text(rc));
      return -1;
    }
  }
  qsort(ns, (size_t)calls, sizeof ns[0], cmp_u64);
  printf("%-11s %6d lines %8zu bytes  p50 %7.1f us  p99 %7.1f us  max %7.1f us\n",
         ac_lang_name(lang), lines, len, ns[calls / 2] / 1e3, ns[calls * 99 / 100] / 1e3,
         ns[calls - 1] / 1e3);
  return 0;
}

int main(int argc, char **argv) {
  int calls = argc > 1 ? atoi(argv[1]) : 400;
  if (calls < 10 || calls > 100000) {
    fprintf(stderr, "usage: autocomplete_bench [calls per language, 10..100000]\n");
    return 2;
  }
  char *doc = malloc(DOC_CAP), *work = malloc(DOC_CAP + 64);
  uint64_t *ns = calloc((size_t)calls, sizeof *ns);
  if (!doc || !work || !ns) {
    fprintf(stderr, "autocomplete_bench: out of memory\n");
    return 1;
  }
  int rc = 0;
  for (int lang = 0; lang < AC_LANG_COUNT && rc == 0; lang++)
    rc = bench_language((enum ac_lang)lang, calls, doc, work, ns);
  free(doc);
  free(work);
  free(ns);
  return rc ? 1 : 0;
}
