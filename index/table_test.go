package index

import (
	"hash/maphash"
	"reflect"
	"strconv"
	"testing"
)

// TestTableCopyOnWrite: an edit copies the shard it touches only, and
// leaves the table it started from as it was.
func TestTableCopyOnWrite(t *testing.T) {
	e := build[string, int](100_000, hashString(maphash.MakeSeed()))
	for i := range 100_000 {
		e.set(strconv.Itoa(i), i)
	}
	before := e.done()
	edit := before.edit()
	edit.set("new", -1)
	edit.delete("7")
	after := edit.done()
	if _, ok := before.get("new"); ok {
		t.Fatal("the edit changed the table it started from: got new")
	}
	if v, ok := before.get("7"); !ok || v != 7 {
		t.Fatalf("the edit changed the table it started from: got 7 = %d, %v", v, ok)
	}
	if v, ok := after.get("new"); !ok || v != -1 {
		t.Fatalf("after the edit: got new = %d, %v; want -1", v, ok)
	}
	if _, ok := after.get("7"); ok || after.len != before.len {
		t.Fatalf("after the edit: got 7 present %v, %d entries; want absent, %d", ok, after.len, before.len)
	}
	copied := 0
	for i := range before.shards {
		if reflect.ValueOf(before.shards[i]).UnsafePointer() != reflect.ValueOf(after.shards[i]).UnsafePointer() {
			copied++
		}
	}
	if len(before.shards) < 8 || copied > 2 {
		t.Fatalf("got %d of %d shards copied; want at most the 2 touched", copied, len(before.shards))
	}
}

// TestTableGrows: a table grown by edits from a small start gets more
// shards, with every entry kept.
func TestTableGrows(t *testing.T) {
	tab := newTable[int32, int32](0, hashNumber)
	for round := range 10 {
		e := tab.edit()
		for i := range int32(2000) {
			n := int32(round)*2000 + i
			e.set(n, -n)
		}
		tab = e.done()
	}
	if len(tab.shards) < 2 {
		t.Fatalf("got %d shards for %d entries; want more than one", len(tab.shards), tab.len)
	}
	for n := range int32(20000) {
		if v, ok := tab.get(n); !ok || v != -n {
			t.Fatalf("got %d = %d, %v; want %d", n, v, ok, -n)
		}
	}
}
