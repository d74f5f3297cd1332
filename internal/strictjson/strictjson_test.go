package strictjson

import (
	"strings"
	"testing"
)

type sample struct {
	Name string `json:"name"`
}

type nested struct {
	Layers []layer          `json:"layers"`
	Views  map[string]layer `json:"views"`
	Note   string           `json:"note,omitempty"`
}

type layer struct {
	Opacity float64 `json:"opacity"`
	Visible bool    `json:"visible"`
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

func TestDecodeNamesMissingAndMistypedFields(t *testing.T) {
	cases := []struct {
		name, input, want string
	}{
		{"missing top-level field", `{"views":{}}`, "layers is missing"},
		{"missing field in an array item", `{"layers":[{"opacity":1,"visible":true},{"visible":true}],"views":{}}`, "layers[1].opacity is missing"},
		{"missing field in a map value", `{"layers":[],"views":{"axial":{"opacity":1}}}`, "views.axial.visible is missing"},
		{"wrong type", `{"layers":[{"opacity":"high","visible":true}],"views":{}}`, "layers.opacity is a JSON string, want a number"},
		{"null file", `null`, `starts with "null", want a nested object in braces`},
		{"array file", `[]`, `starts with "[]"`},
		{"NaN", `{"layers":[{"opacity":NaN,"visible":true}],"views":{}}`, "invalid JSON on line 1"},
	}
	for _, c := range cases {
		var n nested
		err := DecodeComplete(strings.NewReader(c.input), 1024, &n, "nested object")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
	// An omitempty field may be absent, and null counts as present.
	var n nested
	if err := DecodeComplete(strings.NewReader(`{"layers":null,"views":{"axial":{"opacity":0.5,"visible":false}}}`), 1024, &n, "nested object"); err != nil {
		t.Errorf("valid object: %v", err)
	}
}
