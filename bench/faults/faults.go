// Package faults is the fault-injection run of the distributed path: it
// starts a deployment (ingest, two processors, query) from the truyvet
// binary on a local Kafka and ClickHouse that it may stop and kill
// (deploy/local/up.sh and down.sh with the environment of a separate
// instance, never the shared one), sends a synthetic population through
// ingest while a fault strikes, and then checks the promise with the data:
// every record answered 202 is stored or dead-lettered (processor/reconcile,
// by distinct id), and the exposure graphs of sampled cases equal those of
// the fault-free run. It records how long each fault took to recover from.
//
// Scenarios: baseline (no fault), broker-kill (SIGKILL of the Kafka broker
// with requests in flight), clickhouse-kill (SIGKILL of ClickHouse during
// inserts), ingest-kill (SIGKILL of ingest with requests in flight, then a
// restart on the same port), processors-kill (both processors at once, then
// restarted), poison (undecodable, invalid and oversized messages written
// straight to the record topics), replay (every record sent twice).
package faults

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/truyvet/truyvet/processor/reconcile"
	"github.com/truyvet/truyvet/schemas/event"
	"github.com/truyvet/truyvet/store/chstore"
	"github.com/truyvet/truyvet/store/storetest"
)

// Scenarios lists the scenario names in the order Run takes them.
var Scenarios = []string{"baseline", "broker-kill", "clickhouse-kill", "ingest-kill", "processors-kill", "poison", "replay"}

// Config says where the services and the binary are.
type Config struct {
	Binary     string   // the truyvet binary
	RepoRoot   string   // where deploy/local/*.sh are
	ScriptEnv  []string // environment of up.sh/down.sh for the instance below
	Brokers    []string // that instance's Kafka
	ClickHouse []string // and ClickHouse
	Stays      int      // stays of the synthetic population (about 3 records each)
	People     int
	Venues     int
	Cases      int           // cases whose graphs are compared with the baseline
	Outage     time.Duration // how long a killed service stays down
	Scenarios  []string      // default: all
	Out        string        // directory for the processes' logs
	Log        *slog.Logger
}

// Result is one scenario's outcome.
type Result struct {
	Scenario           string  `json:"scenario"`
	Sent               int     `json:"sent"`                 // records posted (each at least once)
	Acknowledged       int     `json:"acknowledged"`         // records accepted in answers 202
	Posts              int     `json:"posts"`                // requests, retries included
	Unavailable        int     `json:"unavailable"`          // answers 503 or refused connections, retried
	StoredDistinct     int     `json:"stored_distinct"`      // distinct ids stored (reconcile)
	AcceptedDistinct   int     `json:"accepted_distinct"`    // distinct ids on the record topics (reconcile)
	DeadLettered       int     `json:"dead_lettered"`        // distinct ids dead-lettered
	DeadLetterMessages int     `json:"dead_letter_messages"` // messages on the dead-letter topic
	Missing            int     `json:"missing"`              // accepted ids neither stored nor dead-lettered
	AnswersEqual       bool    `json:"answers_equal"`        // graphs of Cases sampled cases equal to the baseline's
	CasesCompared      int     `json:"cases_compared"`
	FaultSeconds       float64 `json:"fault_seconds,omitempty"`   // from the fault to the service back (0: none)
	AckGapSeconds      float64 `json:"ack_gap_seconds,omitempty"` // longest time without a 202, around the fault
	DrainSeconds       float64 `json:"drain_seconds"`             // from the last 202 (or the service back, if later) to every accepted id stored or dead-lettered
	Notes              string  `json:"notes,omitempty"`
}

// Run runs the scenarios and returns their results.
func Run(ctx context.Context, cfg Config) ([]Result, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	names := cfg.Scenarios
	if len(names) == 0 {
		names = Scenarios
	}
	rng := mrand.New(mrand.NewPCG(13, 14))
	// The population spans [base-8h, base+32h]: ending 8 h before now, no
	// record is "in the future" whichever scenario sends it, and every
	// scenario sends the same accepted records.
	base := time.Now().Unix() - 40*3600
	recs := storetest.RandomRecords(rng, cfg.People, cfg.Venues, cfg.Stays, base)
	cases := make([]uint32, 0, cfg.Cases)
	for range cfg.Cases {
		cases = append(cases, uint32(rng.IntN(cfg.People)+1))
	}
	window := [2]int64{base - 12*3600, base + 36*3600}
	var out []Result
	var baseline map[uint32]string
	for _, name := range names {
		cfg.Log.Info("scenario", "name", name)
		r, answers, err := runScenario(ctx, cfg, name, &recs, cases, window)
		if err != nil {
			return out, fmt.Errorf("scenario %s: %w", name, err)
		}
		if baseline == nil {
			baseline = answers
		}
		r.CasesCompared = len(cases)
		r.AnswersEqual = len(answers) == len(baseline)
		for c, a := range baseline {
			if answers[c] != a {
				r.AnswersEqual = false
			}
		}
		out = append(out, r)
		cfg.Log.Info("scenario done", "result", fmt.Sprintf("%+v", r))
	}
	return out, nil
}

