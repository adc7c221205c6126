package api

// DuplicateKey exposes duplicateKey to the fuzz test.
var DuplicateKey = duplicateKey

// WireFieldPath and DomainName expose the field path mapping to its tests.
var (
	WireFieldPath = wireFieldPath
	DomainName    = domainName
)
