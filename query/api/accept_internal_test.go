package api

import (
	"testing"
)

// FuzzAcceptQ: any Accept header gives q-values in [0, 1], and never a panic.
func FuzzAcceptQ(f *testing.F) {
	for _, s := range []string{
		"text/csv", "text/csv;q=0.1, application/json", "*/*", "text/*;q=0.5", "", ";;,,", "text/csv;q=NaN",
		"application/json;q=1.5", "TEXT/CSV; Q=0.9", "a/b/c;q=", "text/csv;level=1;q=0.2",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, accept string) {
		for _, ts := range [][2]string{{"text", "csv"}, {"application", "json"}} {
			if q := acceptQ(accept, ts[0], ts[1]); !(q >= 0 && q <= 1) {
				t.Fatalf("acceptQ(%q, %s/%s) = %v", accept, ts[0], ts[1], q)
			}
		}
		_ = preferCSV(accept)
	})
}
