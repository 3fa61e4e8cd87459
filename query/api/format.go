package api

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/truyvet/truyvet/query/graph"
)

// Local is Asia/Ho_Chi_Minh (UTC+07:00, no daylight saving): times in answers
// are written in it, as the people reading them live there.
var Local = time.FixedZone("ICT", 7*3600)

// Time is a Unix time written as RFC 3339 in Local time.
type Time int64

// MarshalJSON writes the time as an RFC 3339 string.
func (t Time) MarshalJSON() ([]byte, error) {
	return strconv.AppendQuote(nil, formatTime(int64(t))), nil
}

// UnmarshalJSON reads an RFC 3339 string, so clients in Go can decode answers.
func (t *Time) UnmarshalJSON(b []byte) error {
	s, err := strconv.Unquote(string(b))
	if err != nil {
		return fmt.Errorf("time: %w", err)
	}
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return fmt.Errorf("time: %w", err)
	}
	*t = Time(v.Unix())
	return nil
}

func formatTime(t int64) string { return time.Unix(t, 0).In(Local).Format(time.RFC3339) }

// Tier is a node's tier: 0 for the case, 1, 2, or casual co-presence,
// written "casual".
type Tier int

// TierCasual is casual co-presence (graph.TierCasual).
const TierCasual = Tier(graph.TierCasual)

// String is the tier as the CSV writes it.
func (t Tier) String() string {
	if t == TierCasual {
		return "casual"
	}
	return strconv.Itoa(int(t))
}

// MarshalJSON writes a number, or "casual".
func (t Tier) MarshalJSON() ([]byte, error) {
	if t == TierCasual {
		return []byte(`"casual"`), nil
	}
	return strconv.AppendInt(nil, int64(t), 10), nil
}

// UnmarshalJSON reads a number or "casual".
func (t *Tier) UnmarshalJSON(b []byte) error {
	if string(b) == `"casual"` {
		*t = TierCasual
		return nil
	}
	n, err := strconv.Atoi(string(b))
	if err != nil {
		return fmt.Errorf("tier: %w", err)
	}
	*t = Tier(n)
	return nil
}

// NodeJSON is a person in the graph. Tier is 0 for the case, 1, 2, or
// TierCasual, written "casual". Venues are named for casual co-presence,
// which has no edges to name them.
type NodeJSON struct {
	UserID          uint32   `json:"user_id"`
	Tier            int      `json:"tier"`
	FirstExposure   *Time    `json:"first_exposure"`
	LastExposure    *Time    `json:"last_exposure"`
	ExposureSeconds int64    `json:"exposure_seconds"`
	Channels        []string `json:"channels"`
	ExposedBy       []uint32 `json:"exposed_by"`
	Venues          []uint32 `json:"venues,omitempty"`
	// Declaration sums up the person's health declarations of the window
	// and the 14 days before it; null when there are none (or the
	// deployment keeps none).
	Declaration *DeclarationJSON `json:"declaration"`
}

// EdgeJSON is one episode of contact through one channel.
type EdgeJSON struct {
	From    uint32  `json:"from"`
	To      uint32  `json:"to"`
	Channel string  `json:"channel"`
	VenueID *uint32 `json:"venue_id"`
	// Vehicle names the shared vehicle of a vehicle edge (co-travel).
	Vehicle string `json:"vehicle,omitempty"`
	Start   Time   `json:"start"`
	End     Time   `json:"end"`
	Seconds int64  `json:"seconds"`
}

// SiteJSON is an exposure site.
type SiteJSON struct {
	VenueID uint32 `json:"venue_id"`
	// Name, Kind and Province come from the venue registry; empty for a
	// venue it does not have.
	Name     string `json:"name,omitempty"`
	Kind     string `json:"kind,omitempty"`
	Province string `json:"province,omitempty"`
	Tier     int    `json:"tier"`
	First    Time   `json:"first"`
	Last     Time   `json:"last"`
	Exposed  int    `json:"exposed"`
}

// StayJSON is one of the case's stays: exit_imputed when no record carried
// an exit, so the exit is enter plus the default dwell.
type StayJSON struct {
	VenueID     uint32 `json:"venue_id"`
	Enter       Time   `json:"enter"`
	Exit        Time   `json:"exit"`
	ExitImputed bool   `json:"exit_imputed"`
}

