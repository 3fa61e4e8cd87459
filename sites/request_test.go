package sites_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/sites"
)

func TestDecodeRequest(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	ok := `{"venue_id":5,"from":"2026-12-01T08:00:00+07:00","to":"2026-12-01T10:00:00+07:00","severity":"close","advice":"Cách ly tại nhà","case_id":7}`
	s, err := sites.DecodeRequest([]byte(ok))
	require.NoError(t, err)
	require.NoError(t, s.Validate(now))
	require.Equal(t, uint32(5), s.VenueID)
	require.Equal(t, uint32(7), s.CaseID)
	require.Equal(t, 2*time.Hour, s.To.Sub(s.From))

	for _, c := range []struct{ body, field, reason string }{
		{`[]`, "body", sites.ReasonInvalidValue},
		{`null`, "body", sites.ReasonInvalidValue},
		{`{} {}`, "body", sites.ReasonInvalidValue},
		{`{"venue":5}`, "venue", sites.ReasonUnknownField},
		{`{"":null}`, "body", sites.ReasonUnknownField},
		{`{"from":"2026-12-01T08:00:00Z"}`, "venue_id", sites.ReasonMissingField},
		{`{"venue_id":0}`, "venue_id", sites.ReasonInvalidValue},
		{`{"venue_id":4294967296}`, "venue_id", sites.ReasonInvalidValue},
		{`{"venue_id":"5"}`, "venue_id", sites.ReasonInvalidValue},
		{`{"venue_id":1.5}`, "venue_id", sites.ReasonInvalidValue},
		{`{"venue_id":5,"case_id":-1}`, "case_id", sites.ReasonInvalidValue},
		{`{"venue_id":5,"from":"yesterday"}`, "from", sites.ReasonInvalidValue},
		{`{"venue_id":5,"severity":3}`, "severity", sites.ReasonInvalidValue},
	} {
		_, err := sites.DecodeRequest([]byte(c.body))
		var fe *sites.FieldError
		require.ErrorAs(t, err, &fe, c.body)
		require.Equal(t, c.field, fe.Field, c.body)
		require.Equal(t, c.reason, fe.Reason, c.body)
	}
	for _, c := range []struct{ body, field, reason string }{
		{`{"venue_id":5,"to":"2026-12-01T10:00:00Z","severity":"close","advice":"x"}`, "from", sites.ReasonMissingField},
		{`{"venue_id":5,"from":"2026-12-01T10:00:00Z","to":"2026-12-01T10:00:00Z","severity":"close","advice":"x"}`, "to", sites.ReasonInvalidValue},
		{`{"venue_id":5,"from":"2026-11-01T10:00:00Z","to":"2026-12-01T10:00:00Z","severity":"close","advice":"x"}`, "to", sites.ReasonInvalidValue},
		{`{"venue_id":5,"from":"2026-12-02T10:00:00Z","to":"2026-12-02T11:00:00Z","severity":"close","advice":"x"}`, "from", sites.ReasonInvalidValue},
		{`{"venue_id":5,"from":"2026-12-01T08:00:00Z","to":"2026-12-01T10:00:00Z","advice":"x"}`, "severity", sites.ReasonMissingField},
		{`{"venue_id":5,"from":"2026-12-01T08:00:00Z","to":"2026-12-01T10:00:00Z","severity":"near","advice":"x"}`, "severity", sites.ReasonInvalidValue},
		{`{"venue_id":5,"from":"2026-12-01T08:00:00Z","to":"2026-12-01T10:00:00Z","severity":"casual","advice":"  "}`, "advice", sites.ReasonMissingField},
		{`{"venue_id":5,"from":"2026-12-01T08:00:00Z","to":"2026-12-01T10:00:00Z","severity":"casual","advice":"a\u0000b"}`, "advice", sites.ReasonInvalidValue},
	} {
		s, err := sites.DecodeRequest([]byte(c.body))
		require.NoError(t, err, c.body)
		err = s.Validate(now)
		var fe *sites.FieldError
		require.ErrorAs(t, err, &fe, c.body)
		require.Equal(t, c.field, fe.Field, c.body)
		require.Equal(t, c.reason, fe.Reason, c.body)
	}
}

func FuzzDecodeRequest(f *testing.F) {
	f.Add([]byte(`{"venue_id":5,"from":"2026-12-01T08:00:00+07:00","to":"2026-12-01T10:00:00+07:00","severity":"close","advice":"Cách ly","case_id":7}`))
	f.Add([]byte(`{"venue_id":null}`))
	f.Add([]byte(`{"venue_id":1e3}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := sites.DecodeRequest(b)
		if err != nil {
			var fe *sites.FieldError
			if !errors.As(err, &fe) || fe.Field == "" || fe.Reason == "" {
				t.Fatalf("refusal without field and reason: %v", err)
			}
			return
		}
		if err := s.Validate(time.Now()); err != nil {
			var fe *sites.FieldError
			if !errors.As(err, &fe) || fe.Field == "" || fe.Reason == "" {
				t.Fatalf("refusal without field and reason: %v", err)
			}
		}
	})
}
