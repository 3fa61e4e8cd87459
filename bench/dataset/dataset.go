// Package dataset writes a synthetic city's records as files, for load
// testers who replay them with their own tools: `truyvet bench generate`.
// The directory holds checkins.ndjson.gz and proximity.ndjson.gz (one record
// a line, in upload order, as the API takes them) and dataset.json, which
// says what they are.
package dataset

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"time"

	"github.com/truyvet/truyvet/bench/synth"
	"github.com/truyvet/truyvet/schemas/event"
)

// Config is one run.
type Config struct {
	City    synth.Config
	Dataset map[string]any // what dataset.json says about the records (tier, overrides)
	Out     string         // the directory, created if missing
}

// Result says what was written.
type Result struct {
	Visits, Encounters int
	From, To           time.Time
}

// Write generates the city and writes its files.
func Write(ctx context.Context, cfg Config) (Result, error) {
	var res Result
	city, err := synth.New(cfg.City)
	if err != nil {
		return res, err
	}
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return res, err
	}
	checkins, err := createGzip(filepath.Join(cfg.Out, "checkins.ndjson.gz"))
	if err != nil {
		return res, err
	}
	proximity, err := createGzip(filepath.Join(cfg.Out, "proximity.ndjson.gz"))
	if err != nil {
		return res, errors.Join(err, checkins.close())
	}
	err = writeRecords(ctx, city, checkins.w, proximity.w, &res)
	if err := errors.Join(err, checkins.close(), proximity.close()); err != nil {
		return res, err
	}
	res.From, res.To = city.Span()
	ds := maps.Clone(cfg.Dataset)
	if ds == nil {
		ds = map[string]any{}
	}
	ds["checkin_records"], ds["encounter_records"] = res.Visits, res.Encounters
	ds["from"], ds["to"] = res.From.Format(time.RFC3339), res.To.Format(time.RFC3339)
	b, err := json.MarshalIndent(ds, "", "  ")
	if err != nil {
		return res, err
	}
	return res, os.WriteFile(filepath.Join(cfg.Out, "dataset.json"), append(b, '\n'), 0o644)
}

func writeRecords(ctx context.Context, city *synth.City, checkins, proximity *gzip.Writer, res *Result) error {
	var line []byte
	for _, b := range city.Uploads() {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		for i := range b.Visits {
			line = append(event.AppendVisitJSON(line[:0], &b.Visits[i]), '\n')
			if _, err := checkins.Write(line); err != nil {
				return err
			}
		}
		for i := range b.Encounters {
			line = append(event.AppendEncounterJSON(line[:0], &b.Encounters[i]), '\n')
			if _, err := proximity.Write(line); err != nil {
				return err
			}
		}
		res.Visits, res.Encounters = res.Visits+len(b.Visits), res.Encounters+len(b.Encounters)
	}
	return nil
}

type gzipFile struct {
	f  *os.File
	bw *bufio.Writer
	w  *gzip.Writer
}

func createGzip(path string) (*gzipFile, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	w, _ := gzip.NewWriterLevel(bw, gzip.BestSpeed) // a valid level cannot fail
	return &gzipFile{f: f, bw: bw, w: w}, nil
}

func (g *gzipFile) close() error {
	return errors.Join(g.w.Close(), g.bw.Flush(), g.f.Close())
}
