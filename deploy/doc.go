// Package deploy holds no code: it is the home of the operator's kit beside
// it (kubernetes/ manifests, grafana/ dashboards, prometheus/ rules, local/
// scripts; README.md is the runbook), and its tests check that kit against
// the code: every metric and label a dashboard or rule names is one truyvet
// registers; every rule has a unit test and every alert a runbook section;
// every TRUYVET_* variable the manifests set is a flag of the command they
// run, which accepts the result (--dry-run); and each Deployment is scraped
// as a job the rules watch.
package deploy
