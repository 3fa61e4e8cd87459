package deploy_test

import (
	"bytes"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/truyvet/truyvet/cli"
)

// object is the part of a Kubernetes object these tests read; the schema
// check of scripts/check-deploy.sh validates the rest.
type object struct {
	file     string
	Kind     string
	Metadata struct {
		Name, Namespace string
		Labels          map[string]string
	}
	Data       map[string]string
	StringData map[string]string `yaml:"stringData"`
	Spec       yaml.Node
}

type deploymentSpec struct {
	Selector labelSelector
	Template struct {
		Metadata struct{ Labels map[string]string }
		Spec     struct {
			Containers []container
			Volumes    []struct {
				Name   string
				Secret *struct {
					SecretName string `yaml:"secretName"`
					Items      []struct{ Key string }
				}
			}
		}
	}
}

type labelSelector struct {
	MatchLabels map[string]string `yaml:"matchLabels"`
}

type container struct {
	Name  string
	Args  []string
	Ports []struct {
		Name string
	}
	EnvFrom []struct {
		ConfigMapRef *struct{ Name string } `yaml:"configMapRef"`
	} `yaml:"envFrom"`
	Env []struct {
		Name, Value string
		ValueFrom   *struct {
			SecretKeyRef *struct{ Name, Key string } `yaml:"secretKeyRef"`
		} `yaml:"valueFrom"`
	}
	Resources struct {
		Requests, Limits map[string]string
	}
	StartupProbe   *probe `yaml:"startupProbe"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	VolumeMounts   []struct {
		Name string
	} `yaml:"volumeMounts"`
}

type probe struct {
	HTTPGet *struct{ Path, Port string } `yaml:"httpGet"`
}

func readObjects(t *testing.T, pattern string) []object {
	t.Helper()
	paths, err := filepath.Glob(pattern)
	require.NoError(t, err)
	require.NotEmpty(t, paths, pattern)
	var objs []object
	for _, p := range paths {
		f, err := os.Open(p)
		require.NoError(t, err)
		dec := yaml.NewDecoder(f)
		for {
			var o object
			err := dec.Decode(&o)
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err, p)
			o.file = p
			objs = append(objs, o)
		}
		require.NoError(t, f.Close())
	}
	return objs
}

var flagLine = regexp.MustCompile(`(?m)^\s+-([a-z0-9][a-z0-9.-]*)`)

// commandFlags returns the environment variables of a command's flags, read
// from its -h.
func commandFlags(t *testing.T, cmd string) map[string]bool {
	t.Helper()
	var out bytes.Buffer
	code := cli.Main(t.Context(), cli.Env{Args: []string{cmd, "-h"}, Stdout: &out, Stderr: &out,
		LookupEnv: func(string) (string, bool) { return "", false }, Now: time.Now})
	require.Equal(t, 0, code, out.String())
	vars := map[string]bool{}
	for _, m := range flagLine.FindAllStringSubmatch(out.String(), -1) {
		vars[cli.EnvName(m[1])] = true
	}
	require.NotEmpty(t, vars, cmd)
	return vars
}

func decodeSpec[T any](t *testing.T, o object) T {
	t.Helper()
	var s T
	require.NoError(t, o.Spec.Decode(&s), "%s: %s/%s", o.file, o.Kind, o.Metadata.Name)
	return s
}

func subset(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// TestManifests checks what a schema cannot: that every Deployment runs a
// truyvet command with probes on /healthz and /readyz, resources, a Service
// and a PodDisruptionBudget that select it (and no other), that the
// ConfigMaps and Secrets it reads exist with their keys, that every
// TRUYVET_* variable is a flag of its command, and that the command accepts
// the configuration (--dry-run).
func TestManifests(t *testing.T) {
	objs := readObjects(t, "kubernetes/*.yaml")
	secrets := map[string]map[string]string{}
	for _, o := range readObjects(t, "kubernetes/examples/*.yaml") {
		require.Equal(t, "Secret", o.Kind, "%s holds only example Secrets", o.file)
		secrets[o.Metadata.Name] = o.StringData
	}
	for _, o := range objs {
		require.NotEqual(t, "Secret", o.Kind, "%s: Secrets are not applied with the manifests (kubernetes/examples/)", o.file)
	}
	configMaps := map[string]map[string]string{}
	var deployments, services, pdbs []object
	for _, o := range objs {
		if o.Kind != "Namespace" {
			require.Equal(t, "truyvet", o.Metadata.Namespace, "%s: %s/%s", o.file, o.Kind, o.Metadata.Name)
		}
		switch o.Kind {
		case "ConfigMap":
			configMaps[o.Metadata.Name] = o.Data
		case "Deployment":
			deployments = append(deployments, o)
		case "Service":
			services = append(services, o)
		case "PodDisruptionBudget":
			pdbs = append(pdbs, o)
		}
	}
	podLabels := map[string]map[string]string{}
	for _, d := range deployments {
		podLabels[d.Metadata.Name] = decodeSpec[deploymentSpec](t, d).Template.Metadata.Labels
	}
	// selects names the Deployments whose pods sel selects.
	selects := func(sel map[string]string) []string {
		var out []string
		for name, ls := range podLabels {
			if subset(sel, ls) {
				out = append(out, name)
			}
		}
		return out
	}

	flags := map[string]map[string]bool{}
	commands := []string{}
	for _, d := range deployments {
		name := d.Metadata.Name
		spec := decodeSpec[deploymentSpec](t, d)
		require.True(t, subset(spec.Selector.MatchLabels, spec.Template.Metadata.Labels), "%s: selector does not select its pods", name)
		require.Len(t, spec.Template.Spec.Containers, 1, name)
		c := spec.Template.Spec.Containers[0]
		require.NotEmpty(t, c.Args, name)
		cmd := c.Args[0]
		require.Contains(t, []string{"ingest", "process", "query"}, cmd, name)
		if flags[cmd] == nil {
			flags[cmd] = commandFlags(t, cmd)
			commands = append(commands, cmd)
		}
		require.True(t, slices.ContainsFunc(c.Ports, func(p struct{ Name string }) bool { return p.Name == "http" }), "%s: no port named http", name)
		for _, p := range []struct {
			probe *probe
			path  string
		}{{c.StartupProbe, "/healthz"}, {c.LivenessProbe, "/healthz"}, {c.ReadinessProbe, "/readyz"}} {
			require.NotNil(t, p.probe, "%s: a probe is missing (%s)", name, p.path)
			require.NotNil(t, p.probe.HTTPGet, name)
			require.Equal(t, p.path, p.probe.HTTPGet.Path, name)
			require.Equal(t, "http", p.probe.HTTPGet.Port, name)
		}
		for _, r := range []string{"cpu", "memory"} {
			require.NotEmpty(t, c.Resources.Requests[r], "%s: no %s request", name, r)
			require.NotEmpty(t, c.Resources.Limits[r], "%s: no %s limit", name, r)
		}
		var pdb, svc []string
		for _, p := range pdbs {
			if got := selects(decodeSpec[struct{ Selector labelSelector }](t, p).Selector.MatchLabels); slices.Contains(got, name) {
				require.Equal(t, []string{name}, got, "PodDisruptionBudget %s selects more than one Deployment", p.Metadata.Name)
				pdb = append(pdb, p.Metadata.Name)
			}
		}
		require.Len(t, pdb, 1, "%s: PodDisruptionBudgets selecting it", name)
		for _, s := range services {
			if got := selects(decodeSpec[struct{ Selector map[string]string }](t, s).Selector); slices.Contains(got, name) {
				require.Equal(t, []string{name}, got, "Service %s selects more than one Deployment", s.Metadata.Name)
				svc = append(svc, s.Metadata.Name)
			}
		}
		require.Len(t, svc, 1, "%s: Services selecting it", name)

		// The environment the container gets: its ConfigMaps, then its own
		// entries (which win), secrets by their example values.
		env := map[string]string{}
		for _, ef := range c.EnvFrom {
			require.NotNil(t, ef.ConfigMapRef, name)
			data, ok := configMaps[ef.ConfigMapRef.Name]
			require.True(t, ok, "%s: no ConfigMap %s", name, ef.ConfigMapRef.Name)
			maps.Copy(env, data)
		}
		for _, e := range c.Env {
			v := e.Value
			if e.ValueFrom != nil {
				ref := e.ValueFrom.SecretKeyRef
				require.NotNil(t, ref, "%s: %s", name, e.Name)
				s, ok := secrets[ref.Name]
				require.True(t, ok, "%s: %s reads Secret %s, which kubernetes/examples/ does not show", name, e.Name, ref.Name)
				v, ok = s[ref.Key]
				require.True(t, ok, "%s: %s reads key %s of Secret %s", name, e.Name, ref.Key, ref.Name)
			}
			env[e.Name] = v
			if strings.HasPrefix(e.Name, cli.EnvPrefix) {
				require.True(t, flags[cmd][e.Name], "%s: %s is not a flag of truyvet %s", name, e.Name, cmd)
			}
		}
		mounts := map[string]bool{}
		for _, m := range c.VolumeMounts {
			mounts[m.Name] = true
		}
		for _, v := range spec.Template.Spec.Volumes {
			require.True(t, mounts[v.Name], "%s: volume %s is not mounted", name, v.Name)
			if v.Secret == nil {
				continue
			}
			s, ok := secrets[v.Secret.SecretName]
			require.True(t, ok, "%s: volume %s reads Secret %s, which kubernetes/examples/ does not show", name, v.Name, v.Secret.SecretName)
			for _, it := range v.Secret.Items {
				require.Contains(t, s, it.Key, "%s: volume %s", name, v.Name)
			}
		}
		var out bytes.Buffer
		code := cli.Main(t.Context(), cli.Env{Args: []string{cmd, "--dry-run"}, Stdout: &out, Stderr: &out, Now: time.Now,
			LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
		require.Equal(t, 0, code, "%s: truyvet %s --dry-run with its environment: %s", name, cmd, out.String())
	}
	require.ElementsMatch(t, []string{"ingest", "process", "query"}, commands)

	// A ConfigMap variable that no command has is a typo truyvet would
	// silently ignore.
	for cm, data := range configMaps {
		for k := range data {
			if !strings.HasPrefix(k, cli.EnvPrefix) {
				continue
			}
			known := false
			for _, f := range flags {
				known = known || f[k]
			}
			require.True(t, known, "ConfigMap %s: %s is a flag of none of %v", cm, k, commands)
		}
	}
}

// relabelConfig is one relabel_configs entry of prometheus/prometheus.yml.
type relabelConfig struct {
	SourceLabels []string `yaml:"source_labels"`
	Separator    *string
	Regex        *string
	Action       string
	TargetLabel  string `yaml:"target_label"`
	Replacement  *string
}

// relabel applies Prometheus' keep and replace actions to labels; false
// means the target is dropped.
func relabel(t *testing.T, rcs []relabelConfig, labels map[string]string) bool {
	t.Helper()
	for _, rc := range rcs {
		sep, expr, repl := ";", "(.*)", "$1"
		if rc.Separator != nil {
			sep = *rc.Separator
		}
		if rc.Regex != nil {
			expr = *rc.Regex
		}
		if rc.Replacement != nil {
			repl = *rc.Replacement
		}
		re := regexp.MustCompile("^(?:" + expr + ")$")
		var vals []string
		for _, l := range rc.SourceLabels {
			vals = append(vals, labels[l])
		}
		val := strings.Join(vals, sep)
		switch rc.Action {
		case "keep":
			if !re.MatchString(val) {
				return false
			}
		case "", "replace":
			if m := re.FindStringSubmatchIndex(val); m != nil {
				labels[rc.TargetLabel] = string(re.ExpandString(nil, repl, val, m))
			}
		default:
			t.Fatalf("relabel action %q: not modelled by this test", rc.Action)
		}
	}
	return true
}

var jobMatcher = regexp.MustCompile(`job\s*(=~|=)\s*"([^"]*)"`)

