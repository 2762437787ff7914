package wxcodec

// Structure limits of a push document (XML or JSON, plaintext, envelope or
// decrypted message alike). Real pushes are a flat document of some 5 to 20
// fields without attributes; the limits leave a wide margin above that and
// bound the work an unauthenticated body can cause: the scanners stop at the
// first node past a limit, before anything is built from the document, with
// an error wrapping [ErrLimit].
const (
	// MaxDepth bounds nesting: the XML root element or the top-level JSON
	// object is level 1, and nothing may open level MaxDepth+1.
	MaxDepth = 32
	// MaxNodes bounds the nodes of a document, counted at every depth: in
	// XML every element below the root and every attribute (the root's
	// included), in JSON every object member and every array element
	// below the top-level object.
	MaxNodes = 256
	// MaxAttributes bounds the attributes of one XML element.
	MaxAttributes = 16
)
