package bridge

import "testing"

func TestGCPercent(t *testing.T) {
	env := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	if got, ok := gcPercent(env(nil)); !ok || got != DefaultGOGC {
		t.Errorf("without GOGC: %d, %v; want %d, true", got, ok, DefaultGOGC)
	}
	for _, v := range []string{"100", "off", ""} {
		if _, ok := gcPercent(env(map[string]string{"GOGC": v})); ok {
			t.Errorf("GOGC=%q: kfbridge overrides it, want the runtime's setting kept", v)
		}
	}
}
