package definition

import (
	"encoding/json"
	"io/fs"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/query/graph"
	"github.com/truyvet/truyvet/schemas"
	"github.com/truyvet/truyvet/schemas/event"
)

func TestParseNamesFieldAndReason(t *testing.T) {
	cases := []struct {
		body, field string
		reason      event.Reason
	}{
		{`[1]`, "", event.ReasonInvalidJSON},
		{`{"name":"a","channels":{"proximity":{"min_minutes":15}}} x`, "", event.ReasonInvalidJSON},
		{`{"channels":{"proximity":{"min_minutes":15}}}`, "name", event.ReasonMissingField},
		{`{"name":7,"channels":{"proximity":{"min_minutes":15}}}`, "name", event.ReasonInvalidValue},
		{`{"name":"Ab","channels":{"proximity":{"min_minutes":15}}}`, "name", event.ReasonInvalidValue},
		{`{"name":"a@1","channels":{"proximity":{"min_minutes":15}}}`, "name", event.ReasonInvalidValue},
		{`{"name":"a","version":2,"channels":{"proximity":{"min_minutes":15}}}`, "version", event.ReasonInvalidValue},
		{`{"name":"a"}`, "channels", event.ReasonMissingField},
		{`{"name":"a","channels":{}}`, "channels", event.ReasonMissingField},
		{`{"name":"a","channels":[]}`, "channels", event.ReasonInvalidValue},
		{`{"name":"a","channels":{"walking":{}}}`, "channels.walking", event.ReasonInvalidValue},
		{`{"name":"a","channels":{"proximity":{}}}`, "channels.proximity.min_minutes", event.ReasonMissingField},
		{`{"name":"a","channels":{"proximity":{"min_minutes":-1}}}`, "channels.proximity.min_minutes", event.ReasonInvalidValue},
		{`{"name":"a","channels":{"proximity":{"min_minutes":"15"}}}`, "channels.proximity.min_minutes", event.ReasonInvalidValue},
		{`{"name":"a","channels":{"proximity":{"min_minutes":1441}}}`, "channels.proximity.min_minutes", event.ReasonInvalidValue},
		{`{"name":"a","channels":{"proximity":{"min_minutes":15,"min_rssi":-200}}}`, "channels.proximity.min_rssi", event.ReasonInvalidValue},
		{`{"name":"a","channels":{"proximity":{"min_minutes":15,"min_rssi":-70.5}}}`, "channels.proximity.min_rssi", event.ReasonInvalidValue},
		{`{"name":"a","channels":{"proximity":{"min_minutes":15,"rssi":-70}}}`, "channels.proximity.rssi", event.ReasonInvalidValue},
		{`{"name":"a","channels":{"venue":{"min_minutes":15,"kinds":[]}}}`, "channels.venue.kinds", event.ReasonInvalidValue},
		{`{"name":"a","channels":{"venue":{"min_minutes":15,"kinds":"market"}}}`, "channels.venue.kinds", event.ReasonInvalidValue},
		{`{"name":"a","channels":{"venue":{"min_minutes":15,"kinds":["cafe","disco"]}}}`, "channels.venue.kinds[1]", event.ReasonInvalidValue},
		{`{"name":"a","channels":{"venue":{"min_minutes":15,"kinds":["cafe","cafe"]}}}`, "channels.venue.kinds[1]", event.ReasonInvalidValue},
		{`{"name":"a","channels":{"venue":{"min_minutes":15,"max_present":0}}}`, "channels.venue.max_present", event.ReasonInvalidValue},
		{`{"name":"a","channels":{"venue":{"min_minutes":15,"max_present":2.5}}}`, "channels.venue.max_present", event.ReasonInvalidValue},
		{`{"name":"a","channels":{"vehicle":{"min_minutes":null}}}`, "channels.vehicle.min_minutes", event.ReasonMissingField},
		{`{"name":"a","channels":{"vehicle":{"min_minutes":15}},"casual":"yes"}`, "casual", event.ReasonInvalidValue},
		{`{"name":"a","channels":{"vehicle":{"min_minutes":15}},"comment":"x"}`, "comment", event.ReasonInvalidValue},
	}
	for _, c := range cases {
		_, err := Parse([]byte(c.body))
		var ve *event.ValidationError
		require.ErrorAs(t, err, &ve, c.body)
		require.Equal(t, c.field, ve.Field, c.body)
		require.Equal(t, c.reason, ve.Reason, c.body)
	}
}

