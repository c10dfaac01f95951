/* Autocomplete: one linear pass over the document, a small table of the
 * identifiers that could complete the prefix, a bounded ranked list.
 *
 * Speed comes from filtering early: with a prefix, only words whose first
 * character matches it (ignoring case) are hashed and counted, so a 10,000
 * line document costs one scan of its bytes and a few hundred table
 * updates. With an empty prefix only the words near the cursor count. */
#include "rooms/autocomplete.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rooms/ac_words.h"

/* Distinct words counted per call; more are ignored (a document would need
 * thousands of distinct words sharing the prefix's first letter). */
#define TABLE_SLOTS 4096u
#define TABLE_MAX_USED 3072u
/* With an empty prefix, only words this close to the cursor (bytes) count. */
#define EMPTY_PREFIX_WINDOW 8192u
/* Longest indentation copied into a snippet. */
#define INDENT_MAX 64
/* Lines looked at to learn the document's indentation unit. */
#define INDENT_PROBE_LINES 2000

/* Match tiers: a case-sensitive prefix beats a case-insensitive one, which
 * beats a subsequence; a line snippet (`def name`) beats them all. */
enum tier { TIER_NONE = 0, TIER_FUZZY = 1, TIER_NOCASE = 2, TIER_EXACT = 3, TIER_LINE = 4 };

struct entry {
  uint32_t off; /* first occurrence in the document */
  uint32_t hash;
  uint32_t count;
  uint32_t last_before; /* line + 1 of the last occurrence before the cursor, 0: none */
  uint32_t first_after; /* line + 1 of the first occurrence after it, 0: none */
  uint16_t len;
  bool claimed; /* already ranked as a keyword or built-in */
};

struct scan {
  const char *code;
  size_t len;
  size_t cursor;
  const struct ac_words *w;
  const char *prefix; /* into code */
  size_t plen;
  size_t pstart;
  unsigned char first_lower;
  size_t window_lo, window_hi;
  uint32_t line;
  uint32_t cursor_line;
  struct entry *slots;
  uint32_t used;
};

struct cand {
  enum ac_kind kind;
  enum tier tier;
  double score;
  const char *word; /* keyword, built-in or identifier text */
  size_t wlen;
  uint32_t uses;
  uint32_t dist;
  const struct ac_snippet *snippet;
  const struct ac_line_snippet *line_snippet;
};

struct ranking {
  struct cand top[AC_RESULTS_MAX];
  int n;
  bool prefix_is_a_word; /* the prefix is itself a complete known word */
};

/* ------------------------------------------------------------ languages */

int ac_lang_from_name(const char *name, size_t len) {
  static const struct {
    const char *alias;
    enum ac_lang lang;
  } aliases[] = {{"py", AC_LANG_PYTHON}, {"js", AC_LANG_JAVASCRIPT}, {"ts", AC_LANG_TYPESCRIPT},
                 {"rs", AC_LANG_RUST},   {"golang", AC_LANG_GO},     {"node", AC_LANG_JAVASCRIPT}};
  for (int i = 0; i < AC_LANG_COUNT; i++)
    if (strlen(ac_languages[i].name) == len && strncasecmp(ac_languages[i].name, name, len) == 0)
      return i;
  for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
    if (strlen(aliases[i].alias) == len && strncasecmp(aliases[i].alias, name, len) == 0)
      return (int)aliases[i].lang;
  return -1;
}

const char *ac_lang_name(enum ac_lang lang) {
  return lang < AC_LANG_COUNT ? ac_languages[lang].name : "unknown";
}

const char *ac_lang_list(void) {
  return "python, javascript, typescript, c, go, rust, java";
}

const char *ac_error_text(int err) {
  switch (err) {
  case AC_OK: return "ok";
  case AC_ERR_TOO_LARGE: return "The code is larger than 1 MiB.";
  case AC_ERR_UTF8: return "The code is not valid UTF-8.";
  case AC_ERR_CURSOR_RANGE: return "The cursor is past the end of the code.";
  case AC_ERR_CURSOR_SPLIT:
    return "The cursor falls inside a character (between a surrogate pair).";
  case AC_ERR_NO_MEMORY: return "Out of memory.";
  case AC_ERR_LANGUAGE:
    return "Unknown language; supported: python, javascript, typescript, c, go, rust, java.";
  default: return "Unknown error.";
  }
}

