package supervisor

// Exported for the external tests (server_test.go), which use the client
// package and so cannot live in package supervisor.

type FakeBackend = fakeBackend

var NewFakeBackend = newFakeBackend

// Sandbox returns the fake's sandbox id, for assertions.
func (f *fakeBackend) Destroyed(id string) bool {
	sb := f.get(id)
	return sb != nil && sb.isDestroyed()
}