// EncounterJSON is one of the case's Bluetooth encounters.
type EncounterJSON struct {
	PeerID  uint32 `json:"peer_id"`
	Start   Time   `json:"start"`
	End     Time   `json:"end"`
	Seconds int64  `json:"seconds"`
}

// TimelineJSON is the case's own record in the window.
type TimelineJSON struct {
	Stays      []StayJSON      `json:"stays"`
	Encounters []EncounterJSON `json:"encounters"`
}

// StatsJSON describes the work done. CaseStays and CaseEncounters are the
// case's own records in the window: both 0 means the store knows nothing of
// the case then, which is not the same as having no close contacts.
type StatsJSON struct {
	CaseStays      int                `json:"case_stays"`
	CaseEncounters int                `json:"case_encounters"`
	F1             int                `json:"f1"`
	F2             int                `json:"f2"`
	Casual         int                `json:"casual"`
	Edges          int                `json:"edges"`
	CandidatesF1   int                `json:"candidates_f1"`
	CandidatesF2   int                `json:"candidates_f2"`
	BitmapRanges   int                `json:"bitmap_ranges"`
	StaysRead      int                `json:"stays_read"`
	ContactsRead   int                `json:"contacts_read"`
	ElapsedMS      float64            `json:"elapsed_ms"`
	StagesMS       map[string]float64 `json:"stages_ms"`
}

// GraphJSON is the JSON answer of GET /v1/cases/{id}/exposures.
type GraphJSON struct {
	Case       uint32       `json:"case"`
	From       Time         `json:"from"`
	To         Time         `json:"to"`
	Depth      int          `json:"depth"`
	MinMinutes float64      `json:"min_minutes"`
	Definition string       `json:"definition"` // name@version of the contact definition used
	Nodes      []NodeJSON   `json:"nodes"`
	Edges      []EdgeJSON   `json:"edges"`
	Venues     []SiteJSON   `json:"venues"`
	Timeline   TimelineJSON `json:"timeline"`
	Stats      StatsJSON    `json:"stats"`
}

func channelNames(cs []graph.Channel) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.String()
	}
	return out
}

// plainNode is NodeJSON without its methods.
type plainNode NodeJSON