/* ---------------------------------------------------------------- UTF-16 */

/* Bytes and UTF-16 units of the UTF-8 sequence led by `c`; 0 when `c`
 * cannot lead one. */
static size_t utf8_seq(unsigned char c, size_t *units) {
  *units = 1;
  if (c < 0x80)
    return 1;
  if ((c & 0xE0) == 0xC0)
    return c >= 0xC2 ? 2 : 0;
  if ((c & 0xF0) == 0xE0)
    return 3;
  if ((c & 0xF8) == 0xF0 && c <= 0xF4) {
    *units = 2; /* astral: a surrogate pair */
    return 4;
  }
  return 0;
}

static bool eight_ascii(const char *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return (v & 0x8080808080808080ull) == 0;
}

int ac_utf16_to_byte(const char *code, size_t len, size_t offset16, size_t *byte) {
  size_t i = 0, u = 0;
  while (i < len) {
    if (u == offset16) {
      *byte = i;
      return AC_OK;
    }
    /* Most code is ASCII: skip it eight bytes at a time. */
    if (i + 8 <= len && u + 8 <= offset16 && eight_ascii(code + i)) {
      i += 8, u += 8;
      continue;
    }
    size_t units, n = utf8_seq((unsigned char)code[i], &units);
    if (n == 0 || i + n > len)
      return AC_ERR_UTF8;
    for (size_t k = 1; k < n; k++)
      if (((unsigned char)code[i + k] & 0xC0) != 0x80)
        return AC_ERR_UTF8;
    if (units == 2 && u + 1 == offset16)
      return AC_ERR_CURSOR_SPLIT;
    i += n, u += units;
  }
  if (u == offset16) {
    *byte = len;
    return AC_OK;
  }
  return AC_ERR_CURSOR_RANGE;
}

size_t ac_utf16_length(const char *code, size_t n) {
  size_t u = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)code[i];
    if ((c & 0xC0) != 0x80)
      u += (c & 0xF8) == 0xF0 ? 2 : 1;
  }
  return u;
}

/* ------------------------------------------------------------ characters */

static inline unsigned char lower(unsigned char c) {
  return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

enum { CH_WORD = 1, CH_START = 2, CH_DOLLAR = 4 };

/* Byte classes, one load per byte in the scanner's inner loops: letters,
 * '_' and every byte of a non-ASCII character start and continue words,
 * digits continue them, '$' does both in JavaScript and TypeScript. */
static const uint8_t char_class[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0,
    0, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 0, 0, 0, 0, 3,
    0, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 0, 0, 0, 0, 0,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
};

static inline bool word_start(const struct ac_words *w, unsigned char c) {
  uint8_t k = char_class[c];
  return (k & CH_START) || ((k & CH_DOLLAR) && w->dollar_in_words);
}

static inline bool word_char(const struct ac_words *w, unsigned char c) {
  uint8_t k = char_class[c];
  return (k & CH_WORD) || ((k & CH_DOLLAR) && w->dollar_in_words);
}

/* ------------------------------------------------------------ the table */

static uint32_t hash_word(const char *p, size_t n) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (size_t i = 0; i < n; i++)
    h = (h ^ (unsigned char)p[i]) * 16777619u;
  return h;
}

static struct entry *table_find(struct scan *s, const char *p, size_t n, uint32_t h, bool add) {
  for (uint32_t i = h & (TABLE_SLOTS - 1);; i = (i + 1) & (TABLE_SLOTS - 1)) {
    struct entry *e = &s->slots[i];
    if (e->count == 0) {
      if (!add || s->used >= TABLE_MAX_USED)
        return NULL;
      s->used++;
      e->off = (uint32_t)(p - s->code);
      e->len = (uint16_t)n;
      e->hash = h;
      return e;
    }
    if (e->hash == h && e->len == n && memcmp(s->code + e->off, p, n) == 0)
      return e;
  }
}

