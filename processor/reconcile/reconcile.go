// Package reconcile checks the distributed pipeline's promise with the data
// itself: every record Kafka holds on the record topics (check-ins,
// encounters, health declarations and venue self-assessments: what ingest
// acknowledged with a 202) is either in the store or in the dead-letter
// topic. The counters of /v1/status cannot prove it once anything was
// replayed (processed counts replays, ingest's accepted restarts at zero,
// stored counts rows before merges); distinct record ids per local day can.
//
// It reads the record topics and the dead-letter topic from their first
// retained offset to their end at the start of the run, and asks the store
// for the distinct ids it holds for each day seen. Records older than the
// topics' retention are not in Kafka any more; their days are reported as
// partial. Memory grows with the distinct ids of the days checked.
package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/truyvet/truyvet/index/bucket"
	"github.com/truyvet/truyvet/schemas/event"
)

// Store lists the distinct record ids it holds for a kind and local day:
// a visit's day is its enter's, an encounter's its start's, a
// declaration's its declared_at's, an assessment's the day assessed (the
// days the stores keep them under). Both stores implement it.
type Store interface {
	RecordIDs(ctx context.Context, kind event.Kind, day bucket.Day, yield func(id string)) error
}

// Config names the topics and where the brokers are.
type Config struct {
	Brokers []string
	Topics  event.Topics
	Log     *slog.Logger
}

// Day is one local day of one kind of record.
type Day struct {
	Day          string   `json:"day"` // YYYY-MM-DD, Asia/Ho_Chi_Minh
	Kind         string   `json:"kind"`
	Accepted     int      `json:"accepted"`              // distinct ids on the record topic
	Stored       int      `json:"stored"`                // of those, distinct ids in the store
	DeadLettered int      `json:"dead_lettered"`         // of the rest, distinct ids in the dead-letter topic
	Missing      int      `json:"missing"`               // accepted, neither stored nor dead-lettered
	StoredOnly   int      `json:"stored_only"`           // in the store, not (or no longer) on the topic
	Partial      bool     `json:"partial"`               // the topics' retention already dropped some records: older ones may be missing from Accepted
	MissingIDs   []string `json:"missing_ids,omitempty"` // up to 20 of them
}

// Report is the outcome of one run.
type Report struct {
	Days                []Day `json:"days"`
	Accepted            int   `json:"accepted"`
	Stored              int   `json:"stored"`
	DeadLettered        int   `json:"dead_lettered"`
	Missing             int   `json:"missing"`
	UndecodableMessages int   `json:"undecodable_messages"` // on the record topics (each is in the dead-letter topic as a whole)
	DeadLetterMessages  int   `json:"dead_letter_messages"`
	Truncated           bool  `json:"truncated"` // some partition no longer starts at offset 0
	OK                  bool  `json:"ok"`        // nothing missing
}

type key struct {
	kind event.Kind
	day  bucket.Day
}

// ids holds the distinct ids per kind and day.
type ids map[key]map[string]bool

func (m ids) add(kind event.Kind, day bucket.Day, id string) {
	k := key{kind, day}
	if m[k] == nil {
		m[k] = map[string]bool{}
	}
	// A decoded id shares its message's string: keep a copy of its own, so
	// the map does not hold every message read.
	if !m[k][id] {
		m[k][strings.Clone(id)] = true
	}
}

func (m ids) batch(b *event.Batch) {
	for i := range b.Visits {
		m.add(event.KindVisit, bucket.DayOf(b.Visits[i].Enter), b.Visits[i].VisitID)
	}
	for i := range b.Encounters {
		m.add(event.KindEncounter, bucket.DayOf(b.Encounters[i].Start), b.Encounters[i].EncounterID)
	}
	for i := range b.Declarations {
		m.add(event.KindDeclaration, bucket.DayOf(b.Declarations[i].DeclaredAt), b.Declarations[i].DeclarationID)
	}
	for i := range b.Assessments {
		m.add(event.KindAssessment, bucket.Day(b.Assessments[i].Day), b.Assessments[i].AssessmentID)
	}
}

