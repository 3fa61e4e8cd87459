package chstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/truyvet/truyvet/schemas"
)

// On a cluster (Options.Cluster), each table is a Distributed table over
// ReplicatedMergeTree-family tables NAME_local (schemas.ClusterStatements),
// and every statement that changes the schema runs ON CLUSTER: ClickHouse
// queues it in ZooKeeper and every server runs the queue in order, a server
// that is down when it returns. The store waits for the servers that are up:
// a stopped replica does not stall migrations, retention or startup.

// ClickHouse error code the cluster code tells apart.
const codeTimeoutExceeded = 159

// ErrClusterDDL is returned when an ON CLUSTER statement did not reach a
// live replica of every shard.
var ErrClusterDDL = errors.New("ON CLUSTER statement did not reach every shard")

// clusterSettings are the settings of every query on a cluster: an insert
// returns once a replica of each shard it touches holds its rows (and the
// replicas then copy them); and no insert is deduplicated by its blocks'
// checksums, as replicated tables otherwise do. truyvet's writes are
// idempotent by construction (ids and replacing merges, unions, uniqExact
// states), as on one server, where MergeTree does not deduplicate; block
// deduplication would instead drop legitimately identical blocks (two equal
// summary additions) and, on 18.16, skip the materialised views of an insert
// one of whose partition parts was a replay (a day's declaration counts).
//
// A read skips a replica that is behind its peer (replicaDelaySeconds): one
// that returns after being down, or is new, serves reads from the moment it
// answers while it fetches what its peer took meanwhile, and in_order sends
// reads to it first; ClickHouse skips a replica only when the oldest insert
// it has not fetched is at least max_replica_delay_for_distributed_queries
// old (300 s by default), and reads fall back to a lagging replica when every
// replica of a shard lags.
func clusterSettings() clickhouse.Settings {
	return clickhouse.Settings{"insert_distributed_sync": 1, "insert_deduplicate": 0,
		"max_replica_delay_for_distributed_queries": replicaDelaySeconds, "fallback_to_stale_replicas_for_distributed_queries": 1}
}

// replicaDelaySeconds is how far behind (whole seconds, from the oldest
// insert it has not fetched) a replica may be and still serve reads: 1
// lets only a replica with nothing pending but the last second's inserts.
const replicaDelaySeconds = 1

// checkLoadBalancing warns unless the server's profile sends reads and
// writes to the first live replica of each shard (load_balancing =
// in_order, with the local replica first): with another choice a read may
// go to a replica that has not yet copied a write just made. It is a profile
// setting because 18.16's protocol takes only numeric settings from clients.
func (s *Store) checkLoadBalancing(ctx context.Context) error {
	var v string
	if err := s.conn.QueryRow(ctx, "SELECT value FROM system.settings WHERE name = 'load_balancing'").Scan(&v); err != nil {
		return unavailable("read load_balancing", err)
	}
	if v != "in_order" {
		s.log.Warn("load_balancing is not in_order in the server's profile: reads right after writes may miss them until replicas catch up",
			"load_balancing", v, "cluster", s.cluster)
	}
	return nil
}

// table is the name of table's stored part: the table itself on one server,
// its local replicated part on a cluster.
func (s *Store) table(name string) string {
	if s.cluster != "" {
		return name + schemas.LocalSuffix
	}
	return name
}

// statements returns what the store runs for a migration.
func (s *Store) statements(m schemas.Migration) ([]string, error) {
	if s.cluster == "" {
		return m.Statements, nil
	}
	return m.OnCluster(s.cluster)
}

// host is one server of the cluster.
type host struct {
	addr  string
	shard uint32
}

// clusterHosts lists the cluster's servers (system.clusters) and which of
// them answer a connection now.
func (s *Store) clusterHosts(ctx context.Context) (all []host, live map[string]bool, err error) {
	rows, err := s.conn.Query(ctx, "SELECT host_name, port, shard_num FROM system.clusters WHERE cluster = ?", s.cluster)
	if err != nil {
		return nil, nil, unavailable("read system.clusters", err)
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		var (
			name  string
			port  uint16
			shard uint32
		)
		if err := rows.Scan(&name, &port, &shard); err != nil {
			return nil, nil, err
		}
		all = append(all, host{addr: net.JoinHostPort(name, strconv.Itoa(int(port))), shard: shard})
	}
	if err := rows.Err(); err != nil {
		return nil, nil, unavailable("read system.clusters", err)
	}
	if len(all) == 0 {
		return nil, nil, fmt.Errorf("cluster %q: %w", s.cluster, ErrUnknownCluster)
	}
	live = map[string]bool{}
	// The server we are connected to asks each one, with a short connect
	// timeout: a server that is down refuses or times out.
	pctx := clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{
		"connect_timeout": int(max(min(s.dialTimeout, 2*time.Second), time.Second) / time.Second),
	}))
	for _, h := range all {
		var one uint8
		if err := s.conn.QueryRow(pctx, "SELECT dummy FROM remote('"+h.addr+"', system.one)").Scan(&one); err == nil {
			live[h.addr] = true
		} else if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
	}
	return all, live, nil
}

