package event_test

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/valyala/fastjson"

	"github.com/truyvet/truyvet/schemas/event"
)

var baseDeclaration = []field{
	{"declaration_id", `"d-1"`},
	{"user_id", `1001`},
	{"subject_id", `1002`},
	{"kind", `"entry"`},
	{"declared_at", `"2021-07-15T10:00:00Z"`},
	{"province", `"79"`},
	{"symptoms", `["cough","fever"]`},
	{"onset", `"2021-07-13"`},
	{"travel", `{"vehicle":"vn 123","depart":"2021-07-15T01:00:00Z","arrive":"2021-07-15T03:30:00Z","origin_country":"kr","port_of_entry":"Tân Sơn Nhất"}`},
	{"exposure", `{"contact_with_case":false,"visited_outbreak_area":true}`},
	{"source", `"vhd"`},
}

func decodeDeclaration(t *testing.T, l event.Limits, raw string) (event.Declaration, error) {
	t.Helper()
	v, err := fastjson.Parse(raw)
	require.NoError(t, err, "test record must be JSON: %s", raw)
	rec, err := event.DecodeDeclarationJSON(v)
	if err != nil {
		return rec, err
	}
	return rec, l.ValidateDeclaration(&rec, now)
}

func TestDeclarationHappyPath(t *testing.T) {
	d, err := decodeDeclaration(t, event.DefaultLimits(), record(baseDeclaration, nil))
	require.NoError(t, err)
	onset := time.Date(2021, 7, 13, 0, 0, 0, 0, time.FixedZone("ICT", 7*3600)).Unix()
	require.Equal(t, event.Declaration{
		DeclarationID: "d-1", UserID: 1001, SubjectID: 1002, Kind: event.DeclEntry,
		DeclaredAt: unix(t, "2021-07-15T10:00:00Z"), Province: "79", Symptoms: 3, Onset: onset,
		HasTravel: true, Travel: event.Travel{Vehicle: "VN123", Depart: unix(t, "2021-07-15T01:00:00Z"),
			Arrive: unix(t, "2021-07-15T03:30:00Z"), OriginCountry: "KR", PortOfEntry: "Tân Sơn Nhất"},
		ContactWithCase: event.AnswerNo, VisitedOutbreakArea: event.AnswerYes, Source: "vhd",
	}, d)
	require.True(t, d.Symptomatic())
	require.Equal(t, "2021-07-13", d.OnsetDate())
	require.Equal(t, []string{"fever", "cough"}, d.Symptoms.Names())

	// The encoder writes what the decoder reads back.
	enc := event.AppendDeclarationJSON(nil, &d)
	again, err := decodeDeclaration(t, event.DefaultLimits(), string(enc))
	require.NoError(t, err, "%s", enc)
	require.Equal(t, d, again)

	// subject_id defaults to user_id; travel, exposure, symptoms, onset and source are optional.
	d, err = decodeDeclaration(t, event.DefaultLimits(), record(baseDeclaration, map[string]string{
		"subject_id": absent, "travel": `null`, "exposure": absent, "symptoms": `[]`, "onset": `null`, "source": absent, "kind": `"voluntary"`}))
	require.NoError(t, err)
	require.Equal(t, uint32(1001), d.SubjectID)
	require.False(t, d.HasTravel)
	require.False(t, d.Symptomatic())
	require.Zero(t, d.Onset)
	require.Equal(t, event.DeclVoluntary, d.Kind)
}

