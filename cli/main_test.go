package cli

import (
	"fmt"
	"net/http"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/truyvet/truyvet/openapi/openapitest"
)

// client is the tests' HTTP client to truyvet's servers: every exchange is
// checked against the OpenAPI document, a mismatch failing the call at once
// and the run at the end.
var client = &http.Client{Transport: openapitest.Shared()}

// TestMain fails the package's tests if any goroutine outlives them, or if
// any answer a test got is not what the OpenAPI document says.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		if err := openapitest.Shared().Err(); err != nil {
			fmt.Fprintf(os.Stderr, "answers outside the OpenAPI document:\n%v\n", err)
			code = 1
		}
		os.Exit(code)
	}))
}
