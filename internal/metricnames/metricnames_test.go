package metricnames

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const golden = "testdata/metrics.golden"

// TestMetricNames compares the series each package registers, as
// "package name{label,...}" lines, with the golden file, so a renamed,
// relabelled or dropped series fails until the file is rewritten with
// UPDATE_GOLDEN=1 and the change shows in review.
func TestMetricNames(t *testing.T) {
	stages, err := Registered(t.Context(), t.TempDir())
	require.NoError(t, err)
	var lines []string
	for _, st := range stages {
		require.NotEmpty(t, st.Families, "%s registers no metrics", st.Package)
		for _, f := range st.Families {
			require.Regexp(t, `^truyvet_[a-z]+_[a-z0-9_]+$`, f.Name, "%s: names are truyvet_<stage>_<what>_<unit>", st.Package)
			lines = append(lines, st.Package+" "+f.Name+"{"+strings.Join(f.Labels, ",")+"}")
		}
	}
	got := strings.Join(lines, "\n") + "\n"
	if os.Getenv("UPDATE_GOLDEN") == "1" {
		require.NoError(t, os.MkdirAll(filepath.Dir(golden), 0o755))
		require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err, "missing golden file: run UPDATE_GOLDEN=1 go test ./internal/metricnames/")
	require.Equal(t, string(want), got, "the /metrics names changed: if on purpose, rewrite %s with UPDATE_GOLDEN=1", golden)
}
