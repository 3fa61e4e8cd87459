-- truyvet ClickHouse schema, version 3: contact definitions.
--
-- Each row is one immutable version of a named definition (JSON, as
-- schemas/definition encodes it). ClickHouse cannot refuse a duplicate key,
-- so two servers adding the same name@version at once both insert; the row
-- added first (then the smaller JSON) is the version, and the other server
-- sees that it lost and takes the next version (see schemas/README.md).
-- added is the Unix time in nanoseconds.
-- On a cluster, every version of a name lives on one shard.
-- shard_key: cityHash64(name)
CREATE TABLE IF NOT EXISTS {db}.definitions (
    name String,
    version UInt32,
    added Int64,
    definition String
) ENGINE = MergeTree
ORDER BY (name, version, added);
