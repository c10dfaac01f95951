/* The web client, embedded in the binary at build time.
 *
 * web/build.mjs bundles web/src with esbuild and writes generated/assets.c,
 * which defines the table below. Bundled scripts and styles carry a content
 * hash in their name and are immutable; index.html is not, so it is
 * revalidated with its ETag. */
#ifndef TANDEM_ASSETS_H
#define TANDEM_ASSETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct asset {
  const char *path;         /* URL path, e.g. "/assets/app-3f2a9c1b.js" */
  const char *content_type; /* e.g. "text/javascript; charset=utf-8" */
  const uint8_t *data;
  size_t len;
  const char *etag;         /* quoted strong ETag, e.g. "\"3f2a9c1b0d4e5f60\"" */
  bool immutable;           /* hashed name: cache for a year */
};

/* The asset at this exact URL path (no query), or NULL. */
const struct asset *assets_find(const char *path, size_t len);

/* index.html: served for "/" and for client routes (/r/:room, /session/:code). */
const struct asset *assets_index(void);

#endif
