package deploy_test

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// selector is one series selector of a PromQL expression: the metric name
// and the label names its matchers test.
type selector struct {
	name   string
	labels []string
}

// refs is what an expression refers to: its selectors, and the label names
// it groups or matches by (by, without, on, ignoring, group_left/right).
type refs struct {
	selectors []selector
	grouping  []string
}

// Aggregation operators may be followed by a by/without clause rather than
// their parenthesis; every other name followed by "(" is a function.
var aggregators = map[string]bool{
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
	"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true,
	"limitk": true, "limit_ratio": true,
}

var groupingWords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
}

var keywords = map[string]bool{"and": true, "or": true, "unless": true, "offset": true, "bool": true, "inf": true, "nan": true}

var stringLiteral = regexp.MustCompile("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'|`[^`]*`")

// grafanaVar matches Grafana's variables; interval ones become durations,
// the others (always inside a label matcher's string) a match-all regexp.
var grafanaVar = regexp.MustCompile(`\$\{?(\w+)(?::\w+)?\}?`)

// expandGrafana replaces a dashboard's variables so the query is PromQL.
func expandGrafana(q string) string {
	return grafanaVar.ReplaceAllStringFunc(q, func(v string) string {
		switch grafanaVar.FindStringSubmatch(v)[1] {
		case "__rate_interval", "__interval", "__range":
			return "5m"
		default:
			return ".*"
		}
	})
}

func isIdentStart(c byte) bool {
	return c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdent(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// parseRefs lexes a PromQL expression far enough to find its metric names,
// matcher labels and grouping labels. It does not check the grammar
// (promtool does, in scripts/check-deploy.sh).
func parseRefs(expr string) (refs, error) {
	s := stringLiteral.ReplaceAllString(expr, `""`)
	var r refs
	next := func(i int) (int, byte) {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
			i++
		}
		if i == len(s) {
			return i, 0
		}
		return i, s[i]
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case isDigit(c) || (c == '.' && i+1 < len(s) && isDigit(s[i+1])):
			// A number or a duration (0.99, 1e5, 5m, 1h30m).
			for i < len(s) && (isIdent(s[i]) || s[i] == '.') {
				i++
			}
		case c == '{':
			return r, fmt.Errorf("a selector without a metric name at %q", s[i:])
		case isIdentStart(c):
			j := i
			for j < len(s) && isIdent(s[j]) {
				j++
			}
			word := s[i:j]
			k, after := next(j)
			switch {
			case groupingWords[word]:
				if after != '(' {
					i = j
					continue
				}
				end := strings.IndexByte(s[k:], ')')
				if end < 0 {
					return r, fmt.Errorf("unclosed %s (", word)
				}
				for _, l := range strings.Split(s[k+1:k+end], ",") {
					if l = strings.TrimSpace(l); l != "" {
						r.grouping = append(r.grouping, l)
					}
				}
				i = k + end + 1
			case after == '(' || aggregators[word] || keywords[word]:
				i = j
			default:
				sel := selector{name: word}
				i = j
				if after == '{' {
					end := strings.IndexByte(s[k:], '}')
					if end < 0 {
						return r, fmt.Errorf("unclosed selector of %s", word)
					}
					for _, m := range strings.Split(s[k+1:k+end], ",") {
						m = strings.TrimSpace(m)
						if m == "" {
							continue
						}
						n := 0
						for n < len(m) && isIdent(m[n]) {
							n++
						}
						if n == 0 {
							return r, fmt.Errorf("matcher %q of %s has no label name", m, word)
						}
						sel.labels = append(sel.labels, m[:n])
					}
					i = k + end + 1
				}
				r.selectors = append(r.selectors, sel)
			}
		default:
			i++
		}
	}
	return r, nil
}

// labelValues splits Grafana's label_values(selector, label) query.
var labelValues = regexp.MustCompile(`^\s*label_values\((.*),\s*(\w+)\s*\)\s*$`)

// checker resolves the names an expression refers to against what truyvet
// exports and what the recording rules record.
type checker struct {
	families map[string]*family
	recorded map[string]map[string]bool // recording rule → labels it may carry
}

// synthetic are series Prometheus itself makes for each scrape.
var synthetic = map[string]bool{"up": true}

// labelsOf returns the labels a selected series may carry, or an error when
// the name is not one truyvet exports (or a rule records).
func (c *checker) labelsOf(name string) (map[string]bool, error) {
	ls := map[string]bool{}
	for _, l := range targetLabels {
		ls[l] = true
	}
	if synthetic[name] {
		return ls, nil
	}
	if strings.HasPrefix(name, "truyvet:") {
		rec, ok := c.recorded[name]
		if !ok {
			return nil, fmt.Errorf("%s is not a recording rule of prometheus/truyvet.rules.yml", name)
		}
		return rec, nil
	}
	if !strings.HasPrefix(name, "truyvet_") {
		return nil, fmt.Errorf("%s is not a truyvet metric", name)
	}
	f, ok := c.families[name]
	if ok && f.histogram {
		return nil, fmt.Errorf("%s is a histogram: select %[1]s_bucket, _sum or _count", name)
	}
	suffix := ""
	if !ok {
		for _, sfx := range []string{"_bucket", "_sum", "_count"} {
			if base, cut := strings.CutSuffix(name, sfx); cut {
				if bf, found := c.families[base]; found && bf.histogram {
					f, ok, suffix = bf, true, sfx
				}
			}
		}
	}
	if !ok {
		return nil, fmt.Errorf("%s is not a metric truyvet exports", name)
	}
	for l := range f.labels {
		ls[l] = true
	}
	if suffix == "_bucket" {
		ls["le"] = true
	}
	return ls, nil
}

// check returns the problems of one expression, and the labels its result
// may carry (for a recording rule's own selectors).
func (c *checker) check(expr string) (map[string]bool, []error) {
	r, err := parseRefs(expr)
	if err != nil {
		return nil, []error{err}
	}
	var errs []error
	all := map[string]bool{}
	for _, sel := range r.selectors {
		ls, err := c.labelsOf(sel.name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, l := range sel.labels {
			if !ls[l] {
				errs = append(errs, fmt.Errorf("%s has no label %q", sel.name, l))
			}
		}
		for l := range ls {
			all[l] = true
		}
	}
	if len(r.selectors) == 0 {
		errs = append(errs, fmt.Errorf("no metric selected"))
	}
	for _, l := range r.grouping {
		if !all[l] {
			errs = append(errs, fmt.Errorf("grouping by %q, a label none of %v has", l, names(r.selectors)))
		}
	}
	return all, errs
}

// checkGrafanaQuery checks a dashboard variable's query, which may be
// Grafana's label_values(selector, label).
func (c *checker) checkGrafanaQuery(q string) []error {
	q = expandGrafana(q)
	m := labelValues.FindStringSubmatch(q)
	if m == nil {
		_, errs := c.check(q)
		return errs
	}
	ls, errs := c.check(m[1])
	if len(errs) == 0 && !ls[m[2]] {
		errs = append(errs, fmt.Errorf("label_values of %q, a label %s does not have", m[2], m[1]))
	}
	return errs
}

func names(sels []selector) []string {
	var out []string
	for _, s := range sels {
		if !slices.Contains(out, s.name) {
			out = append(out, s.name)
		}
	}
	return out
}