func TestDeclarationRejections(t *testing.T) {
	trip := func(over string) string {
		return `{"vehicle":"VN123","depart":"2021-07-15T01:00:00Z",` + over + `}`
	}
	for _, tc := range []struct {
		name   string
		over   map[string]string
		field  string
		reason event.Reason
	}{
		{"declaration_id missing", map[string]string{"declaration_id": absent}, "declaration_id", event.ReasonMissingField},
		{"declaration_id too long", map[string]string{"declaration_id": q(strings.Repeat("x", 129))}, "declaration_id", event.ReasonTooLarge},
		{"user_id zero", map[string]string{"user_id": `0`}, "user_id", event.ReasonInvalidValue},
		{"user_id missing", map[string]string{"user_id": absent}, "user_id", event.ReasonMissingField},
		{"subject_id zero", map[string]string{"subject_id": `0`}, "subject_id", event.ReasonInvalidValue},
		{"subject_id text", map[string]string{"subject_id": `"x"`}, "subject_id", event.ReasonInvalidValue},
		{"kind missing", map[string]string{"kind": absent}, "kind", event.ReasonMissingField},
		{"kind unknown", map[string]string{"kind": `"tourist"`}, "kind", event.ReasonInvalidValue},
		{"kind number", map[string]string{"kind": `1`}, "kind", event.ReasonInvalidValue},
		{"declared_at missing", map[string]string{"declared_at": absent}, "declared_at", event.ReasonMissingField},
		{"declared_at bad", map[string]string{"declared_at": `"yesterday"`}, "declared_at", event.ReasonInvalidTime},
		{"declared_at future", map[string]string{"declared_at": at(6 * time.Minute)}, "declared_at", event.ReasonFutureTime},
		{"declared_at expired", map[string]string{"declared_at": at(-29 * 24 * time.Hour), "onset": absent, "travel": absent}, "declared_at", event.ReasonExpired},
		{"province missing", map[string]string{"province": absent}, "province", event.ReasonMissingField},
		{"province unknown", map[string]string{"province": `"99"`}, "province", event.ReasonInvalidValue},
		{"province number", map[string]string{"province": `79`}, "province", event.ReasonInvalidValue},
		{"symptoms unknown", map[string]string{"symptoms": `["fever","sneezing"]`}, "symptoms", event.ReasonInvalidValue},
		{"symptoms not an array", map[string]string{"symptoms": `"fever"`}, "symptoms", event.ReasonInvalidValue},
		{"symptoms not strings", map[string]string{"symptoms": `[1]`}, "symptoms", event.ReasonInvalidValue},
		{"symptoms too many", map[string]string{"symptoms": `[` + strings.Repeat(`"fever",`, 32) + `"fever"]`}, "symptoms", event.ReasonTooLarge},
		{"onset not a date", map[string]string{"onset": `"2021-07-13T00:00:00Z"`}, "onset", event.ReasonInvalidTime},
		{"onset impossible", map[string]string{"onset": `"2021-02-30"`}, "onset", event.ReasonInvalidTime},
		{"onset after declaring", map[string]string{"onset": `"2021-07-16"`}, "onset", event.ReasonInvalidTime},
		{"onset long before", map[string]string{"onset": `"2021-05-01"`}, "onset", event.ReasonInvalidTime},
		{"onset number", map[string]string{"onset": `20210713`}, "onset", event.ReasonInvalidTime},
		{"travel not an object", map[string]string{"travel": `"VN123"`}, "travel", event.ReasonInvalidValue},
		{"travel depart missing", map[string]string{"travel": `{"vehicle":"VN1","arrive":"2021-07-15T03:30:00Z"}`}, "travel.depart", event.ReasonMissingField},
		{"travel arrive missing", map[string]string{"travel": `{"vehicle":"VN1","depart":"2021-07-15T03:30:00Z"}`}, "travel.arrive", event.ReasonMissingField},
		{"travel arrive before depart", map[string]string{"travel": trip(`"arrive":"2021-07-15T00:59:59Z"`)}, "travel.arrive", event.ReasonInvalidTime},
		{"travel arrive at depart", map[string]string{"travel": trip(`"arrive":"2021-07-15T01:00:00Z"`)}, "travel.arrive", event.ReasonInvalidTime},
		{"travel 48 hours", map[string]string{"travel": `{"depart":"2021-07-13T01:00:00Z","arrive":"2021-07-15T01:00:00Z"}`}, "travel.arrive", event.ReasonInvalidTime},
		{"travel arrive future", map[string]string{"travel": trip(`"arrive":` + at(time.Hour))}, "travel.arrive", event.ReasonFutureTime},
		{"travel depart expired", map[string]string{"travel": `{"depart":` + at(-29*24*time.Hour) + `,"arrive":` + at(-29*24*time.Hour+time.Hour) + `}`}, "travel.depart", event.ReasonExpired},
		{"travel bad time", map[string]string{"travel": trip(`"arrive":"soon"`)}, "travel.arrive", event.ReasonInvalidTime},
		{"travel vehicle odd characters", map[string]string{"travel": `{"vehicle":"VN#1","depart":"2021-07-15T01:00:00Z","arrive":"2021-07-15T02:00:00Z"}`}, "travel.vehicle", event.ReasonInvalidValue},
		{"travel vehicle too long", map[string]string{"travel": `{"vehicle":"` + strings.Repeat("A", 33) + `","depart":"2021-07-15T01:00:00Z","arrive":"2021-07-15T02:00:00Z"}`}, "travel.vehicle", event.ReasonTooLarge},
		{"travel vehicle number", map[string]string{"travel": `{"vehicle":123,"depart":"2021-07-15T01:00:00Z","arrive":"2021-07-15T02:00:00Z"}`}, "travel.vehicle", event.ReasonInvalidValue},
		{"travel vehicle surrogate", map[string]string{"travel": `{"vehicle":"\ud800","depart":"2021-07-15T01:00:00Z","arrive":"2021-07-15T02:00:00Z"}`}, "travel.vehicle", event.ReasonInvalidValue},
		{"travel origin country", map[string]string{"travel": trip(`"arrive":"2021-07-15T02:00:00Z","origin_country":"Korea"`)}, "travel.origin_country", event.ReasonInvalidValue},
		{"travel port too long", map[string]string{"travel": trip(`"arrive":"2021-07-15T02:00:00Z","port_of_entry":"` + strings.Repeat("p", 65) + `"`)}, "travel.port_of_entry", event.ReasonTooLarge},
		{"exposure not an object", map[string]string{"exposure": `true`}, "exposure", event.ReasonInvalidValue},
		{"exposure not a boolean", map[string]string{"exposure": `{"contact_with_case":"yes"}`}, "exposure.contact_with_case", event.ReasonInvalidValue},
		{"exposure visited not a boolean", map[string]string{"exposure": `{"visited_outbreak_area":1}`}, "exposure.visited_outbreak_area", event.ReasonInvalidValue},
		{"source unknown", map[string]string{"source": `"pc-covid"`}, "source", event.ReasonInvalidValue},
		{"source number", map[string]string{"source": `1`}, "source", event.ReasonInvalidValue},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeDeclaration(t, event.DefaultLimits(), record(baseDeclaration, tc.over))
			requireRejected(t, err, tc.field, tc.reason)
		})
	}
}

