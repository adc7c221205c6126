package web

// DuplicateKey exposes duplicateKey to the fuzz test.
var DuplicateKey = duplicateKey
