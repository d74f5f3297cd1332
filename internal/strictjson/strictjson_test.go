package strictjson

import (
	"strings"
	"testing"
)

type sample struct {
	Name string `json:"name"`
}

func TestDecodeRejectsLooseJSON(t *testing.T) {
	cases := []struct {
		name, input, want string
	}{
		{"unknown field", `{"name":"a","colour":"red"}`, `"colour"`},
		{"trailing object", `{"name":"a"} {"name":"b"}`, "data after the sample object"},
		{"too large", `{"name":"` + strings.Repeat("x", 64) + `"}`, "larger than 32 bytes, the limit for a sample object"},
		{"not JSON", `name: a`, "invalid JSON"},
	}
	for _, c := range cases {
		var s sample
		err := Decode(strings.NewReader(c.input), 32, &s, "sample object")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

func TestDecodeReadsValidObject(t *testing.T) {
	var s sample
	if err := Decode(strings.NewReader(`{"name":"kidney"}`+"\n"), 32, &s, "sample object"); err != nil {
		t.Fatal(err)
	}
	if s.Name != "kidney" {
		t.Errorf("name %q, want %q", s.Name, "kidney")
	}
}
