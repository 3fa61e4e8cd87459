package synth

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/safety"
	"github.com/truyvet/truyvet/schemas/checklist"
	"github.com/truyvet/truyvet/schemas/event"
	registry "github.com/truyvet/truyvet/venue"
)

// Assessments are the city's venues' daily self-checks (the Safety Map's)
// for every local day of its span, the last one (the day of End) included
// up to End: schools, hospitals, clinics and factories file one every day
// (Bắc Giang made the factories' self-assessment mandatory), other venues
// on about half the days. Each venue has a diligence, drawn once, that is
// the chance it meets each item; about 3% of assessments are corrected
// later the same day with a second one, which then counts. Assessments are
// filed in the morning (6:30–9:00) and never after End minus a minute.
// Seeded and deterministic like the rest of the city.
func (c *City) Assessments(cat *checklist.Catalog) ([]event.Assessment, error) {
	from, to := c.Span()
	end := c.cfg.End.Unix() - 60
	rng := rand.New(rand.NewPCG(c.cfg.Seed, 0x5afe))
	diligence := make([]float64, len(c.venues))
	for i := range diligence {
		diligence[i] = 0.75 + 0.25*rng.Float64()
		if rng.IntN(10) == 0 {
			diligence[i] = 0.4 + 0.4*rng.Float64() // the careless tenth
		}
	}
	var out []event.Assessment
	for d := bucket.DayOf(from.Unix()); d <= bucket.DayOf(to.Unix()); d++ {
		for i := range c.venues {
			id := uint32(i + 1) //nolint:gosec // venues fit in uint32
			kind, _ := c.Venue(id)
			k := registry.Kind(kind)
			daily := k == registry.KindSchool || k == registry.KindHospital || k == registry.KindClinic || k == registry.KindFactory
			if !daily && rng.IntN(2) == 0 {
				continue
			}
			ch, err := cat.For(k, 0)
			if err != nil {
				return nil, err
			}
			at := d.Start() + int64(6*3600+1800+rng.IntN(150*60))
			if at > end {
				if end <= d.Start() {
					continue
				}
				at = d.Start() + rng.Int64N(end-d.Start())
			}
			a, err := assessment(ch, id, k, d, at, fmt.Sprintf("synth-%d-%d", d, id), rng, diligence[i])
			if err != nil {
				return nil, err
			}
			out = append(out, a)
			if rng.IntN(33) == 0 && at+3600 <= end {
				a, err := assessment(ch, id, k, d, at+3600, fmt.Sprintf("synth-%d-%d-b", d, id), rng, diligence[i])
				if err != nil {
					return nil, err
				}
				out = append(out, a)
			}
		}
	}
	return out, nil
}

func assessment(ch *checklist.Checklist, id uint32, k registry.Kind, d bucket.Day, at int64, aid string, rng *rand.Rand, p float64) (event.Assessment, error) {
	ans := make(map[string]bool, len(ch.Items))
	for _, it := range ch.Items {
		ans[it.ID] = rng.Float64() < p
	}
	r, err := ch.Score(ans)
	if err != nil {
		return event.Assessment{}, err
	}
	return event.Assessment{AssessmentID: aid, VenueID: id, Kind: k, Day: uint32(d), Version: ch.Version, SubmittedAt: at,
		Account: "synth", Answers: event.AnswersFrom(ans), Tenths: uint16(r.Tenths), Level: r.Level}, nil //nolint:gosec // at most 1000
}

// feedbackTexts are what citizens write, by category.
var feedbackTexts = map[safety.Category]string{
	safety.CategoryNoMasks:            "Nhân viên không đeo khẩu trang.",
	safety.CategoryNoDistancing:       "Khách đứng sát nhau, không giữ khoảng cách.",
	safety.CategoryNoQRCheckin:        "Không có mã QR ở lối vào.",
	safety.CategoryNoTemperatureCheck: "Không đo thân nhiệt ở cổng.",
	safety.CategoryNoHandWashing:      "Không có nước rửa tay.",
	safety.CategoryCrowding:           "Quá đông người vào giờ cao điểm.",
	safety.CategoryFalseAssessment:    "Tự đánh giá an toàn nhưng thực tế không làm.",
	safety.CategoryOther:              "Nhà vệ sinh không được khử khuẩn.",
}

// Feedback are citizens' reports about the city's venues over its span:
// about one a day for every 25 venues, more at crowded kinds (markets,
// supermarkets, bus stations), in the order they were made, each before End.
// They carry no id (the queue gives it) and are all open.
func (c *City) Feedback() []safety.Feedback {
	from, to := c.Span()
	rng := rand.New(rand.NewPCG(c.cfg.Seed, 0xfeed))
	cats := safety.Categories()
	var out []safety.Feedback
	span := to.Unix() - from.Unix()
	n := int(float64(len(c.venues)) / 25 * float64(span) / 86400)
	for range max(n, 1) {
		id := uint32(1 + rng.IntN(len(c.venues))) //nolint:gosec // venues fit in uint32
		kind, _ := c.Venue(id)
		switch registry.Kind(kind) {
		case registry.KindMarket, registry.KindSupermarket, registry.KindBusStation:
		default:
			if rng.IntN(2) == 0 {
				continue
			}
		}
		cat := cats[rng.IntN(len(cats))]
		w := c.venues[id-1].ward
		out = append(out, safety.Feedback{VenueID: id, Province: c.provs[c.provinceOf(w)].info.code, Category: cat,
			Text: feedbackTexts[cat], CreatedAt: time.Unix(from.Unix()+rng.Int64N(max(span, 1)), 0).UTC()})
	}
	slices.SortStableFunc(out, func(a, b safety.Feedback) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out
}
