/* The editor's messages on /ws/:room for code rooms: doc.push, doc.pull,
 * doc.cursor, doc.language, and the whole-text code_update of simple
 * clients (docs/protocol.md). ws_room.c calls these for members of a
 * room whose kind is "code". */
#ifndef TANDEM_WS_DOC_H
#define TANDEM_WS_DOC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hub/hub.h"
#include "rooms/doc.h"

/* hub_member.doc_flags */
#define WS_DOC_OPEN 1   /* holds a use of the room's document */
#define WS_DOC_COLLAB 2 /* spoke doc.*: a collab client, sent no code_update */

struct app;
struct ws_wait;

/* A member holds a use of its room's document (doc_open_async) from its
 * join, with WS_DOC_OPEN set; ws_doc_leave lets it go. */
void ws_doc_leave(struct app *app, struct hub_member *m);

/* {"version","text","language"} of the member's document, or NULL. */
json_t *ws_doc_state(struct app *app, const struct hub_member *m);
/* The whole-text greeting: {"type":"init","code","language"}. */
void ws_doc_send_init(struct app *app, struct hub_member *m);

/* Handles a doc.* or code_update message; false for any other type. One
 * that waits on the store holds the member's later frames through `w`. */
bool ws_doc_message(conn *c, struct hub_member *m, struct ws_wait *w, const char *type,
                    json_t *msg);

/* Tells every member of the document's room about updates from version
 * `from` to the document's current one: doc.updates to all, and the
 * whole text (code_update) to whole-text members but `except`. */
void ws_doc_broadcast(struct docs *docs, struct doc *doc, int64_t from, json_t *updates,
                      const struct hub_member *except);

/* res->caught_up, updates a catch-up read from the store, to the members:
 * only when alone. With the bus up, the instance that stored them
 * broadcast them to every instance's members already (twice would be once
 * too many). */
void ws_doc_broadcast_caught_up(struct docs *docs, struct doc *doc,
                                const struct doc_push_result *res);

/* A frame another instance broadcast to the room's members (delivered
 * here already): doc.updates and doc.language bring this instance's live
 * document to what that instance stored, without telling anyone again. */
void ws_doc_follow_frame(struct app *app, const char *room, size_t room_len, const uint8_t *frame,
                         size_t frame_len);

#endif
