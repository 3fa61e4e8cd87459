package sites_test

import (
	"encoding/json"
	"io/fs"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/schemas"
	"github.com/truyvet/truyvet/sites"
)

func schemaProperties(t *testing.T, name string) (props, required []string) {
	t.Helper()
	data, err := fs.ReadFile(schemas.V1(), name)
	require.NoError(t, err)
	var s struct {
		Properties map[string]json.RawMessage `json:"properties"`
		Required   []string                   `json:"required"`
	}
	require.NoError(t, json.Unmarshal(data, &s))
	for k := range s.Properties {
		props = append(props, k)
	}
	slices.Sort(props)
	return props, s.Required
}

// The alert's JSON Schema names exactly the fields the feed and Kafka carry.
func TestAlertSchemaNamesTheMessage(t *testing.T) {
	props, required := schemaProperties(t, "alert.schema.json")
	var fields []string
	rt := reflect.TypeFor[sites.Message]()
	for i := range rt.NumField() {
		tag, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		fields = append(fields, tag)
	}
	require.ElementsMatch(t, fields, props)
	require.ElementsMatch(t, fields, required)
}

// The request's JSON Schema names exactly the fields DecodeRequest takes.
func TestSiteSchemaNamesTheRequest(t *testing.T) {
	props, _ := schemaProperties(t, "exposure-site.schema.json")
	for _, p := range props {
		_, err := sites.DecodeRequest([]byte(`{"` + p + `":null}`))
		var fe *sites.FieldError
		if err != nil {
			require.ErrorAs(t, err, &fe)
			require.NotEqual(t, sites.ReasonUnknownField, fe.Reason, p)
		}
	}
	require.Equal(t, []string{"advice", "case_id", "from", "severity", "to", "venue_id"}, props)
}
