package password

// Decode exposes the PHC parser to the fuzz test.
func Decode(hash string) (Params, []byte, []byte, error) { return decode(hash) }
