package page_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/page"
)

func TestPageJSON(t *testing.T) {
	b, err := json.Marshal(page.Page[int]{})
	require.NoError(t, err)
	assert.JSONEq(t, `{"items": [], "nextCursor": null}`, string(b))

	b, err = json.Marshal(page.Page[string]{Items: []string{"a"}, NextCursor: "c1"})
	require.NoError(t, err)
	assert.JSONEq(t, `{"items": ["a"], "nextCursor": "c1"}`, string(b))

	var p page.Page[string]
	require.NoError(t, json.Unmarshal(b, &p))
	assert.Equal(t, page.Page[string]{Items: []string{"a"}, NextCursor: "c1"}, p)

	m := page.Map(p, func(s string) int { return len(s) })
	assert.Equal(t, page.Page[int]{Items: []int{1}, NextCursor: "c1"}, m)
}

func TestCursorRoundTrip(t *testing.T) {
	type key struct {
		Name string `json:"n"`
		ID   string `json:"i"`
	}
	c := page.EncodeCursor(key{"Smith", "0190a5c4-7b1e-7cc3-8f00-000000000001"})
	var got key
	require.NoError(t, page.DecodeCursor(c, &got))
	assert.Equal(t, key{"Smith", "0190a5c4-7b1e-7cc3-8f00-000000000001"}, got)

	for _, bad := range []string{"!!!", "bm90IGpzb24", string(make([]byte, page.MaxCursorLen+1))} {
		assert.Equal(t, page.ErrCursor, page.DecodeCursor(bad, &got), bad)
	}
	assert.NoError(t, page.DecodeCursor("", &got), "an empty cursor is the first page")
}

// MaxCursorLen is where decoding stops: a well-formed cursor of that length
// is read, and one a little longer is refused before it is decoded.
func TestCursorLengthBound(t *testing.T) {
	// ["x…x"] of n bytes is 4n/3 characters of base64url.
	at := page.EncodeCursor([]string{strings.Repeat("x", page.MaxCursorLen*3/4-4)})
	require.Len(t, at, page.MaxCursorLen)
	var keys []string
	require.NoError(t, page.DecodeCursor(at, &keys))
	assert.Len(t, keys, 1)

	over := page.EncodeCursor([]string{strings.Repeat("x", page.MaxCursorLen*3/4-3)})
	require.Len(t, over, page.MaxCursorLen+2, "the next length a cursor can have")
	assert.Equal(t, page.ErrCursor, page.DecodeCursor(over, &keys))
}

// The longest cursor a service issues, two keys of 100 characters each
// taking the most JSON bytes a character can and an id, is accepted back;
// & < > are not escaped.
func TestWorstCursorIsAcceptedBack(t *testing.T) {
	id := "0190a5c4-7b1e-7cc3-8f00-000000000001"
	for _, r := range []string{"\u2028", "\U0001D538", "&", "\""} {
		keys := []string{strings.Repeat(r, 100), strings.Repeat(r, 100), id}
		c := page.EncodeCursor(keys)
		assert.LessOrEqual(t, len(c), page.MaxCursorLen, "%q", r)
		got, err := page.DecodeKeys(c, 3)
		require.NoError(t, err, "%q", r)
		assert.Equal(t, keys, got)
	}
	assert.Equal(t, len(page.EncodeCursor([]string{"a"})), len(page.EncodeCursor([]string{"&"})))
}

func FuzzDecodeCursor(f *testing.F) {
	f.Add(page.EncodeCursor([]string{"a", "b"}))
	f.Add("")
	f.Add("e30")
	f.Fuzz(func(t *testing.T, s string) {
		var v []string
		if err := page.DecodeCursor(s, &v); err != nil && err.Error() != page.ErrCursor.Error() {
			t.Fatalf("unexpected error %v", err)
		}
	})
}

func TestClampLimit(t *testing.T) {
	assert.Equal(t, page.DefaultLimit, page.ClampLimit(0))
	assert.Equal(t, page.DefaultLimit, page.ClampLimit(-3))
	assert.Equal(t, 7, page.ClampLimit(7))
	assert.Equal(t, page.MaxLimit, page.ClampLimit(page.MaxLimit+1))
}

func TestDecodeKeys(t *testing.T) {
	id := "01890a5d-ac96-774b-bcce-b302099a8057"
	keys, err := page.DecodeKeys(page.EncodeCursor([]string{"Smith", id}), 2)
	require.NoError(t, err)
	assert.Equal(t, []string{"Smith", id}, keys)

	for name, c := range map[string]string{
		"not a cursor":      "%%%",
		"too few keys":      page.EncodeCursor([]string{id}),
		"not strings":       page.EncodeCursor([]int{1, 2}),
		"id not a uuid":     page.EncodeCursor([]string{"Smith", "x"}),
		"id not canonical":  page.EncodeCursor([]string{"Smith", strings.ToUpper(id)}),
		"control character": page.EncodeCursor([]string{"Sm\x00ith", id}),
	} {
		_, err := page.DecodeKeys(c, 2)
		assert.Equal(t, page.ErrCursor, err, name)
	}
}

func TestCut(t *testing.T) {
	keys := func(last int) []string { return []string{strconv.Itoa(last)} }
	assert.Equal(t, page.Page[int]{Items: []int{1, 2}}, page.Cut([]int{1, 2}, 2, keys), "no more rows: the last page")
	p := page.Cut([]int{1, 2, 3}, 2, keys)
	assert.Equal(t, []int{1, 2}, p.Items)
	var after []string
	require.NoError(t, page.DecodeCursor(p.NextCursor, &after))
	assert.Equal(t, []string{"2"}, after, "the cursor holds the keys of the last item kept")
}
