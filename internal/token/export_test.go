package token

// Sharing returns how many callers wait for appid's lookup in progress on
// m, an observable for the tests of package token_test to poll.
func Sharing(m *Manager, appid string) int { return m.sharing(appid) }
