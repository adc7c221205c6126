package index

import (
	"encoding/binary"
	"hash/maphash"
	"maps"
	"math/bits"
	"slices"
)

// shardSize is the number of entries a table aims at per shard: a change
// copies one shard, so this bounds the copy of a change. It is small
// because the changes of a batch land on random shards: with 2,048 a
// batch of 1,000 grants copied every shard of a table of a million, and
// a bulk import slowed with the square of its size.
const shardSize = 32

// maxShards bounds a table's shards (each an empty map costs little, but
// the slice of them, 2 MiB at most, is copied by every batch of changes).
const maxShards = 1 << 18

// table is a hash map split into shards by the hash of the key, copied on
// write a shard at a time: a snapshot's tables are never changed, and an
// edit (edit) copies the slice of shards and each shard it touches.
type table[K comparable, V any] struct {
	shards []map[K]V
	hash   func(K) uint64
	mask   uint64
	len    int
}

// newTable returns an empty table sized for about n entries.
func newTable[K comparable, V any](n int, hash func(K) uint64) *table[K, V] {
	shards := 1
	if n > shardSize {
		shards = min(1<<bits.Len(uint(n/shardSize)), maxShards)
	}
	return &table[K, V]{shards: make([]map[K]V, shards), hash: hash, mask: uint64(shards - 1)}
}

// get returns the value of k.
func (t *table[K, V]) get(k K) (V, bool) {
	v, ok := t.shards[t.hash(k)&t.mask][k]
	return v, ok
}

// all calls each on every entry until it returns false.
func (t *table[K, V]) all(each func(K, V) bool) {
	for _, shard := range t.shards {
		for k, v := range shard {
			if !each(k, v) {
				return
			}
		}
	}
}

// tableEdit changes a copy of a table; the table it started from, and
// every snapshot holding it, are left as they were.
type tableEdit[K comparable, V any] struct {
	t *table[K, V]
	// owned marks the shards this edit copied already.
	owned []bool
}

// build returns an edit of a new table sized for about n entries. Its
// shards grow as entries come: a map made for its final size holds them
// in a power-of-two table that may be half empty.
func build[K comparable, V any](n int, hash func(K) uint64) *tableEdit[K, V] {
	t := newTable[K, V](n, hash)
	e := &tableEdit[K, V]{t: t, owned: make([]bool, len(t.shards))}
	for i := range t.shards {
		t.shards[i] = map[K]V{}
		e.owned[i] = true
	}
	return e
}

func (t *table[K, V]) edit() *tableEdit[K, V] {
	next := *t
	next.shards = append([]map[K]V(nil), t.shards...)
	return &tableEdit[K, V]{t: &next, owned: make([]bool, len(t.shards))}
}

// shard returns the shard of k, copied for this edit.
func (e *tableEdit[K, V]) shard(k K) map[K]V {
	i := e.t.hash(k) & e.t.mask
	if !e.owned[i] {
		e.t.shards[i] = maps.Clone(e.t.shards[i])
		if e.t.shards[i] == nil {
			e.t.shards[i] = map[K]V{}
		}
		e.owned[i] = true
	}
	return e.t.shards[i]
}

func (e *tableEdit[K, V]) set(k K, v V) {
	shard := e.shard(k)
	if _, ok := shard[k]; !ok {
		e.t.len++
	}
	shard[k] = v
}

func (e *tableEdit[K, V]) delete(k K) {
	if _, ok := e.t.get(k); !ok {
		return
	}
	delete(e.shard(k), k)
	e.t.len--
}

// done returns the edited table, with twice the shards when it has
// outgrown them (a table grown by changes from a small start).
func (e *tableEdit[K, V]) done() *table[K, V] {
	t := e.t
	if t.len <= 4*shardSize*len(t.shards) || len(t.shards) >= maxShards {
		return t
	}
	g := build[K, V](t.len, t.hash)
	t.all(func(k K, v V) bool { g.set(k, v); return true })
	return g.t
}

// Hashes of the keys of tables.
func hashString(seed maphash.Seed) func(string) uint64 {
	return func(s string) uint64 { return maphash.String(seed, s) }
}

func hashNumber(n int32) uint64 { return uint64(n) * 0x9e3779b97f4a7c15 >> 20 }

// hashID hashes a grant key: a UUID's last bytes are random.
func hashID(id [16]byte) uint64 { return binary.LittleEndian.Uint64(id[8:]) }

// chunkBits sets the size of a chunk of nodeLists: 256 nodes.
const chunkBits = 8

// nodeLists holds each node's grants by node number, in chunks copied on
// write one at a time: a decision reads a node's grants by two indexes,
// without hashing.
type nodeLists [][][]grant

func newNodeLists(nodes int) nodeLists {
	c := make(nodeLists, (nodes>>chunkBits)+1)
	for i := range c {
		c[i] = make([][]grant, 1<<chunkBits)
	}
	return c
}

func (c nodeLists) get(n int32) []grant { return c[n>>chunkBits][n&(1<<chunkBits-1)] }

// nodeListsEdit changes a copy of nodeLists.
type nodeListsEdit struct {
	c     nodeLists
	owned []bool
}

func (c nodeLists) edit() *nodeListsEdit {
	return &nodeListsEdit{c: slices.Clone(c), owned: make([]bool, len(c))}
}

func (e *nodeListsEdit) set(n int32, list []grant) {
	i := n >> chunkBits
	if !e.owned[i] {
		e.c[i] = slices.Clone(e.c[i])
		e.owned[i] = true
	}
	e.c[i][n&(1<<chunkBits-1)] = list
}
