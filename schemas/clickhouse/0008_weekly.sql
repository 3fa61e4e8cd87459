-- truyvet ClickHouse schema, version 8: a person's records by week.
--
-- The stays and encounters again, with the columns a person's reads use,
-- partitioned by week (intDiv(day, 7): days 7w to 7w + 6) instead of by day.
-- Every read of the graph by person (the case, the F1 members for F2) costs
-- a granule range in every part of every partition of its window: over a
-- 14-day window 3 partitions here against 15 in the day tables (see
-- schemas/README.md, "A person's records by week"). Materialised views fill
-- them from every insert into stays and contacts, so writers are unchanged.
-- Retention drops a week once its first day is past the cutoff, so these
-- tables never hold a record the day tables have dropped; readers take the
-- days of an older, dropped week from the day tables.

-- On a cluster, a user's stays live on one shard, as in stays.
-- shard_key: intHash32(user)
CREATE TABLE IF NOT EXISTS {db}.stays_weekly (
    day UInt32,
    user UInt32,
    enter Int64,
    venue UInt32,
    visit_id String,
    exit Int64
) ENGINE = ReplacingMergeTree
PARTITION BY intDiv(day, 7)
ORDER BY (user, enter, venue, visit_id, exit)
SETTINGS index_granularity = 1024;

-- Encounters by person, both directions as in contacts. Without
-- encounter_id: readers fold equal (peer, interval) rows whatever their id,
-- keeping the strongest RSSI or none if one has none, and rows that also
-- agree on rssi fold here too, which changes no answer.
-- On a cluster, each direction lives on its user's shard, as in contacts.
-- shard_key: intHash32(user)
CREATE TABLE IF NOT EXISTS {db}.contacts_weekly (
    day UInt32,
    user UInt32,
    start Int64,
    peer UInt32,
    duration UInt32,
    rssi Int16
) ENGINE = ReplacingMergeTree
PARTITION BY intDiv(day, 7)
ORDER BY (user, start, peer, duration, rssi)
SETTINGS index_granularity = 1024;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.stays_weekly_mv TO {db}.stays_weekly AS
SELECT day, user, enter, venue, visit_id, exit FROM {db}.stays;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.contacts_weekly_mv TO {db}.contacts_weekly AS
SELECT day, user, start, peer, duration, rssi FROM {db}.contacts;

-- Existing records, for a database written by version 7. Rows inserted
-- between the views and these copies are copied twice, and rerunning after
-- a crash copies again: exact duplicates, which merges and readers fold.
INSERT INTO {db}.stays_weekly SELECT day, user, enter, venue, visit_id, exit FROM {db}.stays;

INSERT INTO {db}.contacts_weekly SELECT day, user, start, peer, duration, rssi FROM {db}.contacts;
