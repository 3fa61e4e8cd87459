package deploy_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"go.yaml.in/yaml/v3"

	"github.com/truyvet/truyvet/internal/metricnames"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// targetLabels are the labels prometheus/prometheus.yml puts on every
// series it scrapes from truyvet.
var targetLabels = []string{"job", "instance", "namespace", "pod"}

// family is what a registered metric offers a query.
type family struct {
	histogram bool
	labels    map[string]bool
}

// exported returns every metric the stages register, through the same
// constructors the truyvet commands call.
func exported(t *testing.T) map[string]*family {
	t.Helper()
	stages, err := metricnames.Registered(t.Context(), t.TempDir())
	require.NoError(t, err)
	fams := map[string]*family{}
	for _, st := range stages {
		for _, f := range st.Families {
			fam := &family{histogram: f.Histogram, labels: map[string]bool{}}
			for _, l := range f.Labels {
				fam.labels[l] = true
			}
			fams[f.Name] = fam
		}
	}
	return fams
}

func TestExportedMetricsAreRead(t *testing.T) {
	fams := exported(t)
	require.Greater(t, len(fams), 40)
	lag := fams["truyvet_processor_kafka_lag_records"]
	require.NotNil(t, lag)
	require.Equal(t, map[string]bool{"topic": true, "partition": true}, lag.labels)
	require.False(t, lag.histogram)
	q := fams["truyvet_query_duration_seconds"]
	require.NotNil(t, q)
	require.True(t, q.histogram)
	require.Equal(t, map[string]bool{"depth": true}, q.labels)
	require.NotNil(t, fams["truyvet_store_disk_bytes"])
	require.NotNil(t, fams["truyvet_store_retention_runs_total"])
}

// ruleFile is deploy/prometheus/truyvet.rules.yml.
type ruleFile struct {
	Groups []struct {
		Name  string
		Rules []struct {
			Record, Alert, Expr string
			Labels              map[string]string
			Annotations         map[string]string
		}
	}
}

func readRules(t *testing.T) ruleFile {
	t.Helper()
	b, err := os.ReadFile("prometheus/truyvet.rules.yml")
	require.NoError(t, err)
	var rf ruleFile
	require.NoError(t, yaml.Unmarshal(b, &rf))
	require.NotEmpty(t, rf.Groups)
	return rf
}

// newChecker resolves names against the exported metrics, and checks the
// recording rules in order (a rule may use those before it), noting the
// labels each may carry.
func newChecker(t *testing.T) (*checker, []error) {
	t.Helper()
	c := &checker{families: exported(t), recorded: map[string]map[string]bool{}}
	var errs []error
	for _, g := range readRules(t).Groups {
		for _, r := range g.Rules {
			if r.Record == "" {
				continue
			}
			ls, es := c.check(r.Expr)
			for _, e := range es {
				errs = append(errs, fmt.Errorf("rule %s: %w", r.Record, e))
			}
			c.recorded[r.Record] = ls
		}
	}
	return c, errs
}

func TestRulesNameExportedMetrics(t *testing.T) {
	c, errs := newChecker(t)
	alerts := 0
	for _, g := range readRules(t).Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			alerts++
			_, es := c.check(r.Expr)
			for _, e := range es {
				errs = append(errs, fmt.Errorf("alert %s: %w", r.Alert, e))
			}
		}
	}
	require.Empty(t, errs)
	require.NotEmpty(t, c.recorded)
	require.Positive(t, alerts)
}

// dashboardQueries returns every query of a Grafana dashboard: panel
// targets (rows' nested panels too) and query variables.
func dashboardQueries(t *testing.T, path string) (exprs, variables []string) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var d struct {
		Panels     []panel
		Templating struct {
			List []struct {
				Type  string
				Query json.RawMessage
			}
		}
	}
	require.NoError(t, json.Unmarshal(b, &d))
	var walk func(ps []panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			for _, tg := range p.Targets {
				exprs = append(exprs, tg.Expr)
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct{ Query string }
		if json.Unmarshal(v.Query, &q) != nil {
			require.NoError(t, json.Unmarshal(v.Query, &q.Query), "%s: variable query", path)
		}
		variables = append(variables, q.Query)
	}
	return exprs, variables
}

