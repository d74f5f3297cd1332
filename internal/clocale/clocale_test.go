package clocale

import "testing"

func TestNeedsCMessages(t *testing.T) {
	cases := []struct {
		env  map[string]string
		want bool
	}{
		{map[string]string{"LANG": "C.UTF-8"}, true},
		{map[string]string{"LC_MESSAGES": "C.utf8", "LANG": "en_US.UTF-8"}, true},
		{map[string]string{"LC_MESSAGES": "de_DE.UTF-8", "LANG": "C.UTF-8"}, false},
		{map[string]string{"LC_ALL": "C.UTF-8"}, false},
		{map[string]string{"LANG": "C"}, false},
		{map[string]string{"LANG": "en_GB.UTF-8"}, false},
		{map[string]string{}, false},
	}
	for _, c := range cases {
		if got := needsCMessages(func(name string) string { return c.env[name] }); got != c.want {
			t.Errorf("%v: needsCMessages = %v, want %v", c.env, got, c.want)
		}
	}
}
