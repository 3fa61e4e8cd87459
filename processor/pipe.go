package processor

import (
	"context"
	"errors"
	"fmt"

	"github.com/truyvet/truyvet/schemas/event"
)

// ErrPipeClosed is returned by Pipe.Produce once the pipe has stopped.
var ErrPipeClosed = errors.New("processor pipe is closed")

// Pipe hands batches from ingest to the processor inside one process (the
// all-in-one mode). It is an ingest producer: Produce returns nil only once
// the batch is durable and queryable. Batches that arrive while the sink is
// busy are combined into one write (group commit), so many small requests
// cost one sync.
type Pipe struct {
	proc       *Processor
	reqs       chan *pipeReq
	done       chan struct{}
	maxRecords int
}

type pipeReq struct {
	batch *event.Batch
	err   chan error
}

// NewPipe returns a pipe into proc. maxRecords bounds how many records one
// combined write may hold.
func NewPipe(proc *Processor, maxRecords int) *Pipe {
	if maxRecords <= 0 {
		maxRecords = 50_000
	}
	return &Pipe{proc: proc, reqs: make(chan *pipeReq, 256), done: make(chan struct{}), maxRecords: maxRecords}
}

// Produce processes b and returns once it is durable, or with the error that
// prevented it. When ctx ends first the batch may still be written; callers
// retry, and a replay changes nothing.
func (p *Pipe) Produce(ctx context.Context, b *event.Batch) error {
	if b.Len() == 0 {
		return nil
	}
	req := &pipeReq{batch: b, err: make(chan error, 1)}
	select {
	case p.reqs <- req:
		p.proc.metrics.pipePending.Inc()
	case <-p.done:
		return ErrPipeClosed
	case <-ctx.Done():
		return fmt.Errorf("wait for the processor: %w", ctx.Err())
	}
	select {
	case err := <-req.err:
		return err
	case <-p.done:
		// Run has stopped; it answered every request it took.
		select {
		case err := <-req.err:
			return err
		default:
			return ErrPipeClosed
		}
	case <-ctx.Done():
		return fmt.Errorf("wait for the write: %w", ctx.Err())
	}
}

// Run writes batches until ctx ends, then fails any still waiting.
func (p *Pipe) Run(ctx context.Context) error {
	defer close(p.done)
	var pending []*pipeReq
	var combined event.Batch
	for {
		select {
		case <-ctx.Done():
			p.drain()
			return nil
		case req := <-p.reqs:
			pending = append(pending[:0], req)
		}
		n := pending[0].batch.Len()
	gather:
		for n < p.maxRecords {
			select {
			case req := <-p.reqs:
				pending = append(pending, req)
				n += req.batch.Len()
			default:
				break gather
			}
		}
		p.proc.metrics.pipePending.Sub(float64(len(pending)))
		batch := pending[0].batch
		if len(pending) > 1 {
			combined.Reset()
			for _, r := range pending {
				combined.Append(r.batch)
			}
			batch = &combined
		}
		// The write is not tied to one request's context: it serves many.
		err := p.proc.Process(context.WithoutCancel(ctx), batch)
		for _, r := range pending {
			r.err <- err
		}
	}
}

func (p *Pipe) drain() {
	for {
		select {
		case req := <-p.reqs:
			p.proc.metrics.pipePending.Dec()
			req.err <- ErrPipeClosed
		default:
			return
		}
	}
}
