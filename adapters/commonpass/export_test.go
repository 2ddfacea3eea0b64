package commonpass

// Entries returns the list's passwords, for tests that inspect them all.
func Entries(l *List) []string {
	out := make([]string, 0, len(l.set))
	for e := range l.set {
		out = append(out, e)
	}
	return out
}

// NewList exposes newList to the tests.
var NewList = newList