// MarshalJSON writes the tier as a number, or "casual".
func (n NodeJSON) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		plainNode
		Tier Tier `json:"tier"`
	}{plainNode(n), Tier(n.Tier)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (n *NodeJSON) UnmarshalJSON(b []byte) error {
	v := struct {
		*plainNode
		Tier Tier `json:"tier"`
	}{plainNode: (*plainNode)(n)}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	n.Tier = int(v.Tier)
	return nil
}

// NewGraphJSON converts an engine result to its JSON form.
// definition is the name@version the result was computed under.
func NewGraphJSON(res *graph.Result, minutes float64, definition string, elapsed time.Duration) *GraphJSON {
	q := res.Query
	g := &GraphJSON{
		Case: q.Case, From: Time(q.Window.From), To: Time(q.Window.To), Depth: q.Depth, MinMinutes: minutes, Definition: definition,
		Nodes: make([]NodeJSON, 0, len(res.Nodes)), Edges: make([]EdgeJSON, 0, len(res.Edges)),
		Venues: make([]SiteJSON, 0, len(res.Venues)),
	}
	for _, n := range res.Nodes {
		nj := NodeJSON{UserID: n.UserID, Tier: n.Tier, ExposureSeconds: n.ExposureSeconds,
			Channels: channelNames(n.Channels), ExposedBy: n.ExposedBy}
		if nj.ExposedBy == nil {
			nj.ExposedBy = []uint32{}
		}
		if n.Tier > 0 {
			first, last := Time(n.FirstExposure), Time(n.LastExposure)
			nj.FirstExposure, nj.LastExposure = &first, &last
		}
		switch n.Tier {
		case 1:
			g.Stats.F1++
		case 2:
			g.Stats.F2++
		case graph.TierCasual:
			g.Stats.Casual++
			nj.Venues = n.Venues
		}
		g.Nodes = append(g.Nodes, nj)
	}
	for _, e := range res.Edges {
		ej := EdgeJSON{From: e.From, To: e.To, Channel: e.Channel.String(), Vehicle: e.Vehicle, Start: Time(e.Start), End: Time(e.End), Seconds: e.Len()}
		if e.Channel == graph.ChannelVenue {
			v := e.VenueID
			ej.VenueID = &v
		}
		g.Edges = append(g.Edges, ej)
	}
	for _, s := range res.Venues {
		g.Venues = append(g.Venues, SiteJSON{VenueID: s.VenueID, Tier: s.Tier, First: Time(s.First), Last: Time(s.Last), Exposed: s.Exposed})
	}
	g.Timeline = TimelineJSON{Stays: make([]StayJSON, 0, len(res.Timeline.Stays)),
		Encounters: make([]EncounterJSON, 0, len(res.Timeline.Contacts))}
	for _, st := range res.Timeline.Stays {
		g.Timeline.Stays = append(g.Timeline.Stays, StayJSON{VenueID: st.Venue, Enter: Time(st.Start), Exit: Time(st.End), ExitImputed: st.Imputed})
	}
	for _, c := range res.Timeline.Contacts {
		g.Timeline.Encounters = append(g.Timeline.Encounters, EncounterJSON{PeerID: c.Peer, Start: Time(c.Start), End: Time(c.End), Seconds: c.Len()})
	}
	g.Stats.CaseStays, g.Stats.CaseEncounters = len(res.Timeline.Stays), len(res.Timeline.Contacts)
	st := res.Stats
	g.Stats.Edges = len(res.Edges)
	g.Stats.CandidatesF1, g.Stats.CandidatesF2 = st.CandidatesF1, st.CandidatesF2
	g.Stats.BitmapRanges, g.Stats.StaysRead, g.Stats.ContactsRead = st.BitmapRanges, st.StaysRead, st.ContactsRead
	g.Stats.ElapsedMS = float64(elapsed.Microseconds()) / 1000
	g.Stats.StagesMS = make(map[string]float64, len(st.StageNanos))
	for k, v := range st.StageNanos {
		g.Stats.StagesMS[k] = float64(v/1000) / 1000
	}
	return g
}

// CSVHeader is the first row of the contact list.
// last_exposure was appended after venues, so scripts reading columns by
// position keep working.
// symptomatic and onset, from health declarations, came after them.
var CSVHeader = []string{"user_id", "tier", "first_exposure", "exposure_seconds", "exposure_minutes", "channels", "exposed_by", "venues", "last_exposure", "symptomatic", "onset"}

// WriteCSV writes the contact list: one row per F1 and F2 person (the case
// is not listed), then the casual ones (tier "casual"), in the graph's node
// order.
//
// A contact-list result (Query.ContactsOnly) names each node's venues; a full
// graph's venues are read off its edges. decls (nil: none) fills the
// symptomatic and onset columns.
func WriteCSV(w io.Writer, res *graph.Result, decls map[uint32]*DeclarationJSON) error {
	venues := map[uint32][]uint32{}
	for _, e := range res.Edges {
		if e.Channel == graph.ChannelVenue && !slices.Contains(venues[e.To], e.VenueID) {
			venues[e.To] = append(venues[e.To], e.VenueID)
		}
	}
	for _, n := range res.Nodes {
		if len(n.Venues) > 0 {
			venues[n.UserID] = n.Venues
		}
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	join := func(ids []uint32) string {
		parts := make([]string, len(ids))
		for i, id := range ids {
			parts[i] = strconv.FormatUint(uint64(id), 10)
		}
		return strings.Join(parts, ";")
	}
	for _, n := range res.Nodes {
		if n.Tier == 0 {
			continue
		}
		vs := venues[n.UserID]
		slices.Sort(vs)
		row := []string{
			strconv.FormatUint(uint64(n.UserID), 10),
			Tier(n.Tier).String(),
			formatTime(n.FirstExposure),
			strconv.FormatInt(n.ExposureSeconds, 10),
			strconv.FormatFloat(float64(n.ExposureSeconds)/60, 'f', 1, 64),
			strings.Join(channelNames(n.Channels), ";"),
			join(n.ExposedBy),
			join(vs),
			formatTime(n.LastExposure),
			"false", "",
		}
		if d := decls[n.UserID]; d != nil {
			row[9] = strconv.FormatBool(d.Symptomatic)
			if d.Onset != nil {
				row[10] = *d.Onset
			}
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
