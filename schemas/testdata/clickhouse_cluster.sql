CREATE TABLE IF NOT EXISTS {db}.stays_local ON CLUSTER truyvet_2x2 (
    day UInt32,
    user UInt32,
    enter Int64,
    venue UInt32,
    visit_id String,
    exit Int64,
    source String
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/truyvet_2x2/{shard}/{db}/stays', '{replica}')
PARTITION BY day
ORDER BY (user, enter, venue, visit_id, exit)
SETTINGS index_granularity = 1024;

CREATE TABLE IF NOT EXISTS {db}.stays ON CLUSTER truyvet_2x2 AS {db}.stays_local ENGINE = Distributed(truyvet_2x2, {db}, stays_local, intHash32(user));

CREATE TABLE IF NOT EXISTS {db}.contacts_local ON CLUSTER truyvet_2x2 (
    day UInt32,
    user UInt32,
    start Int64,
    peer UInt32,
    duration UInt32,
    encounter_id String,
    rssi Int16,
    source String
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/truyvet_2x2/{shard}/{db}/contacts', '{replica}')
PARTITION BY day
ORDER BY (user, start, peer, duration, encounter_id)
SETTINGS index_granularity = 1024;

CREATE TABLE IF NOT EXISTS {db}.contacts ON CLUSTER truyvet_2x2 AS {db}.contacts_local ENGINE = Distributed(truyvet_2x2, {db}, contacts_local, intHash32(user));

CREATE TABLE IF NOT EXISTS {db}.bitmaps_local ON CLUSTER truyvet_2x2 (
    day UInt32,
    venue UInt32,
    bucket UInt32,
    users UInt32,
    bitmap String
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/truyvet_2x2/{shard}/{db}/bitmaps', '{replica}')
PARTITION BY day
ORDER BY (venue, bucket);

CREATE TABLE IF NOT EXISTS {db}.bitmaps ON CLUSTER truyvet_2x2 AS {db}.bitmaps_local ENGINE = Distributed(truyvet_2x2, {db}, bitmaps_local, intHash32(venue));

CREATE TABLE IF NOT EXISTS {db}.audit_local ON CLUSTER truyvet_2x2 (
    time Int64,
    entry String
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/truyvet_2x2/{shard}/{db}/audit', '{replica}')
ORDER BY time;

CREATE TABLE IF NOT EXISTS {db}.audit ON CLUSTER truyvet_2x2 AS {db}.audit_local ENGINE = Distributed(truyvet_2x2, {db}, audit_local, rand());

CREATE TABLE IF NOT EXISTS {db}.meta_local ON CLUSTER truyvet_2x2 (
    name String,
    value String
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/truyvet_2x2/{shard}/{db}/meta', '{replica}')
ORDER BY name;

CREATE TABLE IF NOT EXISTS {db}.meta ON CLUSTER truyvet_2x2 AS {db}.meta_local ENGINE = Distributed(truyvet_2x2, {db}, meta_local, cityHash64(name));

CREATE TABLE IF NOT EXISTS {db}.visitors_local ON CLUSTER truyvet_2x2 (
    day UInt32,
    venue UInt32,
    enter Int64,
    user UInt32,
    visit_id String,
    exit Int64
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/truyvet_2x2/{shard}/{db}/visitors', '{replica}')
PARTITION BY day
ORDER BY (venue, enter, user, visit_id, exit)
SETTINGS index_granularity = 1024;

CREATE TABLE IF NOT EXISTS {db}.visitors ON CLUSTER truyvet_2x2 AS {db}.visitors_local ENGINE = Distributed(truyvet_2x2, {db}, visitors_local, intHash32(venue));

INSERT INTO {db}.visitors SELECT day, venue, enter, user, visit_id, exit FROM {db}.stays;

CREATE TABLE IF NOT EXISTS {db}.definitions_local ON CLUSTER truyvet_2x2 (
    name String,
    version UInt32,
    added Int64,
    definition String
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/truyvet_2x2/{shard}/{db}/definitions', '{replica}')
ORDER BY (name, version, added);

CREATE TABLE IF NOT EXISTS {db}.definitions ON CLUSTER truyvet_2x2 AS {db}.definitions_local ENGINE = Distributed(truyvet_2x2, {db}, definitions_local, cityHash64(name));

CREATE TABLE IF NOT EXISTS {db}.declarations_local ON CLUSTER truyvet_2x2 (
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
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/truyvet_2x2/{shard}/{db}/declarations', '{replica}')
PARTITION BY day
ORDER BY (subject, declared_at, declaration_id)
SETTINGS index_granularity = 1024;

CREATE TABLE IF NOT EXISTS {db}.declarations ON CLUSTER truyvet_2x2 AS {db}.declarations_local ENGINE = Distributed(truyvet_2x2, {db}, declarations_local, intHash32(subject));

CREATE TABLE IF NOT EXISTS {db}.declaration_trips_local ON CLUSTER truyvet_2x2 (
    day UInt32,
    vehicle String,
    depart Int64,
    arrive Int64,
    subject UInt32
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/truyvet_2x2/{shard}/{db}/declaration_trips', '{replica}')
PARTITION BY day
ORDER BY (vehicle, depart, subject, arrive)
SETTINGS index_granularity = 1024;

CREATE TABLE IF NOT EXISTS {db}.declaration_trips ON CLUSTER truyvet_2x2 AS {db}.declaration_trips_local ENGINE = Distributed(truyvet_2x2, {db}, declaration_trips_local, cityHash64(vehicle));

CREATE TABLE IF NOT EXISTS {db}.declaration_counts_local ON CLUSTER truyvet_2x2 (
    day UInt32,
    province String,
    kind UInt8,
    symptomatic UInt8,
    ids AggregateFunction(uniqExact, UInt64)
) ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/truyvet_2x2/{shard}/{db}/declaration_counts', '{replica}')
PARTITION BY day
ORDER BY (day, province, kind, symptomatic);

CREATE TABLE IF NOT EXISTS {db}.declaration_counts ON CLUSTER truyvet_2x2 AS {db}.declaration_counts_local ENGINE = Distributed(truyvet_2x2, {db}, declaration_counts_local, cityHash64(province));

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.declaration_counts_mv ON CLUSTER truyvet_2x2 TO {db}.declaration_counts_local AS
SELECT day, province, kind, toUInt8(symptoms != 0) AS symptomatic,
       uniqExactState(cityHash64(subject, declaration_id, declared_at)) AS ids
FROM {db}.declarations_local
GROUP BY day, province, kind, symptomatic;

CREATE TABLE IF NOT EXISTS {db}.assessments_local ON CLUSTER truyvet_2x2 (
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
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/truyvet_2x2/{shard}/{db}/assessments', '{replica}')
PARTITION BY day
ORDER BY (venue, submitted_at, assessment_id)
SETTINGS index_granularity = 1024;

CREATE TABLE IF NOT EXISTS {db}.assessments ON CLUSTER truyvet_2x2 AS {db}.assessments_local ENGINE = Distributed(truyvet_2x2, {db}, assessments_local, intHash32(venue));

CREATE TABLE IF NOT EXISTS {db}.summary_local ON CLUSTER truyvet_2x2 (
    day UInt32,
    province String,
    metric String,
    key String,
    n Int64
) ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/truyvet_2x2/{shard}/{db}/summary', '{replica}', n)
PARTITION BY day
ORDER BY (province, day, metric, key);

CREATE TABLE IF NOT EXISTS {db}.summary ON CLUSTER truyvet_2x2 AS {db}.summary_local ENGINE = Distributed(truyvet_2x2, {db}, summary_local, cityHash64(province));

CREATE TABLE IF NOT EXISTS {db}.stays_weekly_local ON CLUSTER truyvet_2x2 (
    day UInt32,
    user UInt32,
    enter Int64,
    venue UInt32,
    visit_id String,
    exit Int64
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/truyvet_2x2/{shard}/{db}/stays_weekly', '{replica}')
PARTITION BY intDiv(day, 7)
ORDER BY (user, enter, venue, visit_id, exit)
SETTINGS index_granularity = 1024;

CREATE TABLE IF NOT EXISTS {db}.stays_weekly ON CLUSTER truyvet_2x2 AS {db}.stays_weekly_local ENGINE = Distributed(truyvet_2x2, {db}, stays_weekly_local, intHash32(user));

CREATE TABLE IF NOT EXISTS {db}.contacts_weekly_local ON CLUSTER truyvet_2x2 (
    day UInt32,
    user UInt32,
    start Int64,
    peer UInt32,
    duration UInt32,
    rssi Int16
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/truyvet_2x2/{shard}/{db}/contacts_weekly', '{replica}')
PARTITION BY intDiv(day, 7)
ORDER BY (user, start, peer, duration, rssi)
SETTINGS index_granularity = 1024;

CREATE TABLE IF NOT EXISTS {db}.contacts_weekly ON CLUSTER truyvet_2x2 AS {db}.contacts_weekly_local ENGINE = Distributed(truyvet_2x2, {db}, contacts_weekly_local, intHash32(user));

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.stays_weekly_mv ON CLUSTER truyvet_2x2 TO {db}.stays_weekly_local AS
SELECT day, user, enter, venue, visit_id, exit FROM {db}.stays_local;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.contacts_weekly_mv ON CLUSTER truyvet_2x2 TO {db}.contacts_weekly_local AS
SELECT day, user, start, peer, duration, rssi FROM {db}.contacts_local;

INSERT INTO {db}.stays_weekly SELECT day, user, enter, venue, visit_id, exit FROM {db}.stays;

INSERT INTO {db}.contacts_weekly SELECT day, user, start, peer, duration, rssi FROM {db}.contacts;

