package wxcodec

// Envelope is the outer document of an encrypted push.
type Envelope struct {
	// Format is the format of the body.
	Format Format
	// ToUserName is the mini program original id ("" when absent).
	ToUserName string
	// Encrypt is the base64 ciphertext, exactly as received ("" when absent).
	Encrypt string
	// Plain is true when the body also carries plaintext fields besides
	// ToUserName and Encrypt (compatible mode). WeCom's AgentID does not count.
	Plain bool
}

// ParseEnvelope parses the outer document of a push, XML or JSON. It
// validates the whole document but reads only ToUserName and Encrypt;
// Encrypt is "" when absent. Errors wrap [ErrFormat], [ErrSyntax] or are a
// [*FieldError] (for example a duplicate Encrypt).
func ParseEnvelope(body []byte) (Envelope, error) {
	e, err := scanEnvelope(body)
	if err != nil {
		return Envelope{}, err
	}
	return Envelope{
		Format:     e.format,
		ToUserName: string(e.to),
		Encrypt:    string(e.encrypt),
		Plain:      e.plain,
	}, nil
}

// envelope is the result of scanEnvelope. to and encrypt alias body unless
// their text needed decoding.
type envelope struct {
	format     Format
	plain      bool
	hasEncrypt bool
	to         []byte
	encrypt    []byte
}
