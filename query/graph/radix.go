package graph

// radixMin is the fewest elements worth radixSort's passes; below it a
// comparison sort is faster.
const radixMin = 4096

// radixSort orders s by key with a stable least-significant-digit radix
// sort over 16-bit digits, skipping the digits every element shares, and
// returns the sorted slice: s itself or one of the same length it allocated.
// One pass counts all four digits.
func radixSort[T any](s []T, key func(*T) uint64) []T {
	if len(s) < 2 {
		return s
	}
	count := make([][1 << 16]int, 4)
	for i := range s {
		k := key(&s[i])
		for d := range count {
			count[d][uint16(k>>(16*d))]++
		}
	}
	first := key(&s[0])
	var tmp []T
	for d := range count {
		shift := uint(16 * d)
		if count[d][uint16(first>>shift)] == len(s) {
			continue // every element has this digit
		}
		if tmp == nil {
			tmp = make([]T, len(s))
		}
		c := &count[d]
		off := 0
		for i, n := range c {
			c[i] = off
			off += n
		}
		for i := range s {
			v := uint16(key(&s[i]) >> shift)
			tmp[c[v]] = s[i]
			c[v]++
		}
		s, tmp = tmp, s
	}
	return s
}
