package ingest

// WithRejections calls f with the reason of each record refused (the
// summary's rejection counts). f must not block: it runs on the request.
func WithRejections(f func(reason string)) Option {
	return func(h *Handler) { h.rejected = f }
}
