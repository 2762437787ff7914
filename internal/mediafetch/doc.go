// Package mediafetch downloads the images that bots name by URL (image
// commands, card thumbnails, media.upload requests), refusing destinations
// that are not public.
//
// A URL comes from a bot, so it must not reach into the bridge's own
// network: loopback, private ranges (10/8, 172.16/12, 192.168/16, fc00::/7),
// link-local (169.254/16, where cloud metadata services answer), CGNAT,
// the other special-purpose ranges and the IPv6 forms that embed an IPv4
// address (IPv4-compatible, SIIT, NAT64, 6to4, Teredo; IPv4-mapped ones
// are checked as IPv4, and allow entries in that form mean their IPv4
// form) are refused unless listed in [Config.Allow]. The check runs when a connection is made, on the address
// actually dialled — after DNS resolution and for every redirect — so a
// name that resolves to a private address, or a DNS answer that changes
// between a check and the connection (DNS rebinding), gets no further.
// Downloads go direct, never through an HTTP proxy from the environment
// (a proxy would dial on the fetcher's behalf, unchecked).
//
// Errors never carry the response: a failed download says what went wrong
// (HTTP status, refused destination, not an image, too large, timeout) and
// names the URL without its query or user info.
//
// # Usage
//
//	f, err := mediafetch.New(mediafetch.Config{Allow: []string{"10.1.0.0/16"}})
//	img, err := f.Fetch(ctx, "https://example.com/cat.png", 2<<20)
//
// # Concurrency
//
// A [Fetcher] is safe for concurrent use.
//
// # Errors
//
// Fetch returns an [*Error]; [Error.Permanent] says whether trying again
// can help (a 4xx status, a refused destination, a body that is not an
// image or over the limit: no). [ErrNotAllowed] matches a refused
// destination.
package mediafetch
