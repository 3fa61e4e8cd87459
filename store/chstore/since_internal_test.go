package chstore

import (
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/query/graph"
)

// TestSinceQueriesReadEachUserOnItsDaysOnly splits many users with windows
// of their own into queries: each fits ClickHouse's default max_query_size,
// the queries come in user order, and each user is asked on exactly the days
// its window may reach (from the day a record ending in From could have
// begun to to's day), once each: the days before weeklyFrom in branches of
// the day table, one a day, and the others in branches of the weekly table,
// one a week, which may read a user's week from the first day any user of
// the branch needs.
func TestSinceQueriesReadEachUserOnItsDaysOnly(t *testing.T) {
	to := int64(1_620_000_000)
	retention := 28 * 24 * time.Hour
	now := time.Unix(to, 0).Add(retention - 8*24*time.Hour) // weeklyFrom 8 to 15 days before to
	s := &Store{db: "truyvet", layout: bucket.DefaultLayout(), weekly: newWeeklyState(retention, func() time.Time { return now })}
	from := s.weeklyFrom()
	require.Greater(t, from, bucket.DayOf(to-16*24*3600))
	require.Less(t, from, bucket.DayOf(to))
	rng := rand.New(rand.NewPCG(2, 3))
	var users []graph.Since
	for u := uint32(1); u <= 40_000; u++ {
		users = append(users, graph.Since{User: 100_000 + u*7, From: to - rng.Int64N(15*24*3600)})
	}
	// The first query: each of its users on its own days, once each.
	dayBranch := regexp.MustCompile(`FROM truyvet\.contacts WHERE day = (\d+) AND user IN \(([\d,]+)\) AND start < `)
	weekBranch := regexp.MustCompile(`FROM truyvet\.contacts_weekly WHERE day >= (\d+) AND day <= (\d+) AND user IN \(([\d,]+)\) AND start < `)
	asked := map[uint32]map[bucket.Day]int{}
	ask := func(ids string, days ...bucket.Day) {
		for _, id := range strings.Split(ids, ",") {
			u, err := strconv.ParseUint(id, 10, 32)
			require.NoError(t, err)
			if asked[uint32(u)] == nil {
				asked[uint32(u)] = map[bucket.Day]int{}
			}
			for _, d := range days {
				asked[uint32(u)][d]++
			}
		}
	}
	day := func(s string) bucket.Day {
		d, err := strconv.ParseUint(s, 10, 32)
		require.NoError(t, err)
		return bucket.Day(d)
	}
	weeks := 0
	for q := range s.sinceQueries("contacts", contactsColumns, contactsOrder, contactsWhere, users, to) {
		require.Less(t, len(q.sql), 256<<10)
		require.True(t, strings.HasPrefix(q.sql, "SELECT "+contactsColumns+" FROM (\n"))
		require.True(t, strings.HasSuffix(q.sql, ") ORDER BY "+contactsOrder))
		for _, m := range dayBranch.FindAllStringSubmatch(q.sql, -1) {
			d := day(m[1])
			require.Less(t, d, from, "a day the weekly table holds read from the day table")
			ask(m[2], d)
		}
		for _, m := range weekBranch.FindAllStringSubmatch(q.sql, -1) {
			a, b := day(m[1]), day(m[2])
			require.GreaterOrEqual(t, a, from, "a day the weekly table may have lost read from it")
			require.Equal(t, weekOf(a), weekOf(b), "a branch of two weeks")
			require.LessOrEqual(t, a, b)
			var days []bucket.Day
			for d := a; d <= b; d++ {
				days = append(days, d)
			}
			ask(m[3], days...)
			weeks++
		}
		require.Equal(t, users[0].From, q.from(users[0].User))
		break
	}
	require.NotEmpty(t, asked)
	require.Positive(t, weeks)
	for _, u := range users {
		days, ok := asked[u.User]
		if !ok {
			continue
		}
		first := bucket.DayOf(u.From - bucket.MaxSpan)
		want := map[bucket.Day]int{}
		for d := first; d <= bucket.DayOf(to); d++ {
			want[d] = 1
		}
		for d, n := range days {
			if d < first {
				require.GreaterOrEqual(t, d, from, "user %d asked on day %s, before its window, from the day table", u.User, d)
				require.Equal(t, weekOf(first), weekOf(d), "user %d asked on day %s, a week before its window", u.User, d)
				require.Equal(t, 1, n)
				delete(days, d)
			}
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
