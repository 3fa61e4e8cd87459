package jsonhttp_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/internal/jsonhttp"
)

func TestWrite(t *testing.T) {
	rec := httptest.NewRecorder()
	jsonhttp.Write(rec, http.StatusTeapot, map[string]int{"a": 1})
	require.Equal(t, http.StatusTeapot, rec.Code)
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	require.JSONEq(t, `{"a":1}`, rec.Body.String())
}

func TestErrorTextHidesInternalCauses(t *testing.T) {
	err := errors.New("dial tcp 10.0.0.7:5432: connection refused")
	require.Equal(t, jsonhttp.Internal, jsonhttp.ErrorText(http.StatusInternalServerError, err))
	require.Equal(t, err.Error(), jsonhttp.ErrorText(http.StatusBadRequest, err))
}
