package poster_test

import (
	"bytes"
	"encoding/xml"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/truyvet/truyvet/venue/poster"
)

var hcm = poster.Venue{
	Name:    "Chợ Bến Thành — Khu ẩm thực, Phường Bến Thành",
	Address: "Đường Lê Lợi, Phường Bến Thành, Quận 1, Thành phố Hồ Chí Minh",
	Code:    "TV1.72.MECI327FFPUER5QG",
}

func renderer(t *testing.T) *poster.Renderer {
	t.Helper()
	r, err := poster.NewRenderer()
	require.NoError(t, err)
	return r
}

// zbar decodes the QR symbols of a PNG with zbarimg (Debian's zbar-tools).
// It fails under CI=true when zbarimg is missing and skips elsewhere.
func zbar(t *testing.T, pngBytes []byte) []string {
	t.Helper()
	bin, err := exec.LookPath("zbarimg")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("zbarimg not found: CI installs zbar-tools (apt-get install -y zbar-tools)")
		}
		t.Skip("zbarimg not found; apt-get install -y zbar-tools")
	}
	path := filepath.Join(t.TempDir(), "poster.png")
	require.NoError(t, os.WriteFile(path, pngBytes, 0o600))
	out, err := exec.CommandContext(t.Context(), bin, "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", path).Output()
	require.NoError(t, err, "zbarimg found no QR code")
	return strings.Fields(string(out))
}

func TestPNGDecodesToTheCode(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, renderer(t).PNG(&b, hcm))
	img, err := png.Decode(bytes.NewReader(b.Bytes()))
	require.NoError(t, err)
	require.Equal(t, image.Rect(0, 0, poster.Width, poster.Height), img.Bounds())
	if dir := os.Getenv("POSTER_OUT"); dir != "" {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "poster.png"), b.Bytes(), 0o600))
	}
	require.Equal(t, []string{hcm.Code}, zbar(t, b.Bytes()))
}

// moduleRE matches one QR module of the SVG's symbol path.
var moduleRE = regexp.MustCompile(`M([0-9.]+) ([0-9.]+)h([0-9.]+)v`)

func TestSVGDecodesToTheCode(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, renderer(t).SVG(&b, hcm))
	// Well-formed XML, titled with the name and the code as sent.
	var doc struct {
		XMLName xml.Name
		Title   string `xml:"title"`
		Paths   []struct {
			D     string `xml:"d,attr"`
			Shape string `xml:"shape-rendering,attr"`
		} `xml:"path"`
	}
	require.NoError(t, xml.Unmarshal(b.Bytes(), &doc))
	require.Equal(t, "svg", doc.XMLName.Local)
	require.Equal(t, hcm.Name+" — "+hcm.Code, doc.Title)
	require.Greater(t, len(doc.Paths), 3, "the symbol and the lines of text")

	// Paint the symbol's modules and read them back.
	img := image.NewRGBA(image.Rect(0, 0, poster.Width, poster.Height))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	n := 0
	for _, p := range doc.Paths {
		if p.Shape != "crispEdges" {
			continue
		}
		for _, m := range moduleRE.FindAllStringSubmatch(p.D, -1) {
			x, _ := strconv.ParseFloat(m[1], 64)
			y, _ := strconv.ParseFloat(m[2], 64)
			s, _ := strconv.ParseFloat(m[3], 64)
			draw.Draw(img, image.Rect(int(x), int(y), int(x+s), int(y+s)), image.NewUniform(color.Black), image.Point{}, draw.Src)
			n++
		}
	}
	require.Greater(t, n, 100)
	var pb bytes.Buffer
	require.NoError(t, png.Encode(&pb, img))
	require.Equal(t, []string{hcm.Code}, zbar(t, pb.Bytes()))
}

func TestFontsCoverVietnamese(t *testing.T) {
	r := renderer(t)
	const alphabet = "AĂÂBCDĐEÊGHIKLMNOÔƠPQRSTUƯVXY" +
		"àáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ" +
		"ÀÁẢÃẠẰẮẲẴẶẦẤẨẪẬÈÉẺẼẸỀẾỂỄỆÌÍỈĨỊÒÓỎÕỌỒỐỔỖỘỜỚỞỠỢÙÚỦŨỤỪỨỬỮỰỲÝỶỸỴ—…"
	require.Empty(t, r.Missing(alphabet))
	require.Empty(t, r.Missing("Chu\u0300a Mo\u0323t Co\u0302\u0323t"), "decomposed text is composed before drawing")
	require.Equal(t, []rune{'漢'}, r.Missing("Nhà thuốc 漢"))
}

func TestLongNamesAndOddTextStillRender(t *testing.T) {
	r := renderer(t)
	for _, v := range []poster.Venue{
		{Name: strings.Repeat("Trường Trung học phổ thông Chuyên ", 6), Address: strings.Repeat("Số 1 ", 60), Code: "TV1.4294967295.AAAAAAAAAAAAAAAA"},
		{Name: strings.Repeat("Ư", 200), Address: "x", Code: "TV1.1.AAAAAAAAAAAAAAAA"},
		{Name: "😷 <script>&", Address: "\u200b", Code: "TV1.1.AAAAAAAAAAAAAAAA"},
	} {
		var b bytes.Buffer
		require.NoError(t, r.PNG(&b, v))
		require.NotZero(t, b.Len())
		b.Reset()
		require.NoError(t, r.SVG(&b, v))
		require.NoError(t, xml.Unmarshal(b.Bytes(), new(struct{})), "the SVG stays well-formed")
	}
}
