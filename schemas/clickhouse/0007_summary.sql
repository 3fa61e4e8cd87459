-- truyvet ClickHouse schema, version 7: the summary's counters.
--
-- Counters added as records stream in (package summary), per local day,
-- province ('unknown' for counts without one), metric and key: each
-- addition is a row, and merges sum the rows of one key. Readers sum too
-- (sum(n) ... GROUP BY), so unmerged parts count right. Partitioned by day
-- like the data, and dropped with it by retention.
-- On a cluster, a province's counters live on one shard: a dashboard's read
-- of one province touches one shard, a national one each shard once.
-- shard_key: cityHash64(province)
CREATE TABLE IF NOT EXISTS {db}.summary (
    day UInt32,
    province String,
    metric String,
    key String,
    n Int64
) ENGINE = SummingMergeTree(n)
PARTITION BY day
ORDER BY (province, day, metric, key);
