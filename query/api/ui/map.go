package ui

import (
	"crypto/sha256"
	"encoding/hex"
)

// mapAssets adds the Safety Map page's province outlines (mapdata/README.md)
// to assets, at /ui/provinces-vn.json.
func mapAssets(assets map[string]asset) {
	body, err := files.ReadFile("mapdata/provinces-vn.json")
	if err != nil {
		panic("ui: reading embedded file: " + err.Error()) // cannot happen: the file is compiled in
	}
	sum := sha256.Sum256(body)
	assets["/ui/provinces-vn.json"] = asset{body: body, contentType: "application/json", etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
}
