-- Rooms that devices join with a code or a link, and the items dropped in them.
-- (PostgreSQL's dialect of ../001_rooms_items.sql: times are BIGINT unix
-- milliseconds, hashes BYTEA.)
CREATE TABLE rooms (
  id               TEXT PRIMARY KEY,          -- 22 base62 characters (128 random bits)
  code             TEXT NOT NULL,             -- 6 digits, unique among live rooms
  title            TEXT,
  created_at       BIGINT NOT NULL,           -- unix milliseconds
  expires_at       BIGINT NOT NULL,
  password_hash    TEXT,
  owner_token_hash BYTEA NOT NULL,            -- SHA-256 of the owner token
  language         TEXT
);
CREATE UNIQUE INDEX rooms_code ON rooms(code);
CREATE INDEX rooms_expires_at ON rooms(expires_at);

CREATE TABLE items (
  id           TEXT PRIMARY KEY,
  room_id      TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
  seq          BIGINT NOT NULL,               -- 1, 2, 3... per room
  kind         TEXT NOT NULL CHECK (kind IN ('text', 'file')),
  alias        TEXT,
  text         TEXT,
  file_name    TEXT,
  size         BIGINT NOT NULL DEFAULT 0,
  content_type TEXT,
  sha256       TEXT,
  created_at   BIGINT NOT NULL,
  -- Named: two tandems inserting into one room at once both take the next
  -- seq; the loser sees this constraint and takes the one after.
  CONSTRAINT items_room_seq UNIQUE (room_id, seq)
);
