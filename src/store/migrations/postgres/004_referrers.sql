-- Visits per referrer per day (PrivyDrop's POST /api/set_track), kept 30 days.
CREATE TABLE referrers (
  day    TEXT NOT NULL,                 -- YYYY-MM-DD, UTC
  ref    TEXT NOT NULL,
  visits BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (day, ref)
);
