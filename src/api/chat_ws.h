/* The live side of facilitators' chat rooms on /ws/:room: joining under an
 * alias (refused before opening, after closing, without the unlock token
 * of a password room, or for a removed device), presence, chat messages
 * stored before they are sent, typing, replay after a reconnect, and the
 * timer that closes the room at closes_at. docs/protocol.md has the
 * messages. */
#ifndef TANDEM_CHAT_WS_H
#define TANDEM_CHAT_WS_H

#include <stdint.h>

#include "http/http.h"
#include "store/store.h"

struct app;

/* GET /ws/:room of an owned room: checks the query (device, alias, token,
 * after) and upgrades, or answers 400. */
void chat_ws_join(struct http_req *r, const struct room_row *room);

/* The room's schedule changed: the closing timer of a live room follows. */
void chat_ws_rescheduled(struct app *app, const char *room_id, int64_t closes_at);

/* Tells the live members that a message was deleted (chat.deleted). */
void chat_ws_message_deleted(const char *room_id, int64_t id);

/* Removes the live member with this alias: its device is banned from the
 * room, it gets an error and is disconnected. `done` gets 0,
 * STORE_NOT_FOUND when no live member has the alias, or another negative
 * STORE_* when the ban could not be stored (the member stays); perhaps
 * before this returns. */
void chat_ws_remove(struct app *app, const char *room_id, const char *alias, store_done_cb done,
                    void *ctx);

/* From another instance (through the bus): the room's closes_at moved;
 * its timer here, if it is live here, moves. */
void chat_ws_closes_at_local(const char *room_id, int64_t closes_at);

/* From another instance: the member peer_id of room_id is put out, code
 * "removed" (by its owner; it hears peer.left here) or "replaced" (its
 * device joined again there, which told the room). */
void chat_ws_evict_local(const char *room_id, const char *peer_id, size_t peer_len,
                         const char *code, size_t code_len);

/* Lists the aliases of the members here in Redis again (it came back, or
 * this instance was taken for gone). */
void chat_ws_relist(void);

/* Stops the closing timers (at shutdown, before the loop's last run). */
void chat_ws_stop(void);

#endif
