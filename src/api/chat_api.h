/* Facilitators' chat rooms over REST: create, reschedule, unlock, history,
 * moderation and transcripts. The live side is in chat_ws.c. */
#ifndef TANDEM_CHAT_API_H
#define TANDEM_CHAT_API_H

#include <jansson.h>
#include <stdbool.h>

#include "http/http.h"
#include "store/store.h"

#define CHAT_UNLOCK_TOKEN_LEN 64 /* hex of an HMAC-SHA-256 */

extern const http_handler chat_patch_handler;      /* PATCH /api/rooms/:room */
extern const http_handler chat_unlock_handler;     /* POST /api/rooms/:room/unlock */
extern const http_handler chat_messages_handler;   /* GET /api/rooms/:room/messages */
extern const http_handler chat_delete_msg_handler; /* DELETE /api/rooms/:room/messages/:id */
extern const http_handler chat_remove_handler;     /* POST /api/rooms/:room/remove */
extern const http_handler chat_transcript_handler; /* GET /api/rooms/:room/transcript */

/* POST /api/rooms with {"kind":"chat", ...}: the body is the caller's. */
void chat_create(struct http_req *r, json_t *in);

/* DELETE /api/rooms/:room of an owned room: only its owner, by cookie. */
void chat_delete(struct http_req *r, const struct room_row *room);

/* The JSON of a chat room: the room's, with kind, schedule and state. */
json_t *chat_room_json(struct http_req *r, const struct room_row *room);

/* {id, alias, text, created_at} */
json_t *chat_message_json(const struct message_row *m);

/* The token POST .../unlock hands out for a password room (64 hex
 * characters and a NUL), and its check (constant time). A new password
 * makes old tokens invalid. */
void chat_unlock_token(const uint8_t key[32], const struct room_row *room,
                       char out[CHAT_UNLOCK_TOKEN_LEN + 1]);
bool chat_unlock_valid(const uint8_t key[32], const struct room_row *room, const char *token,
                       size_t len);

#endif
