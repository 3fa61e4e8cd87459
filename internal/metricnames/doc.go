// Package metricnames keeps truyvet's /metrics names from changing silently.
// Its test registers every stage's metrics as the binary does and compares
// each series' name and label names with testdata/metrics.golden; a rename,
// a new label or a dropped series fails until the golden file is rewritten
// with UPDATE_GOLDEN=1, so the change shows in review for whoever's
// dashboards and alerts use these names.
package metricnames
