-- Code rooms: every room has a kind, and a code room has a document, kept
-- as the updates that made it and snapshots of its whole text.
--
-- The kinds a room may have are rows of room_kinds, as in SQLite; here a
-- foreign key does what SQLite's triggers do (refuse an unknown kind), and
-- a new kind is still one line, INSERT INTO room_kinds (kind) VALUES ('chat');
CREATE TABLE room_kinds (
  kind TEXT PRIMARY KEY
);
INSERT INTO room_kinds (kind) VALUES ('drop'), ('code');

ALTER TABLE rooms ADD COLUMN kind TEXT NOT NULL DEFAULT 'drop' REFERENCES room_kinds(kind);

-- One row per accepted update: the document's version after it (1, 2,
-- 3... per room), the editor client that made it, and its CodeMirror
-- ChangeSet in JSON. The unique (room, version) decides which push wins,
-- also between several tandems serving one room.
CREATE TABLE doc_updates (
  room_id    TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
  version    BIGINT NOT NULL,
  client_id  TEXT NOT NULL,
  changes    TEXT NOT NULL,
  created_at BIGINT NOT NULL,               -- unix milliseconds
  UNIQUE (room_id, version)
);

-- The whole text at a version, so loading a document replays only the
-- updates after its latest snapshot.
CREATE TABLE doc_snapshots (
  room_id    TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
  version    BIGINT NOT NULL,
  text       TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (room_id, version)
);
