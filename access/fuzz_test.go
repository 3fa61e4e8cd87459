package access_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/access"
	"github.com/truyvet/truyvet/province"
	"github.com/truyvet/truyvet/query/audit"
)

func provinces() *province.List { return province.Default() }

func FuzzParseToken(f *testing.F) {
	tok, _, err := access.NewToken()
	require.NoError(f, err)
	for _, s := range []string{tok, "Bearer " + tok, "", "tvk_", "tvk_" + strings.Repeat("A", 43), "tvk_" + strings.Repeat("=", 43), "bearer  x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := access.ParseToken(s)
		if err == nil {
			require.True(t, strings.HasPrefix(s, access.TokenPrefix))
			require.Equal(t, access.HashToken(s), h)
		}
		_ = access.BearerToken(s)
	})
}

// FuzzDecide checks the decision's invariants on any account and target:
// public routes always pass, no account never passes a guarded one, an
// account without a listed role is always forbidden_role, and a national
// account with the role never meets out_of_jurisdiction except as a venue
// admin of someone else's venue.
func FuzzDecide(f *testing.F) {
	f.Add(3, "epidemiologist", "01", uint32(7), true, "01", uint32(500), []byte(`{"province":"01"}`))
	f.Add(0, "app", "*", uint32(0), false, "", uint32(0), []byte(`[{"province":7}]`))
	f.Fuzz(func(t *testing.T, ruleIdx int, role, prov string, venue uint32, known bool, tprov string, tvenue uint32, body []byte) {
		pol := access.DefaultPolicy()
		if ruleIdx < 0 {
			ruleIdx = -ruleIdx
		}
		rule := pol[ruleIdx%len(pol)]
		a := &access.Account{Roles: []access.Role{access.Role(role)}, Provinces: []string{prov}, Venues: []uint32{venue}}
		tg := access.Target{Known: known, Province: tprov, Venue: tvenue, Provinces: access.BodyProvinces(body)}
		res := access.Decide(rule, a, tg)
		switch {
		case rule.Public:
			require.Equal(t, access.ResultOK, res)
		case len(rule.Roles) > 0 && !containsRole(rule.Roles, role):
			require.Equal(t, access.ResultForbiddenRole, res)
		case prov == access.National && access.Role(role) != access.RoleVenueAdmin:
			require.Equal(t, access.ResultOK, res)
		}
		if !rule.Public {
			require.Equal(t, access.ResultNoToken, access.Decide(rule, nil, tg))
		}
		cut := audit.Cut(string(body), 10)
		require.LessOrEqual(t, len(cut), 10)
	})
}

func containsRole(rs []access.Role, r string) bool {
	for _, x := range rs {
		if string(x) == r {
			return true
		}
	}
	return false
}
