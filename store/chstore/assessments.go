package chstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/safety"
	"github.com/truyvet/truyvet/schemas/checklist"
	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/venue"
)

var _ safety.AssessmentStore = (*Store)(nil)

// writeAssessments inserts as into the assessments table.
func (s *Store) writeAssessments(ctx context.Context, as []event.Assessment) error {
	n := len(as)
	if n == 0 {
		return nil
	}
	day, ven, ver := make([]uint32, n), make([]uint32, n), make([]uint32, n)
	at := make([]int64, n)
	id, kind, account, answers, level := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	score := make([]uint16, n)
	bytes := 0
	for i := range as {
		a := &as[i]
		js, err := json.Marshal(a.AnswerMap())
		if err != nil {
			return fmt.Errorf("encode answers: %w", err)
		}
		day[i], ven[i], ver[i], at[i] = a.Day, a.VenueID, a.Version, a.SubmittedAt
		id[i], kind[i], account[i], answers[i], level[i] = a.AssessmentID, string(a.Kind), a.Account, string(js), string(a.Level)
		score[i] = a.Tenths
		bytes += 30 + len(a.AssessmentID) + len(a.Kind) + len(a.Account) + len(js) + len(a.Level)
	}
	return s.insert(ctx, "assessments", "day, venue, submitted_at, assessment_id, kind, version, account, answers, score, level", n, bytes,
		day, ven, at, id, kind, ver, account, answers, score, level)
}

const assessmentColumns = "day, venue, submitted_at, assessment_id, kind, version, account, answers, score, level"

// DayAssessments implements safety.AssessmentStore.
func (s *Store) DayAssessments(ctx context.Context, d bucket.Day) ([]event.Assessment, error) {
	return s.readAssessments(ctx, "day assessments", "SELECT DISTINCT "+assessmentColumns+" FROM "+s.db+".assessments WHERE day = ?", uint32(d))
}

// VenueAssessments implements safety.AssessmentStore.
func (s *Store) VenueAssessments(ctx context.Context, venue uint32, from, to bucket.Day) ([]event.Assessment, error) {
	return s.readAssessments(ctx, "venue assessments", "SELECT DISTINCT "+assessmentColumns+" FROM "+s.db+
		".assessments WHERE venue = ? AND day >= ? AND day <= ?", venue, uint32(from), uint32(to))
}

var _ safety.PriorReader = (*Store)(nil)

// VenueDayAssessments implements safety.PriorReader: one query for the
// keys' days and venues (chunked), the pairs not asked for left out, the
// brief columns only (no answers to decode).
func (s *Store) VenueDayAssessments(ctx context.Context, keys []safety.VenueDay) ([]event.Assessment, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	want := make(map[safety.VenueDay]struct{}, len(keys))
	var days, venues []uint32
	for _, k := range keys {
		want[k] = struct{}{}
		days, venues = append(days, uint32(k.Day)), append(venues, k.Venue)
	}
	slices.Sort(days)
	days = slices.Compact(days)
	slices.Sort(venues)
	venues = slices.Compact(venues)
	var out []event.Assessment
	for chunk := range slices.Chunk(venues, usersPerQuery) {
		rows, err := s.conn.Query(ctx, "SELECT DISTINCT day, venue, submitted_at, assessment_id, level FROM "+s.db+
			".assessments WHERE day IN ("+idList(days)+") AND venue IN ("+idList(chunk)+")")
		if err != nil {
			s.m.errors.WithLabelValues("assessments").Inc()
			return nil, unavailable("read prior assessments", err)
		}
		for rows.Next() {
			var a event.Assessment
			var level string
			if err := rows.Scan(&a.Day, &a.VenueID, &a.SubmittedAt, &a.AssessmentID, &level); err != nil {
				_ = rows.Close()
				return nil, unavailable("read prior assessments", err)
			}
			if _, ok := want[safety.VenueDay{Venue: a.VenueID, Day: bucket.Day(a.Day)}]; ok {
				a.Level = checklist.Level(level)
				out = append(out, a)
			}
		}
		err = rows.Err()
		_ = rows.Close()
		if err != nil {
			return nil, unavailable("read prior assessments", err)
		}
	}
	return safety.Order(out), nil
}

func (s *Store) readAssessments(ctx context.Context, op, q string, args ...any) ([]event.Assessment, error) {
	rows, err := s.conn.Query(ctx, q, args...)
	if err != nil {
		s.m.errors.WithLabelValues("assessments").Inc()
		return nil, unavailable("read "+op, err)
	}
	defer func() { _ = rows.Close() }()
	var out []event.Assessment
	for rows.Next() {
		var a event.Assessment
		var kind, answers, level string
		if err := rows.Scan(&a.Day, &a.VenueID, &a.SubmittedAt, &a.AssessmentID, &kind, &a.Version, &a.Account, &answers, &a.Tenths, &level); err != nil {
			return nil, unavailable("read "+op, err)
		}
		var m map[string]bool
		if err := json.Unmarshal([]byte(answers), &m); err != nil {
			return nil, fmt.Errorf("assessment %s of venue %d: answers: %w", a.AssessmentID, a.VenueID, err)
		}
		a.Kind, a.Level, a.Answers = venue.Kind(kind), checklist.Level(level), event.AnswersFrom(m)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("read "+op, err)
	}
	return safety.Order(out), nil
}