// deployment is the processes of one scenario.
type deployment struct {
	cfg         Config
	dir         string
	prefix, db  string
	ingestAddr  string
	queryAddr   string
	ingest      *proc
	procs       []*proc
	query       *proc
	procListen  []string
	commonKafka []string
	commonCH    []string
}

func freePort(ctx context.Context) (string, error) {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().String(), nil
}

// proc is a started process; done closes when it has exited.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func (d *deployment) start(ctx context.Context, name string, args ...string) (*proc, error) {
	f, err := os.OpenFile(filepath.Join(d.dir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, d.cfg.Binary, args...) //nolint:gosec // the binary under test, named by the caller
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), "TRUYVET_LOG_LEVEL=info")
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 20 * time.Second
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		return nil, err
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); _ = f.Close(); close(p.done) }()
	return p, nil
}

func (d *deployment) startIngest(ctx context.Context) (err error) {
	d.ingest, err = d.start(ctx, "ingest", append([]string{"ingest", "--listen", d.ingestAddr, "--ingest-timeout", "5s"}, d.commonKafka...)...)
	return err
}

func (d *deployment) startProc(ctx context.Context, i int) (err error) {
	args := append([]string{"process", "--listen", d.procListen[i], "--kafka-group", d.prefix + "processors", "--flush-interval", "500ms"}, d.commonKafka...)
	d.procs[i], err = d.start(ctx, "process-"+strconv.Itoa(i), append(args, d.commonCH...)...)
	return err
}

// kill9 sends SIGKILL and waits for the process to be gone.
func kill9(p *proc) {
	if p == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

func (d *deployment) stop() {
	all := append([]*proc{d.ingest, d.query}, d.procs...)
	for _, p := range all {
		if p != nil {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	timeout := time.After(20 * time.Second)
	for _, p := range all {
		if p == nil {
			continue
		}
		select {
		case <-p.done:
		case <-timeout:
			kill9(p)
		}
	}
}

func waitReady(ctx context.Context, addr string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/readyz", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready within %s", addr, within)
}

func (d *deployment) script(ctx context.Context, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(d.cfg.RepoRoot, "deploy/local", name), args...) //nolint:gosec // the repository's own scripts
	cmd.Env = d.cfg.ScriptEnv
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %v: %w: %s", name, args, err, stderr.String())
	}
	return nil
}

// sender posts requests until each is answered 202, and keeps the tallies.
type sender struct {
	mu                        sync.Mutex
	posts, unavailable, acked int
	lastAck                   time.Time
	gap                       time.Duration
	addr                      func() string
}