// ddl runs a statement that changes the schema. On a cluster the statement
// carries its ON CLUSTER clause, and ddl reads the servers' answers until
// every live server has answered: an error from one of them is returned as
// the server's exception (its code and text); without error the statement
// stands once a live replica of every shard ran it, and the servers that are
// down run it when they return. Other statements (a migration's INSERT …
// SELECT through the Distributed tables) run as they are.
func (s *Store) ddl(ctx context.Context, st string) error {
	if s.cluster == "" || !strings.Contains(st, " ON CLUSTER "+s.cluster) {
		return s.conn.Exec(ctx, st)
	}
	all, live, err := s.clusterHosts(ctx)
	if err != nil {
		return err
	}
	qctx, cancel := context.WithCancel(ctx)
	defer cancel()
	qctx = clickhouse.Context(qctx, clickhouse.WithSettings(clickhouse.Settings{
		"distributed_ddl_task_timeout": int(s.ddlTimeout / time.Second),
	}))
	rows, err := s.conn.Query(qctx, st)
	if err != nil {
		return err
	}
	done := map[string]bool{}
	var first error
	waiting := func() bool {
		for a := range live {
			if !done[a] {
				return true
			}
		}
		return false
	}
	for waiting() && rows.Next() {
		var (
			name                string
			port                uint16
			status              int64
			msg                 string
			remaining, inFlight uint64
		)
		if err := rows.Scan(&name, &port, &status, &msg, &remaining, &inFlight); err != nil {
			_ = rows.Close()
			return fmt.Errorf("read ON CLUSTER answer: %w", err)
		}
		a := net.JoinHostPort(name, strconv.Itoa(int(port)))
		done[a] = true
		if status != 0 && first == nil {
			first = &clickhouse.Exception{Code: int32(status), Name: "DB::Exception", Message: fmt.Sprintf("on %s: %s", a, msg)}
		}
	}
	finished := !waiting()
	err = rows.Err()
	cancel() // stop waiting for the servers that are down
	_ = rows.Close()
	if first != nil {
		return first
	}
	if ex := (*clickhouse.Exception)(nil); err != nil && !finished && !(errors.As(err, &ex) && ex.Code == codeTimeoutExceeded) {
		return err
	}
	if err != nil && !finished {
		s.log.Warn("ON CLUSTER statement timed out on some servers; they run it from the queue", "err", err)
	}
	shards := map[uint32]bool{}
	for _, h := range all {
		if done[h.addr] {
			shards[h.shard] = true
		}
	}
	for _, h := range all {
		if !shards[h.shard] {
			return fmt.Errorf("shard %d: %w (servers up: %d of %d)", h.shard, ErrClusterDDL, len(live), len(all))
		}
	}
	if down := len(all) - len(live); down > 0 {
		s.log.Warn("ON CLUSTER statement ran on the live servers; the others run it when they return", "down", down, "cluster", s.cluster)
	}
	return nil
}

// ErrUnknownCluster is returned when the server has no cluster of the name
// given (remote_servers in its configuration).
var ErrUnknownCluster = errors.New("the server's remote_servers has no such cluster")

// createdName finds the table or view a CREATE statement makes.
var createdName = regexp.MustCompile(`(?is)^CREATE\s+(?:TABLE|VIEW)\s+(?:IF\s+NOT\s+EXISTS\s+)?[A-Za-z0-9_]+\.([A-Za-z0-9_]+)\s`)

