package sites

import "time"

// Local is Asia/Ho_Chi_Minh: times in messages are written in it.
var Local = time.FixedZone("ICT", 7*3600)

// Message is an alert as the apps get it, from GET /v1/alerts and the
// Kafka topic <prefix>alerts alike: DESIGN's fields, times in RFC 3339.
type Message struct {
	AlertID     string `json:"alert_id"`
	Type        string `json:"type"`
	UserID      uint32 `json:"user_id"`
	SiteID      uint64 `json:"site_id"`
	VenueID     uint32 `json:"venue_id"`
	OverlapFrom string `json:"overlap_from"`
	OverlapTo   string `json:"overlap_to"`
	Severity    string `json:"severity"`
	Advice      string `json:"advice"`
	CreatedAt   string `json:"created_at"`
}

// ToMessage is a's message.
func ToMessage(a Alert) Message {
	f := func(t time.Time) string { return t.In(Local).Format(time.RFC3339) }
	return Message{AlertID: a.ID, Type: string(a.Type), UserID: a.UserID, SiteID: a.SiteID, VenueID: a.VenueID,
		OverlapFrom: f(a.OverlapFrom), OverlapTo: f(a.OverlapTo), Severity: string(a.Severity), Advice: a.Advice, CreatedAt: f(a.CreatedAt)}
}
