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
// [errors.Is]): [ErrFormat] and [ErrSyntax] for malformed bodies;
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