/* Counts a word that may complete the prefix. */
static void count_word(struct scan *s, size_t start, size_t n) {
  const char *p = s->code + start;
  struct entry *e = table_find(s, p, n, hash_word(p, n), true);
  if (!e)
    return;
  e->count++;
  if (start < s->cursor)
    e->last_before = s->line + 1;
  else if (!e->first_after)
    e->first_after = s->line + 1;
}

/* A word of the document: most are dropped here, inline, by their first
 * letter (or, with an empty prefix, by their distance from the cursor).
 * The word being typed is not counted: it would otherwise suggest itself. */
static inline void on_word(struct scan *s, size_t start, size_t end) {
  size_t n = end - start;
  if (s->plen) {
    if (n < s->plen || lower((unsigned char)s->code[start]) != s->first_lower)
      return;
  } else if (start < s->window_lo || start > s->window_hi) {
    return;
  }
  if (n > AC_WORD_MAX || (start == s->pstart && s->pstart < s->cursor))
    return;
  count_word(s, start, n);
}

/* ------------------------------------------------------------ tokenizers */

/* Skips to the end of the line (not past the newline). */
static size_t skip_line(struct scan *s, size_t i) {
  const char *nl = memchr(s->code + i, '\n', s->len - i);
  return nl ? (size_t)(nl - s->code) : s->len;
}

/* Skips a quoted literal opened at i; `multiline` literals may span lines
 * (an unterminated one-line literal ends at the newline, so a string being
 * typed does not swallow the rest of the document). */
static size_t skip_quoted(struct scan *s, size_t i, char quote, bool multiline) {
  for (i++; i < s->len; i++) {
    char c = s->code[i];
    if (c == '\\' && i + 1 < s->len) {
      if (s->code[++i] == '\n')
        s->line++;
    } else if (c == quote) {
      return i + 1;
    } else if (c == '\n') {
      if (!multiline)
        return i;
      s->line++;
    }
  }
  return s->len;
}

static size_t skip_until(struct scan *s, size_t i, const char *close, size_t close_len) {
  for (; i < s->len; i++) {
    if (s->code[i] == '\n')
      s->line++;
    else if (s->code[i] == close[0] && i + close_len <= s->len &&
             memcmp(s->code + i, close, close_len) == 0)
      return i + close_len;
  }
  return s->len;
}

/* A block comment opened at i ("/ *"); Rust's nest. */
static size_t skip_block_comment(struct scan *s, size_t i) {
  if (!s->w->nested_comments)
    return skip_until(s, i + 2, "*/", 2);
  int depth = 0;
  while (i < s->len) {
    if (s->code[i] == '/' && i + 1 < s->len && s->code[i + 1] == '*') {
      depth++, i += 2;
    } else if (s->code[i] == '*' && i + 1 < s->len && s->code[i + 1] == '/') {
      i += 2;
      if (--depth == 0)
        return i;
    } else {
      s->line += s->code[i] == '\n';
      i++;
    }
  }
  return s->len;
}

/* Rust's r"…", r#"…"#, br"…" (the word r/br starts at `start`, ends at i);
 * returns where the raw string ends, or 0 when it is not one. */
static size_t skip_rust_raw(struct scan *s, size_t start, size_t i) {
  size_t n = i - start;
  if (!((n == 1 && s->code[start] == 'r') || (n == 2 && memcmp(s->code + start, "br", 2) == 0)))
    return 0;
  size_t hashes = 0;
  while (i + hashes < s->len && s->code[i + hashes] == '#')
    hashes++;
  if (i + hashes >= s->len || s->code[i + hashes] != '"' || hashes > 16)
    return 0;
  char close[18] = "\"";
  memset(close + 1, '#', hashes);
  return skip_until(s, i + hashes + 1, close, hashes + 1);
}

/* Rust: 'a is a lifetime, 'a' and '\n' are characters. */
static size_t skip_rust_quote(struct scan *s, size_t i) {
  if (i + 2 < s->len && s->code[i + 1] != '\\' && s->code[i + 2] != '\'')
    return i + 1; /* a lifetime: its name is read as a word */
  return skip_quoted(s, i, '\'', false);
}

static size_t skip_number(struct scan *s, size_t i) {
  while (i < s->len && (word_char(s->w, (unsigned char)s->code[i]) || s->code[i] == '.'))
    i++;
  return i;
}

