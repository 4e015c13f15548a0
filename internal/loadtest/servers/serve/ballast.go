package serve

// ballast is the memory Ballast keeps live.
//
//lint:ignore U1000 it is only written: being reachable is its purpose.
var ballast []byte

// Ballast keeps n bytes of pointer-free memory live for the rest of the
// process (n <= 0 releases what an earlier call kept). The collector counts
// it as live heap, so it narrows the room between the live heap and the
// next collection's goal without adding anything to mark: it isolates what
// the size of the live heap costs a server, apart from the pointers in it.
// The pages are never written, so they need not be resident.
func Ballast(n int) {
	if n <= 0 {
		ballast = nil
		return
	}
	ballast = make([]byte, n)
}
