-- truyvet ClickHouse schema, version 4: health declarations.
--
-- One row per declaration record, ordered by subject (whom it is about) for
-- the lookups of an exposure graph's nodes and GET /v1/declarations; day is
-- the local day of declared_at. Records of one declaration share (subject,
-- declared_at, declaration_id); a resend is an exact duplicate, which merges
-- and readers fold away. Answers are 0 (not given), 1 (no), 2 (yes).
-- On a cluster, a person's declarations live on one shard (a resend too).
-- shard_key: intHash32(subject)
CREATE TABLE IF NOT EXISTS {db}.declarations (
    day UInt32,
    subject UInt32,
    declared_at Int64,
    declaration_id String,
    user UInt32,
    kind UInt8,
    province String,
    symptoms UInt16,
    onset Int64,
    has_travel UInt8,
    vehicle String,
    depart Int64,
    arrive Int64,
    origin_country String,
    port_of_entry String,
    contact_with_case UInt8,
    visited_outbreak_area UInt8,
    source String
) ENGINE = ReplacingMergeTree
PARTITION BY day
ORDER BY (subject, declared_at, declaration_id)
SETTINGS index_granularity = 1024;

-- Declared trips with a vehicle, ordered by vehicle, for co-travel: who was
-- on one flight, train or coach on one local day (day is that of depart).
-- shard_key: cityHash64(vehicle)
CREATE TABLE IF NOT EXISTS {db}.declaration_trips (
    day UInt32,
    vehicle String,
    depart Int64,
    arrive Int64,
    subject UInt32
) ENGINE = ReplacingMergeTree
PARTITION BY day
ORDER BY (vehicle, depart, subject, arrive)
SETTINGS index_granularity = 1024;

-- Counts per local day, province, kind and symptomatic, kept as
-- declarations are inserted (GET /v1/declarations/summary reads these, not
-- the declarations). Each group holds the set of its declarations' identity
-- hashes, so a resent declaration counts once and replays change nothing.
-- On a cluster, each shard's view counts that shard's declarations; reads
-- merge the sets of every shard.
-- shard_key: cityHash64(province)
CREATE TABLE IF NOT EXISTS {db}.declaration_counts (
    day UInt32,
    province String,
    kind UInt8,
    symptomatic UInt8,
    ids AggregateFunction(uniqExact, UInt64)
) ENGINE = AggregatingMergeTree
PARTITION BY day
ORDER BY (day, province, kind, symptomatic);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.declaration_counts_mv TO {db}.declaration_counts AS
SELECT day, province, kind, toUInt8(symptoms != 0) AS symptomatic,
       uniqExactState(cityHash64(subject, declaration_id, declared_at)) AS ids
FROM {db}.declarations
GROUP BY day, province, kind, symptomatic;
