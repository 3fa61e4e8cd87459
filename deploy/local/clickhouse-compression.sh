# Shared by up.sh and cluster-up.sh (sourced): the <compression> element that
# replaces @COMPRESSION@ in a server's config.xml. TRUYVET_CLICKHOUSE_COMPRESSION
# is lz4 (the default: ClickHouse's own, no element) or zstd (every part, from
# its first write: about 0.55x the bytes of LZ4 on truyvet's tables, at a
# higher CPU cost to write and to read; deploy/README.md).
compression_xml() {
  case "${TRUYVET_CLICKHOUSE_COMPRESSION:-lz4}" in
    lz4) echo "" ;;
    zstd) echo "<compression><case><min_part_size>0</min_part_size><min_part_size_ratio>0</min_part_size_ratio><method>zstd</method></case></compression>" ;;
    *)
      echo "TRUYVET_CLICKHOUSE_COMPRESSION=${TRUYVET_CLICKHOUSE_COMPRESSION}: want lz4 or zstd" >&2
      return 1
      ;;
  esac
}
