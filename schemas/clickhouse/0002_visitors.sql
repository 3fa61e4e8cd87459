-- truyvet ClickHouse schema, version 2: stays in venue order.
--
-- The same visit records as {db}.stays, ordered for per-venue reads: the
-- second tier of an exposure graph reads every stay at its sources' venues,
-- one primary-key range per venue, instead of a bitmap union and then the
-- stays of each candidate (see schemas/README.md). Records of one stay share
-- (venue, enter, user, visit_id); readers take the largest exit.
-- On a cluster, a venue's visitors live on one shard (per-venue reads).
-- shard_key: intHash32(venue)
CREATE TABLE IF NOT EXISTS {db}.visitors (
    day UInt32,
    venue UInt32,
    enter Int64,
    user UInt32,
    visit_id String,
    exit Int64
) ENGINE = ReplacingMergeTree
PARTITION BY day
ORDER BY (venue, enter, user, visit_id, exit)
SETTINGS index_granularity = 1024;

-- Existing stays, for a database written by version 1. Rerunning it after a
-- crash inserts exact duplicates, which merges and readers fold away.
INSERT INTO {db}.visitors SELECT day, venue, enter, user, visit_id, exit FROM {db}.stays;
