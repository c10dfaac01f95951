#include "rooms/peer_info.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ws/ws_codec.h"

static const char *const adjectives[] = {
    "Amber",   "Azure",   "Brave",  "Bright", "Calm",    "Clever", "Coral",  "Cosmic",
    "Crimson", "Curious", "Dapper", "Eager",  "Emerald", "Fancy",  "Gentle", "Golden",
    "Happy",   "Hazel",   "Humble", "Indigo", "Ivory",   "Jade",   "Jolly",  "Keen",
    "Kind",    "Lively",  "Lucky",  "Lunar",  "Mellow",  "Merry",  "Misty",  "Noble",
    "Olive",   "Plucky",  "Polar",  "Quick",  "Quiet",   "Rapid",  "Rosy",   "Ruby",
    "Rustic",  "Sage",    "Sandy",  "Silver", "Sly",     "Snowy",  "Solar",  "Spry",
    "Steady",  "Sunny",   "Swift",  "Teal",   "Tidy",    "Topaz",  "Velvet", "Vivid",
    "Warm",    "Wild",    "Wise",   "Witty",  "Zany",    "Zesty",  "Breezy", "Cheery"};
static const char *const animals[] = {
    "Otter",  "Owl",      "Fox",     "Lynx",    "Panda",   "Koala",  "Heron",   "Badger",
    "Beaver", "Bison",    "Crane",   "Dolphin", "Falcon",  "Ferret", "Finch",   "Gecko",
    "Hare",   "Hedgehog", "Ibis",    "Jaguar",  "Kestrel", "Lemur",  "Llama",   "Magpie",
    "Marten", "Mole",     "Moose",   "Narwhal", "Newt",    "Ocelot", "Orca",    "Osprey",
    "Parrot", "Pelican",  "Penguin", "Puffin",  "Quail",   "Rabbit", "Raven",   "Robin",
    "Salmon", "Seal",     "Shrew",   "Sparrow", "Squid",   "Stork",  "Swan",    "Tapir",
    "Tiger",  "Toucan",   "Turtle",  "Walrus",  "Weasel",  "Whale",  "Wombat",  "Wren",
    "Yak",    "Zebra",    "Alpaca",  "Coyote",  "Dingo",   "Egret",  "Gazelle", "Ibex"};

_Static_assert(sizeof adjectives / sizeof adjectives[0] == 64, "64 adjectives");
_Static_assert(sizeof animals / sizeof animals[0] == 64, "64 animals");

size_t peer_default_name(const char *peer_id, size_t id_len, char *out, size_t outlen) {
  /* FNV-1a of the id picks the words: stable for an id, spread over 4096 names. */
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < id_len; i++) {
    h ^= (uint8_t)peer_id[i];
    h *= 16777619u;
  }
  int n = snprintf(out, outlen, "%s %s", adjectives[h & 63], animals[(h >> 6) & 63]);
  return n < 0 ? 0 : (size_t)n < outlen ? (size_t)n : outlen - 1;
}

static const char *const browsers[] = {"",       "Firefox", "Edge",     "Opera", "Samsung Internet",
                                       "Chrome", "Safari",  "Chromium", "curl",  "Node.js"};
static const char *const systems[] = {"",        "Android", "iPhone",   "iPad",
                                      "Windows", "macOS",   "ChromeOS", "Linux"};

static int has(const char *ua, size_t len, const char *needle) {
  size_t n = strlen(needle);
  for (size_t i = 0; i + n <= len; i++)
    if (strncasecmp(ua + i, needle, n) == 0)
      return 1;
  return 0;
}

struct peer_device peer_device_from_ua(const char *ua, size_t len) {
  struct peer_device d = {0, 0};
  if (!ua)
    return d;
  /* Order matters: Edge and Opera say Chrome too, Chrome says Safari. */
  if (has(ua, len, "Firefox/") || has(ua, len, "FxiOS/"))
    d.browser = 1;
  else if (has(ua, len, "Edg/") || has(ua, len, "EdgiOS/"))
    d.browser = 2;
  else if (has(ua, len, "OPR/"))
    d.browser = 3;
  else if (has(ua, len, "SamsungBrowser/"))
    d.browser = 4;
  else if (has(ua, len, "HeadlessChrome/") || has(ua, len, "Chromium/"))
    d.browser = 7;
  else if (has(ua, len, "Chrome/") || has(ua, len, "CriOS/"))
    d.browser = 5;
  else if (has(ua, len, "Safari/"))
    d.browser = 6;
  else if (has(ua, len, "curl/"))
    d.browser = 8;
  else if (has(ua, len, "node"))
    d.browser = 9;
  if (has(ua, len, "Android"))
    d.os = 1;
  else if (has(ua, len, "iPhone"))
    d.os = 2;
  else if (has(ua, len, "iPad"))
    d.os = 3;
  else if (has(ua, len, "Windows"))
    d.os = 4;
  else if (has(ua, len, "Mac OS X") || has(ua, len, "Macintosh"))
    d.os = 5;
  else if (has(ua, len, "CrOS"))
    d.os = 6;
  else if (has(ua, len, "Linux"))
    d.os = 7;
  return d;
}

size_t peer_device_label(struct peer_device d, char *out, size_t outlen) {
  const char *b = d.browser < sizeof browsers / sizeof browsers[0] ? browsers[d.browser] : "";
  const char *o = d.os < sizeof systems / sizeof systems[0] ? systems[d.os] : "";
  int n;
  if (*b && *o)
    n = snprintf(out, outlen, "%s on %s", b, o);
  else if (*b || *o)
    n = snprintf(out, outlen, "%s", *b ? b : o);
  else
    n = snprintf(out, outlen, "Unknown device");
  return n < 0 ? 0 : (size_t)n < outlen ? (size_t)n : outlen - 1;
}

int peer_name_check(const char *name, size_t len, size_t *start, size_t *trimmed_len) {
  size_t a = 0, b = len;
  while (a < b && (name[a] == ' ' || name[a] == '\t'))
    a++;
  while (b > a && (name[b - 1] == ' ' || name[b - 1] == '\t'))
    b--;
  if (b == a || b - a > PEER_NAME_MAX || !utf8_valid((const uint8_t *)name + a, b - a))
    return -1;
  for (size_t i = a; i < b; i++)
    if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
      return -1;
  *start = a;
  *trimmed_len = b - a;
  return 0;
}