/* Python's string prefixes (r, b, f, u and pairs) glued to a quote. */
static bool python_string_prefix(const char *p, size_t n, char next) {
  if (n > 2 || (next != '"' && next != '\''))
    return false;
  for (size_t i = 0; i < n; i++)
    if (!strchr("rRbBfFuU", p[i]))
      return false;
  return true;
}

static void scan_c_family(struct scan *s) {
  const struct ac_words *w = s->w;
  size_t i = 0;
  while (i < s->len) {
    unsigned char c = (unsigned char)s->code[i];
    char next = i + 1 < s->len ? s->code[i + 1] : 0;
    if (c == '\n') {
      s->line++, i++;
    } else if (c == '/' && next == '/') {
      i = skip_line(s, i);
    } else if (c == '/' && next == '*') {
      i = skip_block_comment(s, i);
    } else if (c == '"') {
      i = skip_quoted(s, i, '"', w->rust_literals);
    } else if (c == '\'') {
      i = w->rust_literals ? skip_rust_quote(s, i) : skip_quoted(s, i, '\'', false);
    } else if (c == '`' && w->backtick_strings) {
      i = skip_until(s, i + 1, "`", 1);
    } else if (word_start(w, c)) {
      size_t start = i;
      while (i < s->len && word_char(w, (unsigned char)s->code[i]))
        i++;
      size_t raw = w->rust_literals ? skip_rust_raw(s, start, i) : 0;
      if (raw)
        i = raw;
      else
        on_word(s, start, i);
    } else if (c >= '0' && c <= '9') {
      i = skip_number(s, i);
    } else {
      i++;
    }
  }
}

static void scan_python(struct scan *s) {
  const struct ac_words *w = s->w;
  size_t i = 0;
  while (i < s->len) {
    unsigned char c = (unsigned char)s->code[i];
    if (c == '\n') {
      s->line++, i++;
    } else if (c == '#') {
      i = skip_line(s, i);
    } else if (c == '"' || c == '\'') {
      if (i + 2 < s->len && s->code[i + 1] == (char)c && s->code[i + 2] == (char)c) {
        char close[3] = {(char)c, (char)c, (char)c};
        i = skip_until(s, i + 3, close, 3);
      } else {
        i = skip_quoted(s, i, (char)c, false);
      }
    } else if (word_start(w, c)) {
      size_t start = i;
      while (i < s->len && word_char(w, (unsigned char)s->code[i]))
        i++;
      if (!python_string_prefix(s->code + start, i - start, i < s->len ? s->code[i] : 0))
        on_word(s, start, i);
    } else if (c >= '0' && c <= '9') {
      i = skip_number(s, i);
    } else {
      i++;
    }
  }
}

/* ------------------------------------------------------------- matching */

static enum tier match_tier(const char *prefix, size_t plen, const char *word, size_t wlen) {
  if (plen == 0)
    return TIER_EXACT;
  if (wlen < plen)
    return TIER_NONE;
  if (memcmp(word, prefix, plen) == 0)
    return TIER_EXACT;
  size_t k = 0;
  while (k < plen && lower((unsigned char)word[k]) == lower((unsigned char)prefix[k]))
    k++;
  if (k == plen)
    return TIER_NOCASE;
  /* A subsequence whose first character matches: "gEBI" finds getElementById. */
  if (lower((unsigned char)word[0]) != lower((unsigned char)prefix[0]))
    return TIER_NONE;
  size_t j = 1;
  for (size_t i = 1; i < wlen && j < plen; i++)
    if (lower((unsigned char)word[i]) == lower((unsigned char)prefix[j]))
      j++;
  return j == plen ? TIER_FUZZY : TIER_NONE;
}

/* True when the prefix's characters after the first all fall on the word's
 * boundaries (a capital, or the letter after '_' or a digit): "gEBI" reads
 * getElementById that way, not gerbil. */
