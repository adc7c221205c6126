package policy

// MaxCompiled is maxCompiled, for tests.
const MaxCompiled = maxCompiled

// CompiledCount returns how many compiled documents the cache holds.
func CompiledCount() int {
	compiled.RLock()
	defer compiled.RUnlock()
	return len(compiled.sets)
}
