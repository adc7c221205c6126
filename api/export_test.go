package api

// WireFieldPath and DomainName expose the field path mapping to its tests.
var (
	WireFieldPath = wireFieldPath
	DomainName    = domainName
)