static bool fuzzy_on_boundaries(const char *prefix, size_t plen, const char *word, size_t wlen) {
  size_t j = 1;
  for (size_t i = 1; i < wlen && j < plen; i++) {
    unsigned char c = (unsigned char)word[i], before = (unsigned char)word[i - 1];
    bool boundary = (c >= 'A' && c <= 'Z') || before == '_' || (before >= '0' && before <= '9');
    if (boundary && lower(c) == lower((unsigned char)prefix[j]))
      j++;
  }
  return j == plen;
}

static bool same_word(const char *a, size_t alen, const char *b, size_t blen) {
  return alen == blen && memcmp(a, b, alen) == 0;
}

/* Orders candidates: tier, then score, then the shorter and the
 * alphabetically first label, so equal inputs give equal answers. */
static bool ranks_above(const struct cand *a, const struct cand *b) {
  if (a->tier != b->tier)
    return a->tier > b->tier;
  if (a->score != b->score)
    return a->score > b->score;
  if (a->wlen != b->wlen)
    return a->wlen < b->wlen;
  size_t n = a->wlen < b->wlen ? a->wlen : b->wlen;
  return memcmp(a->word, b->word, n) < 0;
}

static void rank(struct ranking *r, const struct cand *c) {
  int pos = r->n;
  while (pos > 0 && ranks_above(c, &r->top[pos - 1]))
    pos--;
  if (pos >= AC_RESULTS_MAX)
    return;
  int last = r->n < AC_RESULTS_MAX ? r->n : AC_RESULTS_MAX - 1;
  memmove(&r->top[pos + 1], &r->top[pos], (size_t)(last - pos) * sizeof r->top[0]);
  r->top[pos] = *c;
  if (r->n < AC_RESULTS_MAX)
    r->n++;
}

static uint32_t entry_distance(const struct scan *s, const struct entry *e) {
  uint32_t d = UINT32_MAX;
  if (e->last_before)
    d = s->cursor_line - (e->last_before - 1);
  if (e->first_after && e->first_after - 1 - s->cursor_line < d)
    d = e->first_after - 1 - s->cursor_line;
  return d;
}

/* The score within a tier, 0..100: what the language expects (`prior`),
 * how often the word is used, how near the cursor, and how much of it the
 * prefix already covers. */
static double score_of(const struct scan *s, double prior, const struct entry *e, size_t wlen) {
  double uses = 0, near = 0;
  if (e && e->count) {
    uses = log2(1.0 + e->count) / 6.0;
    if (uses > 1)
      uses = 1;
    uint32_t d = entry_distance(s, e);
    near = d == UINT32_MAX ? 0 : 1.0 / (1.0 + d / 10.0);
  }
  double covered = wlen ? (double)s->plen / (double)wlen : 0;
  return 40 * prior + 25 * uses + 25 * near + 10 * covered;
}

/* Keywords and built-ins, with what the document says of them. */
static void rank_words(struct scan *s, struct ranking *r, const char *const *words, size_t count,
                       enum ac_kind kind, double prior) {
  for (size_t i = 0; i < count; i++) {
    const char *word = words[i];
    size_t wlen = strlen(word);
    size_t bare = word[wlen - 1] == '!' ? wlen - 1 : wlen; /* a Rust macro's name */
    if (same_word(word, bare, s->prefix, s->plen)) {
      r->prefix_is_a_word = true;
      continue;
    }
    enum tier t = match_tier(s->prefix, s->plen, word, bare);
    if (t == TIER_NONE)
      continue;
    struct entry *e = table_find(s, word, bare, hash_word(word, bare), false);
    if (e)
      e->claimed = true;
    struct cand c = {.kind = kind, .tier = t, .word = word, .wlen = wlen};
    c.uses = e ? e->count : 0;
    c.score = score_of(s, prior, e, bare);
    rank(r, &c);
  }
}

static void rank_identifiers(struct scan *s, struct ranking *r) {
  for (uint32_t i = 0; i < TABLE_SLOTS; i++) {
    const struct entry *e = &s->slots[i];
    if (!e->count || e->claimed)
      continue;
    const char *word = s->code + e->off;
    if (same_word(word, e->len, s->prefix, s->plen)) {
      r->prefix_is_a_word = true;
      continue;
    }
    enum tier t = match_tier(s->prefix, s->plen, word, e->len);
    if (t == TIER_NONE || !word_start(s->w, (unsigned char)word[0]))
      continue;
    struct cand c = {.kind = AC_KIND_IDENTIFIER, .tier = t, .word = word, .wlen = e->len};
    c.uses = e->count;
    c.dist = entry_distance(s, e);
    c.score = score_of(s, 0, e, e->len);
    if (t == TIER_FUZZY && fuzzy_on_boundaries(s->prefix, s->plen, word, e->len))
      c.score += 20;
    rank(r, &c);
  }
}

