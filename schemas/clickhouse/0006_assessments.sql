-- truyvet ClickHouse schema, version 6: the Safety Map's daily self-checks.
--
-- One row per assessment filed (a venue's history), one partition per local
-- day assessed like the other data tables, so retention drops them whole.
-- The one that counts for a (venue, day) is the row with the greatest
-- (submitted_at, assessment_id); readers pick it. Replays are exact
-- duplicates, which merges and readers fold away. answers is a JSON object
-- of item id to met; score is in tenths of a percent.
-- shard_key: intHash32(venue)
CREATE TABLE IF NOT EXISTS {db}.assessments (
    day UInt32,
    venue UInt32,
    submitted_at Int64,
    assessment_id String,
    kind String,
    version UInt32,
    account String,
    answers String,
    score UInt16,
    level String
) ENGINE = ReplacingMergeTree
PARTITION BY day
ORDER BY (venue, submitted_at, assessment_id)
SETTINGS index_granularity = 1024;
