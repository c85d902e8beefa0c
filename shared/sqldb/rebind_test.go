package sqldb

import (
	"slices"
	"strings"
	"testing"
)

func TestRebind(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"none", "SELECT 1", "SELECT 1"},
		{"in order", "INSERT INTO t (a, b, c) VALUES (?, ?, ?)", "INSERT INTO t (a, b, c) VALUES ($1, $2, $3)"},
		{"adjacent to words", "a=?AND b=?", "a=$1AND b=$2"},
		{"string", "SELECT '?', ? FROM t WHERE x = 'it''s ?'", "SELECT '?', $1 FROM t WHERE x = 'it''s ?'"},
		{"escape string", `SELECT E'it\'s ?', ?`, `SELECT E'it\'s ?', $1`},
		{"backslash in a plain string", `SELECT 'C:\', ?`, `SELECT 'C:\', $1`},
		{"e ending a word is no escape string", `SELECT type'x\', ?`, `SELECT type'x\', $1`},
		{"quoted identifier", `SELECT "wh?t", "a""?" FROM t WHERE id = ?`, `SELECT "wh?t", "a""?" FROM t WHERE id = $1`},
		{"line comment", "SELECT ? -- why?\n, ?", "SELECT $1 -- why?\n, $2"},
		{"line comment at the end", "SELECT ? -- why?", "SELECT $1 -- why?"},
		{"block comment", "SELECT /* ? */ ?", "SELECT /* ? */ $1"},
		{"nested block comment", "SELECT /* a /* ? */ ? */ ?", "SELECT /* a /* ? */ ? */ $1"},
		{"dollar quote", "SELECT $$ ? $$, ?", "SELECT $$ ? $$, $1"},
		{"tagged dollar quote", "SELECT $fn$ $$ ? $$ $fn$, ?", "SELECT $fn$ $$ ? $$ $fn$, $1"},
		{"positional parameter is no tag", "SELECT $1, ?", "SELECT $1, $1"},
		{"dollar inside an identifier", "SELECT a$b, ?, c$$", "SELECT a$b, $1, c$$"},
		{"cast", "SELECT ?::int", "SELECT $1::int"},
		{"ten and more", strings.Repeat("?,", 11) + "?", "$1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12"},
		{"unclosed string", "SELECT ?, 'oops ?", "SELECT $1, 'oops ?"},
		{"unclosed comment", "SELECT ? /* ?", "SELECT $1 /* ?"},
		{"multibyte", "SELECT 'é?', ? -- ü?", "SELECT 'é?', $1 -- ü?"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := rebind(tc.in); got != tc.want {
				t.Errorf("rebind(%q)\n got %q\nwant %q", tc.in, got, tc.want)
			}
		})
	}
}

// FuzzPlaceholders checks properties that hold for any text: marks point at
// ? in order; a text wrapped in a string, identifier, comment or dollar
// quote has no placeholder; and two closed texts apart lex as each alone.
func FuzzPlaceholders(f *testing.F) {
	for _, s := range []string{
		"SELECT ?", "'?'", `E'\'?'`, `"?"`, "-- ?\n?", "/* /* ? */ */ ?", "$$?$$ ?", "$a$ ? $a$", "$1 ?",
		"a$$?", "e'", "'", `"`, "/*", "$", "$a", "$$", "--", "?\x00?", "é?",
	} {
		f.Add(s, "?")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		marks, closed := placeholders(a)
		for i, m := range marks {
			if a[m] != '?' || i > 0 && marks[i-1] >= m {
				t.Fatalf("placeholders(%q) = %v", a, marks)
			}
		}
		if strings.Count(rebind(a), "$")-strings.Count(a, "$") != len(marks) {
			t.Fatalf("rebind(%q) = %q: not one $ per placeholder", a, rebind(a))
		}
		for _, wrapped := range []string{
			"'" + strings.ReplaceAll(a, "'", "''") + "'",
			`"` + strings.ReplaceAll(a, `"`, `""`) + `"`,
			"-- " + strings.ReplaceAll(a, "\n", " ") + "\n",
			"/* " + strings.NewReplacer("/", "", "*", "").Replace(a) + " */",
			"$q$" + strings.ReplaceAll(a, "$", "") + "$q$",
		} {
			if m, ok := placeholders(wrapped); len(m) != 0 || !ok {
				t.Fatalf("placeholders(%q) = %v, %v: want none, closed", wrapped, m, ok)
			}
		}
		if !closed {
			return
		}
		// b may itself end open: only the marks matter.
		joined, _ := placeholders(a + " " + b)
		rest, _ := placeholders(b)
		want := slices.Clone(marks)
		for _, m := range rest {
			want = append(want, len(a)+1+m)
		}
		if !slices.Equal(joined, want) {
			t.Fatalf("placeholders(%q + %q) = %v, want %v", a, b, joined, want)
		}
	})
}