func TestValidateDeclarationStruct(t *testing.T) {
	l := event.DefaultLimits()
	good := event.Declaration{DeclarationID: "d", UserID: 1, SubjectID: 1, Kind: event.DeclDomestic, DeclaredAt: now.Unix(), Province: "01"}
	require.NoError(t, l.ValidateDeclaration(&good, now))
	for field, edit := range map[string]func(d *event.Declaration){
		"kind":                           func(d *event.Declaration) { d.Kind = 9 },
		"symptoms":                       func(d *event.Declaration) { d.Symptoms = 1 << 12 },
		"onset":                          func(d *event.Declaration) { d.Onset = now.Unix() - 3600 },
		"travel.vehicle":                 func(d *event.Declaration) { d.HasTravel, d.Travel = true, event.Travel{Vehicle: "vn1"} },
		"exposure.contact_with_case":     func(d *event.Declaration) { d.ContactWithCase = 3 },
		"exposure.visited_outbreak_area": func(d *event.Declaration) { d.VisitedOutbreakArea = 3 },
	} {
		d := good
		edit(&d)
		err := l.ValidateDeclaration(&d, now)
		require.Error(t, err, field)
		var ve *event.ValidationError
		require.ErrorAs(t, err, &ve)
		require.Equal(t, field, ve.Field)
	}
	// A zero now skips the clock: a processor re-checks old records.
	old := good
	old.DeclaredAt = now.Add(-60 * 24 * time.Hour).Unix()
	require.NoError(t, l.ValidateDeclaration(&old, time.Time{}))
}

func TestNormalizeVehicle(t *testing.T) {
	require.Equal(t, "VN123", event.NormalizeVehicle(" vn 1\t23 "))
	require.Equal(t, "29B-12345", event.NormalizeVehicle("29b-12345"))
}