// TestScrapeJobsMatchRules runs each Deployment's pod through the
// relabelling of prometheus/prometheus.yml and checks that it is scraped,
// with a job label that the rules and dashboards use; and that every job
// they name is one of those.
func TestScrapeJobsMatchRules(t *testing.T) {
	b, err := os.ReadFile("prometheus/prometheus.yml")
	require.NoError(t, err)
	var pc struct {
		ScrapeConfigs []struct {
			JobName        string          `yaml:"job_name"`
			RelabelConfigs []relabelConfig `yaml:"relabel_configs"`
		} `yaml:"scrape_configs"`
	}
	require.NoError(t, yaml.Unmarshal(b, &pc))
	require.Len(t, pc.ScrapeConfigs, 1)
	sanitize := regexp.MustCompile(`[^a-zA-Z0-9_]`)
	jobs := map[string]string{} // job → Deployment
	for _, d := range readObjects(t, "kubernetes/*.yaml") {
		if d.Kind != "Deployment" {
			continue
		}
		spec := decodeSpec[deploymentSpec](t, d)
		for _, port := range spec.Template.Spec.Containers[0].Ports {
			ls := map[string]string{
				"job":                         pc.ScrapeConfigs[0].JobName,
				"__meta_kubernetes_namespace": d.Metadata.Namespace,
				"__meta_kubernetes_pod_name":  d.Metadata.Name + "-5d8f9c7b6-x2x4z",
				"__meta_kubernetes_pod_container_port_name": port.Name,
			}
			for k, v := range spec.Template.Metadata.Labels {
				ls["__meta_kubernetes_pod_label_"+sanitize.ReplaceAllString(k, "_")] = v
			}
			if !relabel(t, pc.ScrapeConfigs[0].RelabelConfigs, ls) {
				continue
			}
			require.NotContains(t, jobs, ls["job"], "%s and %s scrape as one job", d.Metadata.Name, jobs[ls["job"]])
			jobs[ls["job"]] = d.Metadata.Name
			require.Equal(t, d.Metadata.Namespace, ls["namespace"], d.Metadata.Name)
			require.NotEmpty(t, ls["pod"], d.Metadata.Name)
		}
	}
	require.Len(t, jobs, 3, "one scraped job per Deployment: %v", jobs)

	var exprs []string
	for _, g := range readRules(t).Groups {
		for _, r := range g.Rules {
			exprs = append(exprs, r.Expr)
		}
	}
	for _, path := range dashboards(t) {
		es, vs := dashboardQueries(t, path)
		exprs = append(exprs, es...)
		exprs = append(exprs, vs...)
	}
	used := map[string]bool{}
	for _, e := range exprs {
		for _, m := range jobMatcher.FindAllStringSubmatch(e, -1) {
			var matched []string
			for job := range jobs {
				if (m[1] == "=" && m[2] == job) || (m[1] == "=~" && regexp.MustCompile("^(?:"+m[2]+")$").MatchString(job)) {
					matched = append(matched, job)
					used[job] = true
				}
			}
			require.NotEmpty(t, matched, "%s%s%q matches no scraped job (%v), in %s", "job", m[1], m[2], slices.Sorted(maps.Keys(jobs)), e)
		}
	}
	for job, d := range jobs {
		require.True(t, used[job], "no rule or dashboard watches %s (%s)", job, d)
	}
}