func (s *sender) post(ctx context.Context, path string, body []byte) error {
	for deadline := time.Now().Add(5 * time.Minute); time.Now().Before(deadline); {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+s.addr()+path, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/x-ndjson")
		resp, err := http.DefaultClient.Do(req)
		s.mu.Lock()
		s.posts++
		s.mu.Unlock()
		if err == nil {
			var ans struct {
				Accepted int `json:"accepted"`
			}
			derr := json.NewDecoder(resp.Body).Decode(&ans)
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusAccepted {
				if derr != nil {
					return fmt.Errorf("%s: 202 without an answer: %w", path, derr)
				}
				n := ans.Accepted
				s.mu.Lock()
				now := time.Now()
				if !s.lastAck.IsZero() && now.Sub(s.lastAck) > s.gap {
					s.gap = now.Sub(s.lastAck)
				}
				s.lastAck = now
				s.acked += n
				s.mu.Unlock()
				return nil
			}
			if resp.StatusCode != http.StatusServiceUnavailable {
				return fmt.Errorf("%s: %s", path, resp.Status)
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.mu.Lock()
		s.unavailable++
		s.mu.Unlock()
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("%s: not accepted within 5 minutes", path)
}

type request struct {
	path string
	body []byte
	n    int
}

func requests(b *event.Batch, per int) []request {
	out := bodies(nil, "/v1/checkins", b.Visits, per, event.AppendVisitJSON)
	out = bodies(out, "/v1/proximity", b.Encounters, per, event.AppendEncounterJSON)
	// Interleave the kinds, so a fault strikes both.
	mrand.New(mrand.NewPCG(1, 2)).Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func runScenario(ctx context.Context, cfg Config, name string, recs *event.Batch, cases []uint32, window [2]int64) (Result, map[uint32]string, error) {
	res := Result{Scenario: name}
	var tag [4]byte
	_, _ = rand.Read(tag[:])
	d := &deployment{cfg: cfg, dir: filepath.Join(cfg.Out, name), prefix: fmt.Sprintf("faults-%s-%x.", name, tag), db: fmt.Sprintf("faults_%s_%x", strings.ReplaceAll(name, "-", "_"), tag)}
	if err := os.MkdirAll(d.dir, 0o755); err != nil {
		return res, nil, err
	}
	d.commonKafka = []string{"--kafka-brokers", strings.Join(cfg.Brokers, ","), "--kafka-topic-prefix", d.prefix, "--kafka-partitions", "4"}
	d.commonCH = []string{"--clickhouse-addr", strings.Join(cfg.ClickHouse, ","), "--clickhouse-database", d.db}
	var err error
	if d.ingestAddr, err = freePort(ctx); err != nil {
		return res, nil, err
	}
	if d.queryAddr, err = freePort(ctx); err != nil {
		return res, nil, err
	}
	d.procs = make([]*proc, 2)
	for range 2 {
		a, err := freePort(ctx)
		if err != nil {
			return res, nil, err
		}
		d.procListen = append(d.procListen, a)
	}
	defer d.stop()
	if err := d.startIngest(ctx); err != nil {
		return res, nil, err
	}
	if err := waitReady(ctx, d.ingestAddr, time.Minute); err != nil {
		return res, nil, err
	}
	for i := range 2 {
		if err := d.startProc(ctx, i); err != nil {
			return res, nil, err
		}
	}
	if d.query, err = d.start(ctx, "query", append([]string{"query", "--listen", d.queryAddr}, d.commonCH...)...); err != nil {
		return res, nil, err
	}
	for _, a := range append([]string{d.queryAddr}, d.procListen...) {
		if err := waitReady(ctx, a, time.Minute); err != nil {
			return res, nil, err
		}
	}

	reqs := requests(recs, 500)
	if name == "replay" {
		reqs = append(reqs, reqs...)
	}
	for _, r := range reqs[:len(reqs)/map[bool]int{true: 2, false: 1}[name == "replay"]] {
		res.Sent += r.n
	}
	var ingestMu sync.Mutex
	s := &sender{addr: func() string { ingestMu.Lock(); defer ingestMu.Unlock(); return d.ingestAddr }}
	work := make(chan request)
	var failed atomic.Value
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for r := range work {
				if err := s.post(ctx, r.path, r.body); err != nil {
					failed.Store(err)
				}
			}
		})
	}
	// The fault strikes at 40 % of the requests, while they keep coming
	// (4 in flight at any time), and sending goes on through it.
	faultAt := len(reqs) * 2 / 5
	var faultErr error
	var restored time.Time
	injected := make(chan struct{})
	for i, r := range reqs {
		if i == faultAt {
			go func() {
				defer close(injected)
				t0 := time.Now()
				faultErr = d.inject(ctx, name, &res)
				restored = time.Now()
				if name != "poison" && name != "replay" && name != "baseline" {
					res.FaultSeconds = restored.Sub(t0).Seconds()
				}
			}()
		}
		work <- r
	}
	close(work)
	wg.Wait()
	<-injected
	if faultErr != nil {
		return res, nil, faultErr
	}
	if e, ok := failed.Load().(error); ok {
		return res, nil, e
	}
	res.Posts, res.Unavailable, res.Acknowledged = s.posts, s.unavailable, s.acked
	if name == "replay" {
		res.Acknowledged /= 2 // each record twice: count it once
		res.Notes = "every record sent twice; acknowledged counts each once"
	}
	res.AckGapSeconds = s.gap.Seconds()
	lastAck := s.lastAck
	if restored.After(lastAck) {
		lastAck = restored // sending ended before the service was back
	}

	// Drained: reconcile until nothing accepted is missing.
	opts := chstore.DefaultOptions()
	opts.Addr, opts.Database, opts.Migrate = cfg.ClickHouse, d.db, false
	store, err := chstore.Open(ctx, opts)
	if err != nil {
		return res, nil, err
	}
	defer func() { _ = store.Close() }()
	topics, _ := event.TopicsFor(d.prefix)
	var rep reconcile.Report
	for deadline := time.Now().Add(5 * time.Minute); ; {
		rep, err = reconcile.Run(ctx, reconcile.Config{Brokers: cfg.Brokers, Topics: topics}, store)
		if err == nil && rep.OK && rep.Accepted > 0 {
			break
		}
		if time.Now().After(deadline) {
			res.Notes += fmt.Sprintf("; not drained after 5 minutes (err %v)", err)
			break
		}
		time.Sleep(2 * time.Second)
	}
	res.DrainSeconds = time.Since(lastAck).Seconds()
	res.StoredDistinct, res.AcceptedDistinct, res.DeadLettered, res.Missing = rep.Stored, rep.Accepted, rep.DeadLettered, rep.Missing
	res.DeadLetterMessages = rep.DeadLetterMessages

	answers := map[uint32]string{}
	for _, c := range cases {
		a, err := graphOf(ctx, d.queryAddr, c, window)
		if err != nil {
			return res, nil, err
		}
		answers[c] = a
	}
	return res, answers, nil
}

// inject strikes the scenario's fault and returns once the service is back.
func (d *deployment) inject(ctx context.Context, name string, res *Result) error {
	switch name {
	case "broker-kill":
		if err := d.script(ctx, "down.sh", "kafka", "--kill"); err != nil {
			return err
		}
		time.Sleep(d.cfg.Outage)
		return d.script(ctx, "up.sh", "kafka")
	case "clickhouse-kill":
		if err := d.script(ctx, "down.sh", "clickhouse", "--kill"); err != nil {
			return err
		}
		time.Sleep(d.cfg.Outage)
		return d.script(ctx, "up.sh", "clickhouse")
	case "ingest-kill":
		kill9(d.ingest)
		if err := d.startIngest(ctx); err != nil {
			return err
		}
		return waitReady(ctx, d.ingestAddr, 2*time.Minute)
	case "processors-kill":
		kill9(d.procs[0])
		kill9(d.procs[1])
		for i := range 2 {
			if err := d.startProc(ctx, i); err != nil {
				return err
			}
		}
		for _, a := range d.procListen {
			if err := waitReady(ctx, a, 2*time.Minute); err != nil {
				return err
			}
		}
		return nil
	case "poison":
		big := make([]byte, 1_048_400)
		_, _ = rand.Read(big)
		topics, _ := event.TopicsFor(d.prefix)
		tr := &kafka.Transport{}
		defer tr.CloseIdleConnections()
		w := &kafka.Writer{Addr: kafka.TCP(d.cfg.Brokers...), Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond, BatchBytes: 2 << 20, Transport: tr}
		base := time.Now().Add(-2 * time.Hour).Unix()
		err := w.WriteMessages(ctx,
			kafka.Message{Topic: topics.Checkins, Key: event.ShardKey(1), Value: []byte("not a wire message")},
			kafka.Message{Topic: topics.Checkins, Key: event.ShardKey(2), Value: big},
			kafka.Message{Topic: topics.Proximity, Key: event.ShardKey(3), Value: event.AppendEncountersWire(nil,
				[]event.Encounter{{EncounterID: "poison-self", UserID: 7, PeerID: 7, Start: base, DurationS: 60}})},
			kafka.Message{Topic: topics.Checkins, Key: event.ShardKey(4), Value: event.AppendVisitsWire(nil,
				[]event.Visit{{VisitID: "poison-zero-user", UserID: 0, VenueID: 1, Enter: base}})},
		)
		res.Notes = "4 poison messages: undecodable, 1 MB incompressible, a self-encounter, a visit with user 0"
		return errors.Join(err, w.Close())
	}
	return nil
}

// graphOf returns the case's depth-2 graph without its timings, as text.
func graphOf(ctx context.Context, addr string, c uint32, w [2]int64) (string, error) {
	q := url.Values{"depth": {"2"}, "from": {time.Unix(w[0], 0).UTC().Format(time.RFC3339)}, "to": {time.Unix(w[1], 0).UTC().Format(time.RFC3339)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s/v1/cases/%d/exposures?%s", addr, c, q.Encode()), nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("case %d: %s", c, resp.Status)
	}
	var g map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&g); err != nil {
		return "", err
	}
	delete(g, "stats")
	b, err := json.Marshal(g)
	return string(b), err
}

// bodies appends NDJSON requests of per records each to dst.
func bodies[T any](dst []request, path string, recs []T, per int, appendJSON func([]byte, *T) []byte) []request {
	for i := 0; i < len(recs); i += per {
		var body []byte
		part := recs[i:min(i+per, len(recs))]
		for j := range part {
			body = append(appendJSON(body, &part[j]), '\n')
		}
		dst = append(dst, request{path, body, len(part)})
	}
	return dst
}

// Markdown renders results as a table.
func Markdown(rs []Result) string {
	var b strings.Builder
	b.WriteString("| scenario | records sent | acked (202) | ids accepted | ids stored | dead-lettered | missing | answers = baseline | fault (s) | longest 202 gap (s) | drain (s) | 503/refused |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, r := range rs {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d ids, %d msgs | %d | %v (%d cases) | %.1f | %.1f | %.1f | %d |\n",
			r.Scenario, r.Sent, r.Acknowledged, r.AcceptedDistinct, r.StoredDistinct, r.DeadLettered, r.DeadLetterMessages, r.Missing,
			r.AnswersEqual, r.CasesCompared, r.FaultSeconds, r.AckGapSeconds, r.DrainSeconds, r.Unavailable)
	}
	return b.String()
}