func randomDeclarations(rng *rand.Rand, n int) []event.Declaration {
	ids := []string{"d-0123456789abcdef", "tờ khai", strings.Repeat("x", 128), "\x00\"\\"}
	out := make([]event.Declaration, 0, n)
	for range n {
		at := int64(1_600_000_000 + rng.IntN(1_000_000))
		d := event.Declaration{DeclarationID: ids[rng.IntN(len(ids))], UserID: rng.Uint32(), SubjectID: rng.Uint32(),
			Kind: event.DeclKinds[rng.IntN(3)], DeclaredAt: at, Province: "79", Symptoms: event.Symptoms(rng.IntN(512)),
			ContactWithCase: event.Answer(rng.IntN(3)), VisitedOutbreakArea: event.Answer(rng.IntN(3)), Source: "ncovi"}
		if rng.IntN(2) == 0 {
			d.Onset = at - at%86400 - 7*3600
		}
		if rng.IntN(2) == 0 {
			d.HasTravel = true
			d.Travel = event.Travel{Vehicle: "VN" + strings.Repeat("1", rng.IntN(5)), Depart: at - 7200, Arrive: at - 600, OriginCountry: "JP", PortOfEntry: "Nội Bài"}
		}
		out = append(out, d)
	}
	return out
}

func TestDeclarationWireRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{1, 9, 300} {
		ds := randomDeclarations(rng, n)
		var got event.Batch
		msg := event.AppendDeclarationsWire(nil, ds)
		kind, err := event.WireKind(msg)
		require.NoError(t, err)
		require.Equal(t, event.KindDeclaration, kind)
		require.NoError(t, event.DecodeWire(msg, &got))
		require.Equal(t, ds, got.Declarations)
		// Every truncation fails whole.
		for cut := range len(msg) {
			b := event.Batch{Declarations: []event.Declaration{{DeclarationID: "keep"}}}
			require.ErrorIs(t, event.DecodeWire(msg[:cut], &b), event.ErrWire)
			require.Len(t, b.Declarations, 1)
		}
	}
	// A bad travel flag, a kind over a byte.
	bad := event.AppendDeclarationsWire(nil, []event.Declaration{{DeclarationID: "a", UserID: 1, SubjectID: 1, Kind: 1, DeclaredAt: 5}})
	flag := append([]byte(nil), bad...)
	flag[4+7] = 2 // header 3 + count 1, then seven one-byte varints
	var b event.Batch
	require.ErrorIs(t, event.DecodeWire(flag, &b), event.ErrWire)
}

// FuzzDecodeDeclaration decodes arbitrary JSON as a declaration: no panic;
// what it accepts holds the invariants, and survives both encodings.
func FuzzDecodeDeclaration(f *testing.F) {
	f.Add([]byte(record(baseDeclaration, nil)))
	f.Add([]byte(record(baseDeclaration, map[string]string{"travel": `{"vehicle":"\ud800 x","depart":1}`, "exposure": `{"contact_with_case":null}`})))
	f.Add([]byte(`{"declaration_id":1,"user_id":"2","kind":"voluntary","declared_at":"2021-07-15T11:00:00Z","province":"01","symptoms":null}`))
	l := event.DefaultLimits()
	f.Fuzz(func(t *testing.T, data []byte) {
		var p fastjson.Parser
		v, err := p.ParseBytes(data)
		if err != nil {
			return
		}
		d, err := event.DecodeDeclarationJSON(v)
		if err == nil {
			err = l.ValidateDeclaration(&d, now)
		}
		if err != nil {
			requireValidationError(t, err)
			return
		}
		checkID(t, &l, "declaration_id", d.DeclarationID)
		checkStart(t, &l, "declared_at", d.DeclaredAt)
		if d.UserID == 0 || d.SubjectID == 0 || d.Kind.String() == "unknown" {
			t.Fatalf("accepted %+v", d)
		}
		if d.HasTravel && (d.Travel.Arrive <= d.Travel.Depart || d.Travel.Arrive-d.Travel.Depart >= int64(event.MaxTrip/time.Second) ||
			d.Travel.Vehicle != event.NormalizeVehicle(d.Travel.Vehicle)) {
			t.Fatalf("accepted trip %+v", d.Travel)
		}
		enc := event.AppendDeclarationJSON(nil, &d)
		pv, err := fastjson.ParseBytes(enc)
		if err != nil {
			t.Fatalf("encoder wrote invalid JSON %s: %v", enc, err)
		}
		again, err := event.DecodeDeclarationJSON(pv)
		if err != nil || again != d {
			t.Fatalf("JSON round trip of %+v through %s: got %+v, %v", d, enc, again, err)
		}
		var b event.Batch
		if err := event.DecodeWire(event.AppendDeclarationsWire(nil, []event.Declaration{d}), &b); err != nil || b.Declarations[0] != d {
			t.Fatalf("wire round trip of %+v: %+v, %v", d, b.Declarations, err)
		}
	})
}