static void rank_snippets(struct scan *s, struct ranking *r) {
  if (s->plen == 0)
    return; /* snippets are offered for their keyword's prefix */
  for (size_t i = 0; i < s->w->snippet_count; i++) {
    const struct ac_snippet *sn = &s->w->snippets[i];
    size_t tlen = strlen(sn->trigger);
    enum tier t = match_tier(s->prefix, s->plen, sn->trigger, tlen);
    if (t != TIER_EXACT && t != TIER_NOCASE)
      continue;
    /* The whole keyword typed: the snippet is what is wanted next. */
    double prior = same_word(sn->trigger, tlen, s->prefix, s->plen) ? 1.5 : 0.3;
    struct cand c = {.kind = AC_KIND_SNIPPET, .tier = t, .snippet = sn};
    c.word = sn->label;
    c.wlen = strlen(sn->label);
    c.score = score_of(s, prior, NULL, tlen);
    rank(r, &c);
  }
}

/* The line before the prefix is `[modifiers] lead ` and nothing follows the
 * cursor on the line: the name of a new definition is being typed. */
static const struct ac_line_snippet *line_snippet_at(const struct scan *s) {
  if (s->plen == 0 || !word_start(s->w, (unsigned char)s->prefix[0]))
    return NULL;
  for (size_t i = s->cursor; i < s->len && s->code[i] != '\n'; i++)
    if (s->code[i] != ' ' && s->code[i] != '\t' && s->code[i] != '\r')
      return NULL;
  size_t end = s->pstart;
  if (end == 0 || s->code[end - 1] != ' ')
    return NULL;
  while (end > 0 && s->code[end - 1] == ' ')
    end--;
  size_t start = end;
  while (start > 0 && word_char(s->w, (unsigned char)s->code[start - 1]))
    start--;
  if (start > 0 && s->code[start - 1] != ' ' && s->code[start - 1] != '\t' &&
      s->code[start - 1] != '\n')
    return NULL;
  for (size_t i = 0; i < s->w->line_snippet_count; i++) {
    const struct ac_line_snippet *ls = &s->w->line_snippets[i];
    if (same_word(ls->lead, strlen(ls->lead), s->code + start, end - start))
      return ls;
  }
  return NULL;
}

/* -------------------------------------------------------------- output */

/* The leading whitespace of the cursor's line. */
static size_t line_indent(const struct scan *s, char *out) {
  size_t start = s->pstart;
  while (start > 0 && s->code[start - 1] != '\n')
    start--;
  size_t n = 0;
  while (start + n < s->pstart && n < INDENT_MAX &&
         (s->code[start + n] == ' ' || s->code[start + n] == '\t'))
    n++;
  memcpy(out, s->code + start, n);
  out[n] = 0;
  return n;
}

/* The document's indentation unit: the first indented line's (a tab, or 2
 * to 8 spaces), or the language's habit. */
static void indent_unit(const struct scan *s, char *out) {
  size_t i = 0;
  for (int lines = 0; lines < INDENT_PROBE_LINES && i < s->len; lines++) {
    size_t n = 0;
    if (s->code[i] == '\t') {
      strcpy(out, "\t");
      return;
    }
    while (i + n < s->len && s->code[i + n] == ' ')
      n++;
    bool text = i + n < s->len && s->code[i + n] != '\n' && s->code[i + n] != '\r';
    if (text && n >= 2 && n <= 8) {
      memset(out, ' ', n);
      out[n] = 0;
      return;
    }
    const char *nl = memchr(s->code + i, '\n', s->len - i);
    if (!nl)
      break;
    i = (size_t)(nl - s->code) + 1;
  }
  strcpy(out, s->w->indent);
}

