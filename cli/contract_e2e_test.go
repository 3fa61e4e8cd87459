package cli_test

import (
	"net/http"

	"github.com/truyvet/truyvet/openapi/openapitest"
)

// client is the end-to-end tests' HTTP client: every exchange is checked
// against the OpenAPI document (see TestMain).
var client = &http.Client{Transport: openapitest.Shared()}