// ddlAll runs statements in order. On a cluster, a run of ON CLUSTER
// statements is queued without waiting for each (every server runs the
// queue in order), and the last of the run waits as ddl does; the tables
// and views the run creates are then checked on every live server, since
// the servers' answers to the statements queued before it were not read.
func (s *Store) ddlAll(ctx context.Context, sts []string) error {
	var queued []string
	for i, st := range sts {
		onCluster := s.cluster != "" && strings.Contains(st, " ON CLUSTER "+s.cluster)
		if onCluster && i+1 < len(sts) && strings.Contains(sts[i+1], " ON CLUSTER "+s.cluster) {
			qctx := clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"distributed_ddl_task_timeout": 0}))
			if err := s.conn.Exec(qctx, st); err != nil {
				return err
			}
			queued = append(queued, st)
			continue
		}
		if err := s.ddl(ctx, st); err != nil {
			return err
		}
		if len(queued) > 0 {
			if err := s.checkCreated(ctx, queued); err != nil {
				return err
			}
			queued = queued[:0]
		}
	}
	return nil
}

// checkCreated checks that every live server of the cluster has the tables
// and views that sts create.
func (s *Store) checkCreated(ctx context.Context, sts []string) error {
	want := map[string]bool{}
	for _, st := range sts {
		if m := createdName.FindStringSubmatch(st); m != nil {
			want[m[1]] = true
		}
	}
	if len(want) == 0 {
		return nil
	}
	_, live, err := s.clusterHosts(ctx)
	if err != nil {
		return err
	}
	for addr := range live {
		rows, err := s.conn.Query(ctx, "SELECT name FROM remote('"+addr+"', system.tables) WHERE database = ?", s.db)
		if err != nil {
			return unavailable("list tables on "+addr, err)
		}
		have := map[string]bool{}
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				_ = rows.Close()
				return err
			}
			have[n] = true
		}
		err = rows.Err()
		_ = rows.Close()
		if err != nil {
			return unavailable("list tables on "+addr, err)
		}
		for n := range want {
			if !have[n] {
				return fmt.Errorf("%s.%s is missing on %s after its ON CLUSTER statement (see that server's log): %w", s.db, n, addr, ErrClusterDDL)
			}
		}
	}
	return nil
}

// onEachShard runs statements that act on a table's local part, in order:
// on one server, there; on a cluster, on the first live replica of each
// shard, over a connection of its own to that server (the cluster's
// configuration names it, and the store must reach it by that name). It is
// how retention drops a day (ALTER TABLE T_local DROP PARTITION): a
// ReplicatedMergeTree replica forwards the drop to its shard's leader, which
// logs it for every replica, one down included when it returns. Not ON
// CLUSTER: there, 18.16 has both replicas of a shard race for a ZooKeeper
// lock so that one runs an ALTER, and now and then both run it; the second
// to finish fails to mark the task executed ("Node exists" on
// …/shards/…/executed), its DDLWorker takes that for an unexpected ZooKeeper
// error and ends, and the server runs no ON CLUSTER statement until it
// restarts (each one then waits on it until its timeout). A shard with no
// live replica fails with ErrClusterDDL.
func (s *Store) onEachShard(ctx context.Context, sts []string) error {
	if len(sts) == 0 {
		return nil
	}
	if s.cluster == "" {
		for _, st := range sts {
			if err := s.conn.Exec(ctx, st); err != nil {
				return err
			}
		}
		return nil
	}
	return s.eachShard(ctx, 0, func(ctx context.Context, conn driver.Conn, where string) error {
		for _, st := range sts {
			if err := conn.Exec(ctx, st); err != nil {
				return fmt.Errorf("%s: %w", where, unavailable(st, err))
			}
		}
		return nil
	})
}

// shardTargets returns the addresses eachShard connects to: the store's own
// on one server; on a cluster the first live replica of each shard, in the
// order of system.clusters.
func (s *Store) shardTargets(ctx context.Context) ([][]string, error) {
	if s.cluster == "" {
		return [][]string{s.addr}, nil
	}
	all, live, err := s.clusterHosts(ctx)
	if err != nil {
		return nil, err
	}
	var order []uint32
	target := map[uint32]string{}
	for _, h := range all {
		if _, seen := target[h.shard]; !seen {
			order = append(order, h.shard)
			target[h.shard] = ""
		}
		if target[h.shard] == "" && live[h.addr] {
			target[h.shard] = h.addr
		}
	}
	out := make([][]string, 0, len(order))
	for _, shard := range order {
		if target[shard] == "" {
			return nil, fmt.Errorf("shard %d: %w (servers up: %d of %d)", shard, ErrClusterDDL, len(live), len(all))
		}
		out = append(out, []string{target[shard]})
	}
	return out, nil
}
