package cli

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/access"
	"github.com/truyvet/truyvet/openapi/openapitest"
)

// TestOpenAPICoversEveryRoute holds the OpenAPI document to the routes the
// all-in-one server (every route of every mode) actually serves: each route
// it serves is documented, and each documented route is served. Routes are
// found by asking the served mux which pattern answers each route of the
// access policy (every /v1 route has its row there, served or still to
// come), each documented operation, and the ops routes; so a handler added
// for a policy row fails this test, naming the path to add, until
// openapi/openapi.yaml has it.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	n, _, _, stop := runNode(ctx, t, t.TempDir())
	defer func() { cancel(); stop() }()

	doc := openapitest.Must(t).Doc
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	candidates := []string{"GET /healthz", "GET /readyz", "GET /metrics"}
	for _, r := range access.DefaultPolicy() {
		candidates = append(candidates, r.Pattern)
	}
	for k := range documented {
		candidates = append(candidates, k)
	}
	served := map[string]bool{}
	for _, c := range candidates {
		if p, ok := servedPattern(n.mux, c); ok {
			served[p] = true
		}
	}
	var missing, unserved []string
	for p := range served {
		if !documented[p] {
			method, path, _ := strings.Cut(p, " ")
			missing = append(missing, "route "+p+" is served but not documented: add paths."+path+"."+strings.ToLower(method)+" to openapi/openapi.yaml")
		}
	}
	for p := range documented {
		if got, ok := servedPattern(n.mux, p); !ok || got != p {
			unserved = append(unserved, "route "+p+" is documented in openapi/openapi.yaml but not served (the mux answers it with "+strings.TrimSpace(got+" the fallback")+")")
		}
	}
	slices.Sort(missing)
	slices.Sort(unserved)
	require.Empty(t, missing, "\n"+strings.Join(missing, "\n"))
	require.Empty(t, unserved, "\n"+strings.Join(unserved, "\n"))
	require.NotEmpty(t, served)
}

var pathParam = regexp.MustCompile(`\{[^}]+\}`)

// servedPattern returns the pattern mux serves pattern's route with: a path
// parameter is asked as "1", a subtree ("/x/") as "/x/x". False when only a
// fallback (the pages' "/", the start-up gate's "/v1/") answers.
func servedPattern(mux *http.ServeMux, pattern string) (string, bool) {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		return "", false // method-less rows are the fallbacks
	}
	path = pathParam.ReplaceAllString(path, "1")
	if strings.HasSuffix(path, "/") {
		path += "x"
	}
	req := httptest.NewRequestWithContext(context.Background(), method, path, nil)
	_, p := mux.Handler(req)
	if p == "" || p == "/" || p == "/v1/" || !strings.Contains(p, " ") {
		return p, false
	}
	return p, true
}

// TestOpenAPIAccessMatchesPolicy holds each documented operation's access
// to the policy table the guard enforces: public exactly when its rule is
// (`security: []`), and x-roles the rule's roles ("any" for any account).
func TestOpenAPIAccessMatchesPolicy(t *testing.T) {
	doc := openapitest.Must(t).Doc
	rules := map[string]access.Rule{}
	pm := http.NewServeMux()
	for _, r := range access.DefaultPolicy() {
		rules[r.Pattern] = r
		pm.Handle(r.Pattern, http.NotFoundHandler())
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			name := method + " " + path
			req := httptest.NewRequestWithContext(context.Background(), method, pathParam.ReplaceAllString(path, "1"), nil)
			_, pattern := pm.Handler(req)
			rule, ok := rules[pattern]
			require.True(t, ok, "%s: no policy rule", name)
			public := op.Security != nil && len(*op.Security) == 0
			require.Equal(t, rule.Public, public, "%s: public in the policy (%s) but not in the document, or the other way", name, pattern)
			if rule.Public {
				continue
			}
			var roles []string
			if xs, ok := op.Extensions["x-roles"].([]any); ok {
				for _, x := range xs {
					roles = append(roles, fmt.Sprint(x))
				}
			}
			want := []string{"any"}
			if len(rule.Roles) > 0 {
				want = want[:0]
				for _, r := range rule.Roles {
					want = append(want, string(r))
				}
			}
			slices.Sort(roles)
			slices.Sort(want)
			require.Equal(t, want, roles, "%s: x-roles are not the policy's (%s)", name, pattern)
		}
	}
}
