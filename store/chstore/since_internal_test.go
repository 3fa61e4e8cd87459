package chstore

import (
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/query/graph"
)

// TestSinceQueriesReadEachUserOnItsDaysOnly splits many users with windows
// of their own into queries: each fits ClickHouse's default max_query_size,
// the queries come in user order, and each user is asked on exactly the days
// its window may reach (from the day a record ending in From could have
// begun to to's day), once each.
func TestSinceQueriesReadEachUserOnItsDaysOnly(t *testing.T) {
	s := &Store{db: "truyvet", layout: bucket.DefaultLayout()}
	rng := rand.New(rand.NewPCG(2, 3))
	to := int64(1_620_000_000)
	var users []graph.Since
	for u := uint32(1); u <= 40_000; u++ {
		users = append(users, graph.Since{User: 100_000 + u*7, From: to - rng.Int64N(15*24*3600)})
	}
	// The first query: each of its users on its own days, once each.
	branch := regexp.MustCompile(`WHERE day = (\d+) AND user IN \(([\d,]+)\) AND start < `)
	asked := map[uint32]map[bucket.Day]int{}
	for q := range s.sinceQueries("contacts", contactsColumns, contactsOrder, contactsWhere, users, to) {
		require.Less(t, len(q.sql), 256<<10)
		require.True(t, strings.HasPrefix(q.sql, "SELECT "+contactsColumns+" FROM (\n"))
		require.True(t, strings.HasSuffix(q.sql, ") ORDER BY "+contactsOrder))
		for _, m := range branch.FindAllStringSubmatch(q.sql, -1) {
			d, err := strconv.ParseUint(m[1], 10, 32)
			require.NoError(t, err)
			for _, id := range strings.Split(m[2], ",") {
				u, err := strconv.ParseUint(id, 10, 32)
				require.NoError(t, err)
				if asked[uint32(u)] == nil {
					asked[uint32(u)] = map[bucket.Day]int{}
				}
				asked[uint32(u)][bucket.Day(d)]++
			}
		}
		require.Equal(t, users[0].From, q.from(users[0].User))
		break
	}
	require.NotEmpty(t, asked)
	for _, u := range users {
		days, ok := asked[u.User]
		if !ok {
			continue
		}
		want := map[bucket.Day]int{}
		for d := bucket.DayOf(u.From - bucket.MaxSpan); d <= bucket.DayOf(to); d++ {
			want[d] = 1
		}
		require.Equal(t, want, days, "user %d from %d", u.User, u.From)
	}

	// All of them: every user in exactly one query, queries in user order.
	seen := map[uint32]bool{}
	last, queries := uint32(0), 0
	for q := range s.sinceQueries("stays", staysColumns, staysColumns, nil, users, to) {
		queries++
		require.Less(t, len(q.sql), 256<<10)
		require.NotContains(t, q.sql, "start <")
		ids := map[uint32]bool{}
		for _, m := range regexp.MustCompile(`user IN \(([\d,]+)\)`).FindAllStringSubmatch(q.sql, -1) {
			for _, id := range strings.Split(m[1], ",") {
				u, err := strconv.ParseUint(id, 10, 32)
				require.NoError(t, err)
				ids[uint32(u)] = true
			}
		}
		lo := ^uint32(0)
		for u := range ids {
			require.False(t, seen[u], "user %d in two queries", u)
			lo = min(lo, u)
			require.Equal(t, users[(u-100_000)/7-1].From, q.from(u))
		}
		require.Greater(t, lo, last)
		for u := range ids {
			seen[u], last = true, max(last, u)
		}
	}
	require.Len(t, seen, len(users))
	require.Greater(t, queries, 3, "many users, several queries")
}
