package chstore

import (
	"cmp"
	"iter"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/query/graph"
)

var _ graph.SinceStore = (*Store)(nil)

// sinceQueryBytes bounds the id lists of one query over per-user windows,
// well under ClickHouse's max_query_size (256 KiB).
const sinceQueryBytes = 160 << 10

// sinceBranchBytes is about what one day's branch costs beside its ids.
const sinceBranchBytes = 160

// sinceQueries are the reads of users' records in table, each user over
// [From, to]: one branch of a UNION ALL per day, `day = d AND user IN (…)`
// with the users whose window that day may reach (from the day a record
// ending in its first second could have begun, bucket.MaxSpan earlier, to
// to's day). ClickHouse partitions by day and keys by user, so each branch
// reads in its day's part the ranges of its own users alone: the second
// tier's sources count contact from their first exposure on, and over a
// 14-day window the widest window's every day for every source reads
// (user, day) ranges no answer uses. Days the weekly copy holds
// (weeklyFrom) are read from it instead, one branch per week, `day >= a AND
// day <= b AND user IN (…)` with the users whose window reaches into
// [a, b]: a user's week is one range in one part. where, when not nil, adds
// a condition every branch's rows must meet for the chunk's widest window.
// Users are sorted by User; each query holds a run of them, as many as fit
// in sinceQueryBytes, so queries come in user order.
func (s *Store) sinceQueries(table, columns, order string, where func(from, to int64) string, users []graph.Since, to int64) iter.Seq[userQuery] {
	return func(yield func(userQuery) bool) {
		last := bucket.DayOf(to)
		weeklyFrom := s.weeklyFrom()
		for len(users) > 0 {
			n, size := 0, 0
			slots := map[sinceSlot]*sinceBranch{}
			from := to
			for ; n < len(users) && (n == 0 || size < sinceQueryBytes); n++ {
				u := users[n]
				from = min(from, u.From)
				for d := bucket.FirstDayReaching(u.From); d <= last; d++ {
					k := sinceSlot{day: d}
					if d >= weeklyFrom {
						k = sinceSlot{weekly: true, day: firstDayOf(weekOf(d))}
					}
					b := slots[k]
					if b == nil {
						b = &sinceBranch{first: d}
						slots[k] = b
						size += sinceBranchBytes
					}
					if b.users.Len() > 0 && b.lastUser == u.User {
						continue // the same week again
					}
					if b.users.Len() > 0 {
						b.users.WriteByte(',')
					}
					before := b.users.Len()
					b.users.WriteString(strconv.FormatUint(uint64(u.User), 10))
					size += b.users.Len() - before
					b.first, b.lastUser = min(b.first, d), u.User
				}
			}
			chunk := users[:n]
			users = users[n:]
			if len(slots) == 0 {
				continue // every window of the chunk is empty
			}
			cond := ""
			if where != nil {
				cond = where(from, to)
			}
			var b strings.Builder
			b.WriteString("SELECT " + columns + " FROM (\n")
			keys := slices.SortedFunc(maps.Keys(slots), func(a, b sinceSlot) int {
				return cmp.Or(cmp.Compare(a.day, b.day), boolCompare(a.weekly, b.weekly))
			})
			for i, k := range keys {
				if i > 0 {
					b.WriteString("\n\tUNION ALL\n")
				}
				br := slots[k]
				if k.weekly {
					b.WriteString("\tSELECT " + columns + " FROM " + s.db + "." + weeklyTables[table] +
						" WHERE day >= " + strconv.FormatUint(uint64(br.first), 10) + " AND day <= " + strconv.FormatUint(uint64(min(last, k.day+daysPerWeek-1)), 10))
				} else {
					b.WriteString("\tSELECT " + columns + " FROM " + s.db + "." + table + " WHERE day = " + strconv.FormatUint(uint64(k.day), 10))
				}
				b.WriteString(" AND user IN (" + br.users.String() + ")" + cond)
			}
			b.WriteString("\n) ORDER BY " + order)
			q := userQuery{sql: b.String(), from: func(user uint32) int64 {
				i, _ := slices.BinarySearchFunc(chunk, user, func(u graph.Since, id uint32) int { return cmp.Compare(u.User, id) })
				if i < len(chunk) && chunk[i].User == user {
					return chunk[i].From
				}
				return to // not asked: nothing of it is kept
			}}
			if !yield(q) {
				return
			}
		}
	}
}

// sinceSlot is a branch of a since query: a day of the day table, or a
// week (by its first day) of the weekly copy.
type sinceSlot struct {
	day    bucket.Day
	weekly bool
}

// sinceBranch is what a branch asks: its users, and the first day any of
// them needs.
type sinceBranch struct {
	users    strings.Builder
	lastUser uint32
	first    bucket.Day
}

func boolCompare(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}
