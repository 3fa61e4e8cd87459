package access

import "github.com/prometheus/client_golang/prometheus"

// Metrics of the guard:
//
//	truyvet_auth_requests_total{result}   guarded requests by result: ok, no_token,
//	                                      bad_token, forbidden_role, out_of_jurisdiction
//	truyvet_auth_rate_limited_total       requests answered 429
type Metrics struct {
	requests *prometheus.CounterVec
	limited  prometheus.Counter
}

// NewMetrics registers the guard's metrics with reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "truyvet_auth_requests_total", Help: "Requests on guarded routes, by authorisation result.",
		}, []string{"result"}),
		limited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "truyvet_auth_rate_limited_total", Help: "Requests refused with 429 by a rate limit.",
		}),
	}
	for _, r := range []Result{ResultOK, ResultNoToken, ResultBadToken, ResultForbiddenRole, ResultOutOfJurisdiction} {
		m.requests.WithLabelValues(string(r))
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.limited)
	}
	return m
}
