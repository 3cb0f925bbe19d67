-- Listing the events of one installation (what its own token may read) goes
-- through the index of the integration's events, filtering them: one index
-- less for every event written, the most frequent write of all.
DROP INDEX events_installation;
