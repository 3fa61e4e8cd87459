// Package scaling fits how a cost grows with size, from a few measured
// sizes, and extrapolates it: `truyvet bench scale` (Run) measures a city at
// several sizes on the embedded store and reports the fitted model.
//
// The model is a power law, cost = c · size^k, fitted by least squares on
// the logarithms. k near 0 means the cost does not grow with size (a
// per-record cost, or a query whose work depends on a case's neighbourhood
// rather than on the country); k near 1 means it grows in proportion. With
// three sizes the fit is a statement about a trend, not a proof: the report
// shows the residual so a reader sees how straight the line was.
package scaling

import (
	"errors"
	"fmt"
	"math"
)

// Fit is a fitted power law.
type Fit struct {
	K        float64 // exponent
	C        float64 // cost at size 1
	Residual float64 // largest |log10(measured / fitted)| over the points, in decades
}

// ErrPoints is returned when the points cannot be fitted.
var ErrPoints = errors.New("scaling: need at least two points with distinct positive sizes and positive costs")

// PowerLaw fits cost = C · size^K to the points (size[i], cost[i]).
func PowerLaw(size, cost []float64) (Fit, error) {
	if len(size) != len(cost) {
		return Fit{}, fmt.Errorf("%w (%d sizes, %d costs)", ErrPoints, len(size), len(cost))
	}
	var xs, ys []float64
	for i := range size {
		if size[i] > 0 && cost[i] > 0 && !math.IsInf(size[i], 0) && !math.IsInf(cost[i], 0) {
			xs, ys = append(xs, math.Log(size[i])), append(ys, math.Log(cost[i]))
		}
	}
	n := float64(len(xs))
	if n < 2 {
		return Fit{}, ErrPoints
	}
	var mx, my float64
	for i := range xs {
		mx, my = mx+xs[i], my+ys[i]
	}
	mx, my = mx/n, my/n
	var sxx, sxy float64
	for i := range xs {
		sxx += (xs[i] - mx) * (xs[i] - mx)
		sxy += (xs[i] - mx) * (ys[i] - my)
	}
	if sxx == 0 {
		return Fit{}, fmt.Errorf("%w (all sizes equal)", ErrPoints)
	}
	f := Fit{K: sxy / sxx}
	f.C = math.Exp(my - f.K*mx)
	for i := range xs {
		f.Residual = max(f.Residual, math.Abs(ys[i]-math.Log(f.At(math.Exp(xs[i]))))/math.Ln10)
	}
	return f, nil
}

// At is the fitted cost at size.
func (f Fit) At(size float64) float64 { return f.C * math.Pow(size, f.K) }
