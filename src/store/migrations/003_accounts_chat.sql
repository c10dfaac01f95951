-- Facilitator accounts and their sessions, and chat rooms: a room with an
-- owner_id is a facilitator's chat room, open from opens_at to closes_at.
CREATE TABLE accounts (
  id            INTEGER PRIMARY KEY,
  email         TEXT NOT NULL UNIQUE,        -- normalised (trimmed, lower case)
  password_hash TEXT NOT NULL,               -- Argon2id string
  created_at    INTEGER NOT NULL             -- unix milliseconds
);

CREATE TABLE auth_sessions (
  token_hash BLOB PRIMARY KEY,               -- SHA-256 of the cookie's token
  account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  expires_at INTEGER NOT NULL
);
CREATE INDEX auth_sessions_expires_at ON auth_sessions(expires_at);

ALTER TABLE rooms ADD COLUMN owner_id INTEGER REFERENCES accounts(id) ON DELETE CASCADE;
ALTER TABLE rooms ADD COLUMN opens_at INTEGER;
ALTER TABLE rooms ADD COLUMN closes_at INTEGER;
CREATE UNIQUE INDEX rooms_owner_title ON rooms(owner_id, title) WHERE owner_id IS NOT NULL;

CREATE TABLE messages (
  id         INTEGER PRIMARY KEY,            -- increasing: replay and paging go by it
  room_id    TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
  alias      TEXT NOT NULL,
  text       TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX messages_room_id ON messages(room_id, id);

-- Devices the owner removed: they cannot rejoin for the room's life.
CREATE TABLE room_bans (
  room_id     TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
  device_hash BLOB NOT NULL,
  PRIMARY KEY (room_id, device_hash)
);