/* Appends a template: '\n' continues at the line's indentation, '\t' adds
 * one unit. Stops (truncating) at the buffer's end. */
static void expand(char *out, size_t cap, size_t *n, const char *tpl, const char *indent,
                   const char *unit) {
  for (const char *p = tpl; *p; p++) {
    const char *piece = p;
    size_t len = 1;
    char nl[1 + INDENT_MAX + 1];
    if (*p == '\n') {
      nl[0] = '\n';
      strcpy(nl + 1, indent);
      piece = nl, len = strlen(nl);
    } else if (*p == '\t') {
      piece = unit, len = strlen(unit);
    }
    if (*n + len >= cap)
      break;
    memcpy(out + *n, piece, len);
    *n += len;
  }
  out[*n] = 0;
}

static void copy_word(char *out, size_t cap, const char *word, size_t len) {
  if (len >= cap)
    len = cap - 1;
  memcpy(out, word, len);
  out[len] = 0;
}

static void fill_completion(const struct scan *s, const struct cand *c, const char *indent,
                            const char *unit, struct ac_completion *out) {
  out->kind = c->kind;
  out->score = c->tier * 1000 + c->score;
  size_t n = 0;
  if (c->line_snippet) {
    copy_word(out->label, sizeof out->label, s->prefix, s->plen);
    strncat(out->label, c->line_snippet->label_suffix, sizeof out->label - strlen(out->label) - 1);
    copy_word(out->insert, sizeof out->insert, s->prefix, s->plen);
    n = strlen(out->insert);
    expand(out->insert, sizeof out->insert, &n, c->line_snippet->body, indent, unit);
    snprintf(out->detail, sizeof out->detail, "%s", c->line_snippet->detail);
    return;
  }
  if (c->snippet) {
    copy_word(out->label, sizeof out->label, c->snippet->label, strlen(c->snippet->label));
    expand(out->insert, sizeof out->insert, &n, c->snippet->body, indent, unit);
    snprintf(out->detail, sizeof out->detail, "%s", c->snippet->detail);
    return;
  }
  copy_word(out->label, sizeof out->label, c->word, c->wlen);
  copy_word(out->insert, sizeof out->insert, c->word, c->wlen);
  if (c->kind == AC_KIND_KEYWORD)
    snprintf(out->detail, sizeof out->detail, "keyword");
  else if (c->kind == AC_KIND_BUILTIN)
    snprintf(out->detail, sizeof out->detail, "%s",
             c->word[c->wlen - 1] == '!' ? "macro" : "builtin");
  else
    snprintf(out->detail, sizeof out->detail, "%u use%s in this document", c->uses,
             c->uses == 1 ? "" : "s");
}

/* How sure the first completion is: its match (exact prefix, any case,
 * subsequence), how far it leads the next one, and how much was typed. */
static double confidence_of(const struct scan *s, const struct ranking *r) {
  if (r->n == 0)
    return 0;
  const struct cand *a = &r->top[0];
  if (a->tier == TIER_LINE)
    return 0.9;
  double match = a->tier == TIER_EXACT ? 1.0 : a->tier == TIER_NOCASE ? 0.8 : 0.5;
  double lead = 1.0;
  if (r->n > 1 && r->top[1].tier == a->tier) {
    lead = (a->score - r->top[1].score) / 40.0;
    lead = lead < 0 ? 0 : lead > 1 ? 1 : lead;
  }
  double typed = s->plen / 4.0;
  if (typed > 1)
    typed = 1;
  double conf = match * (0.25 + 0.75 * lead) * (0.4 + 0.6 * typed);
  if (r->prefix_is_a_word)
    conf *= 0.5; /* the word may already be complete */
  if (s->plen == 0 && conf > 0.15)
    conf = 0.15;
  if (conf > 0.99)
    conf = 0.99;
  return round(conf * 1000) / 1000;
}

/* -------------------------------------------------------------- the call */

static uint32_t count_lines(const char *p, size_t n) {
  uint32_t lines = 0;
  const char *end = p + n;
  while ((p = memchr(p, '\n', (size_t)(end - p)))) {
    lines++;
    p++;
  }
  return lines;
}

