package argon2

// SetKeyFunc replaces the argon2id computation, so that tests can hold a
// slot of the pool for as long as they need.
func (h *Hasher) SetKeyFunc(f func(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte) {
	h.key = f
}
