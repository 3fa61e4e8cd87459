-- truyvet ClickHouse schema, version 1. Runs on ClickHouse 18.16 (Debian's
-- package) and current releases: no TTL, no codecs, no bitmap functions, no
-- DateTime64. {db} is the database (--clickhouse-database). Days are local
-- day numbers (Asia/Ho_Chi_Minh, days since 1970-01-01), one partition each,
-- so retention drops whole partitions.

-- Stays, one row per visit record, ordered for per-user lookups. A fine
-- index granularity (1024 rows, a few hundred users) lets lookups of a few
-- thousand candidates skip most of a day. Records of
-- one stay share (user, enter, venue, visit_id); readers take the largest
-- exit. Replays are exact duplicates, which merges fold away.
-- On a cluster, a user's stays live on one shard (per-user reads).
-- shard_key: intHash32(user)
CREATE TABLE IF NOT EXISTS {db}.stays (
    day UInt32,
    user UInt32,
    enter Int64,
    venue UInt32,
    visit_id String,
    exit Int64,
    source String
) ENGINE = ReplacingMergeTree
PARTITION BY day
ORDER BY (user, enter, venue, visit_id, exit)
SETTINGS index_granularity = 1024;

-- Encounters, both directions (user is either phone's side), ordered for
-- per-user lookups.
-- On a cluster, each direction lives on its user's shard (per-user reads).
-- shard_key: intHash32(user)
CREATE TABLE IF NOT EXISTS {db}.contacts (
    day UInt32,
    user UInt32,
    start Int64,
    peer UInt32,
    duration UInt32,
    encounter_id String,
    rssi Int16,
    source String
) ENGINE = ReplacingMergeTree
PARTITION BY day
ORDER BY (user, start, peer, duration, encounter_id)
SETTINGS index_granularity = 1024;

-- Co-location bitmaps: for each (venue, bucket), portable 32-bit roaring
-- bitmaps of the users present. Each writer adds one row per key per batch;
-- the set for a key is the OR of its rows (see schemas/README.md).
-- On a cluster, a venue's bitmaps live on one shard (per-venue reads).
-- shard_key: intHash32(venue)
CREATE TABLE IF NOT EXISTS {db}.bitmaps (
    day UInt32,
    venue UInt32,
    bucket UInt32,
    users UInt32,
    bitmap String
) ENGINE = MergeTree
PARTITION BY day
ORDER BY (venue, bucket);

-- The audit trail of exposure lookups, outside retention.
-- On a cluster, no read picks rows by key: spread evenly.
-- shard_key: rand()
CREATE TABLE IF NOT EXISTS {db}.audit (
    time Int64,
    entry String
) ENGINE = MergeTree
ORDER BY time;

-- Settings fixed for the store's life (bucket layout).
-- On a cluster, a name's rows live on one shard.
-- shard_key: cityHash64(name)
CREATE TABLE IF NOT EXISTS {db}.meta (
    name String,
    value String
) ENGINE = ReplacingMergeTree
ORDER BY name;