static int complete_at(const char *code, size_t len, size_t cursor, size_t cursor16,
                       enum ac_lang lang, struct ac_result *out) {
  memset(out, 0, sizeof *out);
  struct scan s = {.code = code, .len = len, .cursor = cursor, .w = &ac_languages[lang]};
  s.pstart = cursor;
  while (s.pstart > 0 && cursor - s.pstart <= AC_WORD_MAX &&
         word_char(s.w, (unsigned char)code[s.pstart - 1]))
    s.pstart--;
  s.prefix = code + s.pstart;
  s.plen = cursor - s.pstart;
  out->from = s.pstart;
  out->to = cursor;
  out->to_utf16 = cursor16;
  out->from_utf16 = cursor16 - ac_utf16_length(s.prefix, s.plen);
  if (s.plen > AC_WORD_MAX || (s.plen && !word_start(s.w, (unsigned char)s.prefix[0])))
    return AC_OK; /* a number, or no word anyone types: nothing to offer */
  copy_word(out->prefix, sizeof out->prefix, s.prefix, s.plen);
  s.first_lower = s.plen ? lower((unsigned char)s.prefix[0]) : 0;
  s.window_lo = cursor > EMPTY_PREFIX_WINDOW ? cursor - EMPTY_PREFIX_WINDOW : 0;
  s.window_hi = cursor + EMPTY_PREFIX_WINDOW;
  s.cursor_line = count_lines(code, cursor);
  s.slots = calloc(TABLE_SLOTS, sizeof *s.slots);
  if (!s.slots)
    return AC_ERR_NO_MEMORY;

  if (s.w->family == AC_FAMILY_PYTHON)
    scan_python(&s);
  else
    scan_c_family(&s);

  struct ranking r = {.n = 0};
  /* After a '.', a member is typed: the language's own words do not fit. */
  bool member = s.pstart > 0 && code[s.pstart - 1] == '.';
  const struct ac_line_snippet *ls = member ? NULL : line_snippet_at(&s);
  if (ls) {
    struct cand c = {.kind = AC_KIND_SNIPPET, .tier = TIER_LINE, .line_snippet = ls};
    c.word = s.prefix, c.wlen = s.plen, c.score = 100;
    rank(&r, &c);
  }
  if (!member) {
    rank_snippets(&s, &r);
    rank_words(&s, &r, s.w->keywords, s.w->keyword_count, AC_KIND_KEYWORD, 0.35);
    rank_words(&s, &r, s.w->builtins, s.w->builtin_count, AC_KIND_BUILTIN, 0.25);
  }
  rank_identifiers(&s, &r);

  char indent[INDENT_MAX + 1], unit[16];
  line_indent(&s, indent);
  indent_unit(&s, unit);
  for (int i = 0; i < r.n; i++)
    fill_completion(&s, &r.top[i], indent, unit, &out->items[i]);
  out->count = r.n;
  out->confidence = confidence_of(&s, &r);
  free(s.slots);
  return AC_OK;
}

int ac_complete(const char *code, size_t len, size_t cursor, enum ac_lang lang,
                struct ac_result *out) {
  if (len > AC_CODE_MAX)
    return AC_ERR_TOO_LARGE;
  if ((unsigned)lang >= AC_LANG_COUNT)
    return AC_ERR_LANGUAGE;
  if (cursor > len)
    return AC_ERR_CURSOR_RANGE;
  if (cursor < len && ((unsigned char)code[cursor] & 0xC0) == 0x80)
    return AC_ERR_CURSOR_SPLIT;
  return complete_at(code, len, cursor, ac_utf16_length(code, cursor), lang, out);
}

int ac_complete_utf16(const char *code, size_t len, size_t cursor16, enum ac_lang lang,
                      struct ac_result *out) {
  if (len > AC_CODE_MAX)
    return AC_ERR_TOO_LARGE;
  if ((unsigned)lang >= AC_LANG_COUNT)
    return AC_ERR_LANGUAGE;
  size_t cursor;
  int rc = ac_utf16_to_byte(code, len, cursor16, &cursor);
  if (rc < 0)
    return rc;
  return complete_at(code, len, cursor, cursor16, lang, out);
}
