// Package deploy holds no code: it is the home of the operator's kit beside
// it (kubernetes/ manifests, grafana/ dashboards, prometheus/ rules, local/
// scripts), and its tests check that kit against the code: every metric a
// dashboard or rule names is one truyvet registers, with the labels it has;
// every alert and recording rule has a unit test; every TRUYVET_* variable
// the manifests set is a flag of the command they run, and the resulting
// configuration passes --dry-run.
package deploy