type panel struct {
	ID         int
	Type       string
	Title      string
	Datasource *struct{ Type, UID string }
	GridPos    struct{ H, W, X, Y int } `json:"gridPos"`
	Targets    []struct {
		Expr       string
		RefID      string `json:"refId"`
		Datasource *struct{ Type, UID string }
	}
	Panels []panel
}

func dashboards(t *testing.T) []string {
	t.Helper()
	paths, err := filepath.Glob("grafana/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	return paths
}

func TestDashboardsNameExportedMetrics(t *testing.T) {
	c, errs := newChecker(t)
	require.Empty(t, errs)
	for _, path := range dashboards(t) {
		exprs, vars := dashboardQueries(t, path)
		require.NotEmpty(t, exprs, path)
		for _, e := range exprs {
			_, es := c.check(expandGrafana(e))
			for _, err := range es {
				errs = append(errs, fmt.Errorf("%s: %q: %w", path, e, err))
			}
		}
		for _, v := range vars {
			for _, err := range c.checkGrafanaQuery(v) {
				errs = append(errs, fmt.Errorf("%s: variable %q: %w", path, v, err))
			}
		}
	}
	require.Empty(t, errs)
}

// TestCheckerCatches shows the checks above would fail on the mistakes they
// exist for.
func TestCheckerCatches(t *testing.T) {
	c, errs := newChecker(t)
	require.Empty(t, errs)
	for _, tc := range []struct {
		expr, err string
	}{
		{`rate(truyvet_ingest_requests_total{code=~"5.."}[5m])`, ""},
		{`histogram_quantile(0.99, sum by (le, depth) (rate(truyvet_query_duration_seconds_bucket[5m])))`, ""},
		{`sum without (topic) (truyvet:processor_kafka_lag_records:sum_by_topic) > 1e5`, ""},
		{`absent(up{job="truyvet-process"} == 1)`, ""},
		{`topk(10, max by (topic, partition) (truyvet_processor_kafka_lag_records{namespace=~".*"}))`, ""},
		{`rate(truyvet_ingest_requests_5xx_total[5m])`, "not a metric truyvet exports"},
		{`truyvet_processor_freshness_seconds_bucket`, "not a metric truyvet exports"},
		{`kube_pod_status_ready{condition="true"}`, "not a truyvet metric"},
		{`truyvet_query_duration_seconds > 1`, "is a histogram"},
		{`rate(truyvet_processor_records_total_bucket[5m])`, "not a metric truyvet exports"},
		{`rate(truyvet_query_requests_total{verb="GET"}[5m])`, `no label "verb"`},
		{`rate(truyvet_query_requests_total{le="1"}[5m])`, `no label "le"`},
		{`sum by (reason) (rate(truyvet_query_requests_total[5m]))`, `grouping by "reason"`},
		{`truyvet:ingest_freshness:p99`, "not a recording rule"},
		{`{__name__=~"truyvet_.+"}`, "without a metric name"},
		{`1 + 1`, "no metric selected"},
	} {
		_, errs := c.check(tc.expr)
		if tc.err == "" {
			require.Empty(t, errs, tc.expr)
			continue
		}
		require.NotEmpty(t, errs, tc.expr)
		require.ErrorContains(t, errs[0], tc.err, tc.expr)
	}
	require.NotEmpty(t, c.checkGrafanaQuery(`label_values(up{job=~"truyvet-.+"}, table)`))
	require.Empty(t, c.checkGrafanaQuery(`label_values(truyvet_store_clickhouse_rows_written_total, table)`))
}

// ruleTests is deploy/prometheus/truyvet.rules.test.yml.
type ruleTests struct {
	RuleFiles []string `yaml:"rule_files"`
	Tests     []struct {
		PromQLExprTest []struct {
			Expr string
		} `yaml:"promql_expr_test"`
		AlertRuleTest []struct {
			Alertname string
			ExpAlerts []any `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	}
}

// TestEveryRuleHasAUnitTest: every recording rule is evaluated by a
// promql_expr_test, every alert has a case where it fires and one where it
// must not.
func TestEveryRuleHasAUnitTest(t *testing.T) {
	b, err := os.ReadFile("prometheus/truyvet.rules.test.yml")
	require.NoError(t, err)
	var rt ruleTests
	require.NoError(t, yaml.Unmarshal(b, &rt))
	require.Equal(t, []string{"truyvet.rules.yml"}, rt.RuleFiles)
	evaluated := map[string]bool{}
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range rt.Tests {
		for _, e := range tc.PromQLExprTest {
			evaluated[strings.TrimSpace(e.Expr)] = true
		}
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			} else {
				quiet[a.Alertname] = true
			}
		}
	}
	var missing []string
	alerts := map[string]bool{}
	for _, g := range readRules(t).Groups {
		for _, r := range g.Rules {
			switch {
			case r.Record != "" && !evaluated[r.Record]:
				missing = append(missing, "recording rule "+r.Record+": no promql_expr_test evaluates it")
			case r.Alert != "":
				alerts[r.Alert] = true
				if !fires[r.Alert] {
					missing = append(missing, "alert "+r.Alert+": no case where it fires")
				}
				if !quiet[r.Alert] {
					missing = append(missing, "alert "+r.Alert+": no case where it must not fire")
				}
			}
		}
	}
	for a := range fires {
		if !alerts[a] {
			missing = append(missing, "test of alert "+a+", which no rule defines")
		}
	}
	slices.Sort(missing)
	require.Empty(t, missing)
}

func TestDashboardsShape(t *testing.T) {
	uids := map[string]string{}
	for _, path := range dashboards(t) {
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		var d struct {
			UID, Title    string
			SchemaVersion int `json:"schemaVersion"`
			Panels        []panel
			Templating    struct {
				List []struct{ Name, Type, Query any }
			}
		}
		require.NoError(t, json.Unmarshal(b, &d), path)
		require.NotEmpty(t, d.UID, path)
		require.NotEmpty(t, d.Title, path)
		require.Positive(t, d.SchemaVersion, path)
		require.NotContains(t, uids, d.UID, "%s repeats the uid of %s", path, uids[d.UID])
		uids[d.UID] = path
		// The Prometheus data source is a variable, so the dashboard imports
		// into any Grafana.
		var ds bool
		for _, v := range d.Templating.List {
			if v.Name == "datasource" {
				ds = v.Type == "datasource" && v.Query == "prometheus"
			}
		}
		require.True(t, ds, "%s: no datasource variable of type prometheus", path)
		ids := map[int]bool{}
		var walk func(ps []panel)
		walk = func(ps []panel) {
			for _, p := range ps {
				require.False(t, ids[p.ID], "%s: panel id %d repeated", path, p.ID)
				ids[p.ID] = true
				require.NotEmpty(t, p.Title, "%s: panel %d", path, p.ID)
				require.LessOrEqual(t, p.GridPos.X+p.GridPos.W, 24, "%s: %s", path, p.Title)
				if p.Type != "row" {
					require.NotNil(t, p.Datasource, "%s: %s", path, p.Title)
					require.Equal(t, "${datasource}", p.Datasource.UID, "%s: %s", path, p.Title)
					require.NotEmpty(t, p.Targets, "%s: %s", path, p.Title)
				}
				for _, tg := range p.Targets {
					require.NotNil(t, tg.Datasource, "%s: %s", path, p.Title)
					require.Equal(t, "${datasource}", tg.Datasource.UID, "%s: %s", path, p.Title)
					require.NotEmpty(t, tg.RefID, "%s: %s", path, p.Title)
				}
				walk(p.Panels)
			}
		}
		walk(d.Panels)
	}
}

// TestEveryAlertHasARunbookEntry: each alert has a severity the routing
// knows, a summary, and a description linking to its section of
// deploy/README.md, which exists.
func TestEveryAlertHasARunbookEntry(t *testing.T) {
	b, err := os.ReadFile("README.md")
	require.NoError(t, err)
	readme := string(b)
	for _, g := range readRules(t).Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			require.Contains(t, []string{"critical", "warning", "info"}, r.Labels["severity"], r.Alert)
			require.NotEmpty(t, r.Annotations["summary"], r.Alert)
			require.Contains(t, r.Annotations["description"], "deploy/README.md#"+strings.ToLower(r.Alert), r.Alert)
			require.Contains(t, readme, "\n### "+r.Alert+"\n", "deploy/README.md has no section for %s", r.Alert)
		}
	}
}