func TestParseAcceptsEveryField(t *testing.T) {
	d, err := Parse([]byte(`{"name":"city-2021.b","channels":{"proximity":{"min_minutes":10,"min_rssi":-70},` +
		`"venue":{"min_minutes":30,"kinds":["cafe","other"],"max_present":40},"vehicle":{"min_minutes":5}},"casual":true}`))
	require.NoError(t, err)
	rssi := -70
	require.Equal(t, Definition{Name: "city-2021.b", Channels: Channels{
		Proximity: &Proximity{MinMinutes: 10, MinRSSI: &rssi},
		Venue:     &Venue{MinMinutes: 30, Kinds: []string{"cafe", "other"}, MaxPresent: 40},
		Vehicle:   &Vehicle{MinMinutes: 5},
	}, Casual: true}, d)
	require.Equal(t, &graph.Rule{
		Proximity: &graph.ProximityRule{MinSeconds: 600, MinRSSI: -70, HasMinRSSI: true},
		Venue:     &graph.VenueRule{MinSeconds: 1800, Kinds: []string{"cafe", "other"}, MaxPresent: 40},
		Vehicle:   &graph.ChannelRule{MinSeconds: 300},
		Casual:    true,
	}, d.Rule())
	// A stored definition round-trips through its JSON form.
	d.Version = 3
	data, err := json.Marshal(d)
	require.NoError(t, err)
	back, err := Decode(data)
	require.NoError(t, err)
	require.Equal(t, d, back)
	require.Equal(t, "city-2021.b@3", back.Ref())
}

func TestShipped(t *testing.T) {
	ds := Shipped()
	var refs []string
	for _, d := range ds {
		refs = append(refs, d.Ref())
		require.NoError(t, d.Validate())
	}
	require.Equal(t, []string{"bluetooth-strict@1", "default@1", "moh-2021@1"}, refs)
	def := ds[1]
	// default@1 is DESIGN's rule: every channel, no gate of its own, no casual list.
	require.Equal(t, &graph.Rule{
		Proximity: &graph.ProximityRule{}, Venue: &graph.VenueRule{}, Vehicle: &graph.ChannelRule{},
	}, def.Rule())
	require.Nil(t, ds[0].Channels.Venue, "bluetooth-strict counts no venue")
	require.True(t, ds[2].Casual)
	require.Positive(t, ds[2].Channels.Venue.MaxPresent)
}

func TestParseRef(t *testing.T) {
	n, v, err := ParseRef("moh-2021")
	require.NoError(t, err)
	require.Equal(t, "moh-2021", n)
	require.Zero(t, v)
	n, v, err = ParseRef("default@1")
	require.NoError(t, err)
	require.Equal(t, "default", n)
	require.Equal(t, 1, v)
	for _, bad := range []string{"", "@1", "a@", "a@0", "a@x", "A", "a@1@2"} {
		_, _, err := ParseRef(bad)
		var ve *event.ValidationError
		require.ErrorAs(t, err, &ve, bad)
		require.Equal(t, "definition", ve.Field)
	}
}

func FuzzParse(f *testing.F) {
	for _, d := range Shipped() {
		d.Version = 0
		data, err := json.Marshal(d)
		require.NoError(f, err)
		f.Add(data)
	}
	f.Add([]byte(`{"name":"a","channels":{"venue":{"min_minutes":1e308,"kinds":null}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Parse(data)
		if err != nil {
			var ve *event.ValidationError
			require.ErrorAs(t, err, &ve)
			return
		}
		// Whatever Parse takes is valid once versioned, and round-trips.
		d.Version = 1
		require.NoError(t, d.Validate())
		out, err := json.Marshal(d)
		require.NoError(t, err)
		back, err := Decode(out)
		require.NoError(t, err)
		require.Equal(t, d, back)
	})
}

func FuzzParseRef(f *testing.F) {
	f.Add("default@1")
	f.Add("x@-1")
	f.Fuzz(func(t *testing.T, s string) {
		name, v, err := ParseRef(s)
		if err == nil {
			require.NotEmpty(t, name)
			require.GreaterOrEqual(t, v, 0)
		}
	})
}

func TestJSONSchemaNamesTheSameKinds(t *testing.T) {
	data, err := fs.ReadFile(schemas.V1(), "definition.schema.json")
	require.NoError(t, err)
	var s struct {
		Properties struct {
			Channels struct {
				Properties struct {
					Venue struct {
						Properties struct {
							Kinds struct {
								Items struct {
									Enum []string `json:"enum"`
								} `json:"items"`
							} `json:"kinds"`
						} `json:"properties"`
					} `json:"venue"`
				} `json:"properties"`
			} `json:"channels"`
		} `json:"properties"`
	}
	require.NoError(t, json.Unmarshal(data, &s))
	require.Equal(t, Kinds(), s.Properties.Channels.Properties.Venue.Properties.Kinds.Items.Enum)
}
