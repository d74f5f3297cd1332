// Package clocale keeps Fyne from logging an error at start-up under the C.UTF-8
// locale, the default of many containers and CI machines.
//
// Fyne's translation lookup reads LC_ALL, LC_MESSAGES and LANG, in that order, and
// parses the first one that is set. It accepts "C" and "POSIX", but parses "C.UTF-8"
// as the language tag "C" and logs "Error parsing user locale C". The messages of
// C.UTF-8 are those of C, so when LC_MESSAGES or LANG holds C.<encoding> and decides,
// this package sets LC_MESSAGES to "C", which changes nothing else. It does nothing
// when LC_ALL is set, since LC_ALL overrides every other variable. The main package
// imports it first: it acts in its init function, which runs before Fyne's packages
// read the environment.
package clocale

import (
	"os"
	"strings"
)

func init() {
	if needsCMessages(os.Getenv) {
		os.Setenv("LC_MESSAGES", "C")
	}
}

// needsCMessages reports whether the locale variable that decides the messages, read
// with getenv, is C.<encoding> and can be replaced by setting LC_MESSAGES.
func needsCMessages(getenv func(string) string) bool {
	for _, name := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		if value := getenv(name); value != "" {
			return name != "LC_ALL" && strings.HasPrefix(value, "C.")
		}
	}
	return false
}
