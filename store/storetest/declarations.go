package storetest

import (
	"context"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/query/declapi"
	"github.com/truyvet/truyvet/schemas/event"
)

// Declaration makes a declaration about subject filed by user at t.
func Declaration(id string, user, subject uint32, kind event.DeclKind, t int64, province string, symptoms event.Symptoms) event.Declaration {
	return event.Declaration{DeclarationID: id, UserID: user, SubjectID: subject, Kind: kind, DeclaredAt: t, Province: province,
		Symptoms: symptoms, Source: "ncovi"}
}

func testDeclarations(t *testing.T, open Factory) {
	s := open(t, bucket.DefaultLayout())
	ctx := context.Background()
	t0 := Base + 9*hour
	fever, _ := event.ParseSymptom("fever")
	entry := Declaration("vhd-1", 7, 7, event.DeclEntry, t0, "79", fever)
	entry.Onset = Base - 24*hour
	entry.HasTravel = true
	entry.Travel = event.Travel{Vehicle: "VN123", Depart: t0 - 5*hour, Arrive: t0 - 3*hour, OriginCountry: "KR", PortOfEntry: "Tân Sơn Nhất"}
	entry.ContactWithCase, entry.VisitedOutbreakArea = event.AnswerNo, event.AnswerYes
	family := Declaration("nc-1", 7, 8, event.DeclVoluntary, t0+hour, "79", 0) // a parent declaring for a child
	nextDay := Declaration("nc-2", 8, 8, event.DeclVoluntary, t0+24*hour, "79", fever)
	other := Declaration("nc-3", 9, 9, event.DeclDomestic, t0, "01", 0)
	sameID := Declaration("vhd-1", 9, 9, event.DeclDomestic, t0+2*hour, "01", 0) // another subject's id: another declaration

	write(t, s, event.Batch{Declarations: []event.Declaration{entry, family, other}})
	// A resend (also twice in one batch), late records, and a new one.
	write(t, s, event.Batch{Declarations: []event.Declaration{family, nextDay, nextDay, entry, sameID}})
	write(t, s, event.Batch{Declarations: []event.Declaration{entry}})

	got, err := s.Declarations(ctx, []uint32{9, 8, 7, 100}, Base, Base+48*hour)
	require.NoError(t, err)
	require.Equal(t, []event.Declaration{entry, family, nextDay, other, sameID}, got)

	// The window is on declared_at, both ends included.
	got, err = s.Declarations(ctx, []uint32{8}, t0+hour, t0+hour)
	require.NoError(t, err)
	require.Equal(t, []event.Declaration{family}, got)
	got, err = s.Declarations(ctx, []uint32{8, 7}, t0+hour+1, t0+24*hour-1)
	require.NoError(t, err)
	require.Empty(t, got)

	// Counts: each declaration once, by day, province, kind and symptoms.
	day := bucket.DayOf(t0)
	want := []declapi.Count{
		{Day: day, Province: "01", Kind: event.DeclDomestic, N: 2},
		{Day: day, Province: "79", Kind: event.DeclEntry, Symptomatic: true, N: 1},
		{Day: day, Province: "79", Kind: event.DeclVoluntary, N: 1},
		{Day: day + 1, Province: "79", Kind: event.DeclVoluntary, Symptomatic: true, N: 1},
	}
	require.Equal(t, want, counts(t, s, nil, day-3, day+3))
	require.Equal(t, want[1:], counts(t, s, []string{"79", "48"}, day, day+1))
	require.Equal(t, want[:1], counts(t, s, []string{"01"}, day, day))
	require.Empty(t, counts(t, s, []string{}, day, day+1))
	require.Empty(t, counts(t, s, nil, day+2, day+9))
}

func counts(t *testing.T, s declapi.Store, provinces []string, from, to bucket.Day) []declapi.Count {
	t.Helper()
	cs, err := s.DeclarationCounts(context.Background(), provinces, from, to)
	require.NoError(t, err)
	slices.SortFunc(cs, func(a, b declapi.Count) int {
		switch {
		case a.Day != b.Day:
			return int(a.Day) - int(b.Day)
		case a.Province != b.Province:
			if a.Province < b.Province {
				return -1
			}
			return 1
		case a.Kind != b.Kind:
			return int(a.Kind) - int(b.Kind)
		case a.Symptomatic != b.Symptomatic:
			if b.Symptomatic {
				return -1
			}
			return 1
		}
		return 0
	})
	return cs
}

func testDeclarationRetention(t *testing.T, open Factory) {
	s := open(t, bucket.DefaultLayout())
	ctx := context.Background()
	t0 := Base + 9*hour
	old := Declaration("d-old", 1, 1, event.DeclVoluntary, t0, "79", 1)
	kept := Declaration("d-new", 1, 1, event.DeclVoluntary, t0+24*hour, "79", 1)
	kept.HasTravel = true
	kept.Travel = event.Travel{Vehicle: "SE1", Depart: t0 + 20*hour, Arrive: t0 + 23*hour}
	write(t, s, event.Batch{Declarations: []event.Declaration{old, kept}})
	dropper, ok := s.(interface {
		DropBefore(context.Context, bucket.Day) ([]bucket.Day, error)
	})
	require.True(t, ok, "stores drop days with DropBefore")
	_, err := dropper.DropBefore(ctx, bucket.DayOf(t0)+1)
	require.NoError(t, err)
	got, err := s.Declarations(ctx, []uint32{1}, Base-48*hour, Base+72*hour)
	require.NoError(t, err)
	require.Equal(t, []event.Declaration{kept}, got)
	require.Equal(t, []declapi.Count{{Day: bucket.DayOf(t0) + 1, Province: "79", Kind: event.DeclVoluntary, Symptomatic: true, N: 1}},
		counts(t, s, nil, bucket.DayOf(t0)-1, bucket.DayOf(t0)+1))
	c, err := s.Counts(ctx)
	require.NoError(t, err)
	require.Equal(t, []bucket.Day{bucket.DayOf(t0) + 1}, c.Days)
}