// Run reconciles the topics against store.
func Run(ctx context.Context, cfg Config, store Store) (Report, error) {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var rep Report
	accepted, dead := ids{}, ids{}
	var b event.Batch
	for _, topic := range cfg.Topics.Records() {
		trunc, err := readTopic(ctx, cfg.Brokers, topic, func(m *kafka.Message) {
			b.Reset()
			if err := event.DecodeWire(m.Value, &b); err != nil {
				rep.UndecodableMessages++
				return
			}
			accepted.batch(&b)
		})
		if err != nil {
			return rep, err
		}
		rep.Truncated = rep.Truncated || trunc
		log.Info("read record topic", "topic", topic, "truncated", trunc)
	}
	_, err := readTopic(ctx, cfg.Brokers, cfg.Topics.DeadLetter, func(m *kafka.Message) {
		rep.DeadLetterMessages++
		b.Reset()
		if event.DecodeWire(m.Value, &b) == nil {
			dead.batch(&b)
		}
	})
	if err != nil {
		return rep, err
	}
	keys := make([]key, 0, len(accepted))
	for k := range accepted {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int {
		if a.day != b.day {
			return int(a.day) - int(b.day)
		}
		return int(a.kind) - int(b.kind)
	})
	for _, k := range keys {
		acc := accepted[k]
		// A local day number counts days from 1970-01-01, so read as UTC
		// seconds it gives the local date.
		d := Day{Day: time.Unix(int64(k.day)*86400, 0).UTC().Format(time.DateOnly), Kind: k.kind.String(), Accepted: len(acc),
			Partial: rep.Truncated}
		stored := map[string]bool{}
		if err := store.RecordIDs(ctx, k.kind, k.day, func(id string) {
			if acc[id] {
				stored[id] = true
			} else {
				d.StoredOnly++
			}
		}); err != nil {
			return rep, fmt.Errorf("stored ids of %s %s: %w", d.Kind, d.Day, err)
		}
		d.Stored = len(stored)
		for id := range acc {
			switch {
			case stored[id]:
			case dead[k][id]:
				d.DeadLettered++
			default:
				d.Missing++
				if len(d.MissingIDs) < 20 {
					d.MissingIDs = append(d.MissingIDs, id)
				}
			}
		}
		slices.Sort(d.MissingIDs)
		rep.Accepted += d.Accepted
		rep.Stored += d.Stored
		rep.DeadLettered += d.DeadLettered
		rep.Missing += d.Missing
		rep.Days = append(rep.Days, d)
	}
	rep.OK = rep.Missing == 0
	return rep, nil
}

// ErrTopic is wrapped by errors reading a topic.
var ErrTopic = errors.New("cannot read topic")

// readTopic calls fn for every message of every partition of topic, from
// the first retained offset to the end as it was when the read began. It
// reports whether some partition's first retained offset is past 0.
func readTopic(ctx context.Context, brokers []string, topic string, fn func(*kafka.Message)) (bool, error) {
	tr := &kafka.Transport{DialTimeout: 10 * time.Second}
	defer tr.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second, Transport: tr}
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return false, fmt.Errorf("%w %s: %w", ErrTopic, topic, err)
	}
	var req []kafka.OffsetRequest
	for _, t := range md.Topics {
		if t.Error != nil {
			return false, fmt.Errorf("%w %s: %w", ErrTopic, topic, t.Error)
		}
		for _, p := range t.Partitions {
			req = append(req, kafka.FirstOffsetOf(p.ID), kafka.LastOffsetOf(p.ID))
		}
	}
	offs, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: req}})
	if err != nil {
		return false, fmt.Errorf("%w %s: %w", ErrTopic, topic, err)
	}
	truncated := false
	for _, p := range offs.Topics[topic] {
		if p.Error != nil {
			return false, fmt.Errorf("%w %s/%d: %w", ErrTopic, topic, p.Partition, p.Error)
		}
		if p.FirstOffset > 0 {
			truncated = true
		}
		if p.LastOffset <= p.FirstOffset {
			continue
		}
		if err := readPartition(ctx, brokers, topic, p.Partition, p.FirstOffset, p.LastOffset, fn); err != nil {
			return truncated, err
		}
	}
	return truncated, nil
}

func readPartition(ctx context.Context, brokers []string, topic string, part int, from, to int64, fn func(*kafka.Message)) error {
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: part, MinBytes: 1, MaxBytes: 16 << 20, MaxWait: 500 * time.Millisecond})
	defer func() { _ = r.Close() }()
	if err := r.SetOffset(from); err != nil {
		return fmt.Errorf("%w %s/%d: %w", ErrTopic, topic, part, err)
	}
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			return fmt.Errorf("%w %s/%d at offset %s: %w", ErrTopic, topic, part, strconv.FormatInt(from, 10), err)
		}
		fn(&m)
		if m.Offset+1 >= to {
			return nil
		}
	}
}
