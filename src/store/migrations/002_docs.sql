-- Code rooms: every room has a kind, and a code room has a document, kept
-- as the updates that made it and snapshots of its whole text.
--
-- The kinds a room may have are rows of room_kinds, checked by triggers
-- (SQLite cannot change a CHECK constraint without rebuilding the table):
-- a new kind is one line, INSERT INTO room_kinds (kind) VALUES ('chat');
CREATE TABLE room_kinds (
  kind TEXT PRIMARY KEY
);
INSERT INTO room_kinds (kind) VALUES ('drop'), ('code');

ALTER TABLE rooms ADD COLUMN kind TEXT NOT NULL DEFAULT 'drop';

CREATE TRIGGER rooms_kind_on_insert BEFORE INSERT ON rooms
  WHEN NEW.kind NOT IN (SELECT kind FROM room_kinds)
BEGIN
  SELECT RAISE(ABORT, 'unknown room kind');
END;
CREATE TRIGGER rooms_kind_on_update BEFORE UPDATE OF kind ON rooms
  WHEN NEW.kind NOT IN (SELECT kind FROM room_kinds)
BEGIN
  SELECT RAISE(ABORT, 'unknown room kind');
END;

-- One row per accepted update: the document's version after it (1, 2,
-- 3... per room), the editor client that made it, and its CodeMirror
-- ChangeSet in JSON. The unique (room, version) decides which push wins.
CREATE TABLE doc_updates (
  room_id    TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
  version    INTEGER NOT NULL,
  client_id  TEXT NOT NULL,
  changes    TEXT NOT NULL,
  created_at INTEGER NOT NULL,              -- unix milliseconds
  UNIQUE (room_id, version)
);

-- The whole text at a version, so loading a document replays only the
-- updates after its latest snapshot.
CREATE TABLE doc_snapshots (
  room_id    TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
  version    INTEGER NOT NULL,
  text       TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (room_id, version)
);
