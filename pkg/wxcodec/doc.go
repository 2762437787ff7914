// Package wxcodec verifies, decrypts, parses and encodes the pushes that
// WeChat sends to a mini program's customer-service message URL, and
// encodes the passive replies to them.
//
// It implements the WXBizMsgCrypt scheme: the GET URL verification
// ([Codec.VerifyURL]), the 3-part [Signature] and 4-part [MsgSignature],
// EncodingAESKey handling ([ParseKey]), AES-256-CBC with WeChat's 32-byte
// PKCS#7 padding ([Key.Decrypt], [Key.Encrypt]), the receiveid (AppID)
// check, XML and JSON bodies (sniffed with [Sniff]), the plaintext,
// compatible and safe modes ([Mode]), every message and event kind
// ([Message], [ParseMessage], [EncodeMessage]) and the
// transfer_customer_service passive reply ([TransferReply], [EncodeReply],
// [Codec.EncryptReply]).
//
// The package is pure: no I/O, no logging, no goroutines, no global mutable
// state. Randomness for encryption is read from an [io.Reader] the caller
// passes (crypto/rand.Reader in production).
//
// # Usage
//
// Create one [Codec] per mini program with [New]. It accepts only the mode
// its key implies (safe with an EncodingAESKey, plaintext without) unless
// [WithModes] lists others; [WithPrevious] adds the token and key in use
// before a rotation. Then, in the HTTP handler:
//
//	q := wxcodec.ParseQuery(r.URL.Query())
//	if r.Method == http.MethodGet {
//		echo, err := codec.VerifyURL(q)
//		// answer echo verbatim, or 401 on error
//	}
//	if err := wxcodec.CheckTimestamp(q.Timestamp, time.Now(), 5*time.Minute); err != nil {
//		// optional replay protection
//	}
//	push, err := codec.Decode(q, body)
//	// publish push.Message, then answer "success" (or a transfer reply:
//	// EncodeReply(push.Format, TransferReply(push.Message, time.Now())),
//	// wrapped with codec.EncryptReplyFor(&push, …) unless push.Mode is
//	// ModePlaintext)
//
// [Codec.EncodePush] builds signed pushes as WeChat sends them, for
// simulators and tests.
//
// # Untrusted input
//
// Every parser runs in time linear in its input: one pass over the body
// (plus one more over an element converted for [Field]) and hashed
// duplicate checks. The structure of a document is bounded, as real pushes
// (a flat document of some 5 to 20 fields without attributes) allow with a
// wide margin: nesting at [MaxDepth] (32) levels, the root element or
// top-level JSON object being level 1, so that an event carrying a push
// stays within every JSON reader's limits; at most [MaxNodes] (256) nodes
// counted at every depth (XML elements below the root and attributes, JSON
// object members and array elements); at most [MaxAttributes] (16)
// attributes per XML element. The scanners check the limits as they go and
// stop at the first node past one with an error wrapping [ErrLimit] (itself
// an [ErrSyntax]), before anything is built from the document, so a body
// over them costs a bounded amount of work beyond one linear scan of its
// bytes. The limits apply to the envelope of an encrypted push, the
// decrypted message and a plaintext push alike. For an
// encrypted push, [Codec.Decode] checks msg_signature right after one such
// pass over the envelope, which keeps nothing but ToUserName and Encrypt
// and allocates nothing; the decrypted message is parsed only after the
// signature and the AppID match. BenchmarkAdversarial measures the cost
// per byte of bodies built to be slow (many attributes, siblings or
// members, deep nesting, long names and texts, escapes, and the most
// structure the limits allow filled with text).
//
// XML is the subset WeChat uses, read as encoding/xml reads it: one root
// element; ASCII names with at most one colon (prefixes are not
// interpreted); UTF-8 only (an XML declaration may only say version 1.0 and
// encoding UTF-8); comments, processing instructions, CDATA, the five
// predefined entities and character references to XML characters. DOCTYPE
// and any other declaration, text directly in the root, duplicate
// attributes and "]]>" outside CDATA are rejected. The fuzz tests check
// that the scanner accepts a document exactly when encoding/xml does and
// these rules and the structure limits hold, and that both read the same
// elements and text. JSON is what encoding/json accepts within the
// structure limits.
//
// A repeated top-level name that is not a typed field of the message
// becomes one [Field] holding the array of its values, in XML and JSON
// alike; a repeated typed field (for example two Content in a text
// message) is an [ErrField] error in both.
//
// # Concurrency
//
// All functions are safe for concurrent use. [Codec] and [Key] are
// immutable after construction and may be shared by any number of
// goroutines. Returned values ([Message], [Push], byte slices) are owned by
// the caller and do not alias the input body.
//
// # Errors
//
// Errors wrap one of the sentinels declared in errors.go (match them with
// [errors.Is]): [ErrFormat] and [ErrSyntax] for malformed bodies
// ([ErrLimit], an [ErrSyntax], for bodies over the structure limits);
// [ErrSignature] for a failed signature check; [ErrBase64], [ErrCiphertext],
// [ErrPadding] and [ErrLength] for a bad Encrypt value; [ErrAppID] when the
// decrypted receiveid is not the AppID; [ErrMode] for a push in a mode the
// codec does not accept, [ErrNotEncrypted] for an encrypted query without
// Encrypt and [ErrNoKey] for an encryption without a key; [ErrTimestamp] from [CheckTimestamp]; [ErrKey] and
// [ErrConfig] from [ParseKey] and [New]. Problems with a single field are
// reported as a [*FieldError] wrapping [ErrMissingField] or [ErrField]; use
// [errors.As] to get the field name. Errors never contain the token or the
// key. An HTTP handler typically answers 401 for [ErrSignature] and
// [ErrAppID], 403 for [ErrMode] and 400 for the rest.
package wxcodec
