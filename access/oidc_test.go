package access_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/coreos/go-oidc/v3/oidc/oidctest"
	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/access"
)

// TestOIDCAccessTokens runs the guard with JWT access tokens from a test
// OpenID Connect provider (go-oidc's oidctest: discovery and JWKS over
// HTTP): a token it signed is accepted with the roles and provinces of its
// claims; an expired one, one for another audience or issuer, and one
// signed by a foreign key are refused as bad tokens.
func TestOIDCAccessTokens(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	foreign, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	idp := &oidctest.Server{PublicKeys: []oidctest.PublicKey{{PublicKey: key.Public(), KeyID: "k1", Algorithm: oidc.RS256}}}
	srv := httptest.NewServer(idp)
	defer srv.Close()
	idp.SetIssuer(srv.URL)

	o, err := access.NewOIDC(t.Context(), access.OIDCConfig{Issuer: srv.URL, Audience: "truyvet"})
	require.NoError(t, err)
	g, err := access.NewGuard(access.Config{
		Policy: access.DefaultPolicy(), Auth: access.NewAuthenticator(newMemStore(), nil).WithOIDC(o),
		Cases: func(_ context.Context, id uint32) (string, bool, error) { return "01", id == 7, nil },
	}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := access.AccountFrom(r.Context())
		if !ok {
			http.Error(w, "no account in context", http.StatusInternalServerError)
			return
		}
		_, _ = fmt.Fprint(w, a.ID, " ", a.Name)
	}))
	require.NoError(t, err)

	now := time.Now()
	claims := func(iss, aud string, exp time.Time, provinces string) string {
		return fmt.Sprintf(`{"iss":%q,"aud":%q,"sub":"team-hn","name":"Đội truy vết Hà Nội","exp":%d,"iat":%d,
			"truyvet_roles":["epidemiologist","root"],"truyvet_provinces":[%s]}`, iss, aud, exp.Unix(), now.Unix(), provinces)
	}
	do := func(tok, path string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		g.ServeHTTP(w, req)
		return w
	}
	good := oidctest.SignIDToken(key, "k1", oidc.RS256, claims(srv.URL, "truyvet", now.Add(time.Hour), `"01"`))
	w := do(good, "/v1/cases/7/exposures?purpose=trace")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Equal(t, "oidc:team-hn Đội truy vết Hà Nội", w.Body.String())
	w = do(good, "/v1/cases/8/exposures?purpose=trace")
	require.Equal(t, http.StatusForbidden, w.Code, "provinces from the claims: an unregistered case is for national accounts")
	require.Contains(t, w.Body.String(), "out_of_jurisdiction")
	w = do(good, "/v1/audit")
	require.Equal(t, http.StatusForbidden, w.Code, "roles from the claims")
	require.Contains(t, w.Body.String(), "forbidden_role")

	for name, tok := range map[string]string{
		"expired":        oidctest.SignIDToken(key, "k1", oidc.RS256, claims(srv.URL, "truyvet", now.Add(-time.Minute), `"01"`)),
		"other audience": oidctest.SignIDToken(key, "k1", oidc.RS256, claims(srv.URL, "someone-else", now.Add(time.Hour), `"*"`)),
		"other issuer":   oidctest.SignIDToken(key, "k1", oidc.RS256, claims("https://idp.example", "truyvet", now.Add(time.Hour), `"*"`)),
		"foreign key":    oidctest.SignIDToken(foreign, "k1", oidc.RS256, claims(srv.URL, "truyvet", now.Add(time.Hour), `"*"`)),
		"not a jwt":      "a.b.c",
	} {
		w := do(tok, "/v1/cases/7/exposures?purpose=trace")
		require.Equal(t, http.StatusUnauthorized, w.Code, name)
		require.Contains(t, w.Body.String(), `"reason":"bad_token"`, name)
	}
}
