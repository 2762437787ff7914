# Shared by the bench scripts (source it): starts cmd/ingress for the demo
# app on loopback in the background, with an embedded JetStream storing in
# STORE at fsync interval SYNC.
#
#   start_ingress BINARY PORT ADMIN_PORT STORE LOG   # sets $! to its pid
start_ingress() {
	KFBRIDGE_LOG_LEVEL=warn \
		KFBRIDGE_INGRESS_LISTEN=127.0.0.1:$2 \
		KFBRIDGE_INGRESS_ADMIN_LISTEN=127.0.0.1:$3 \
		KFBRIDGE_NATS_EMBEDDED_LISTEN=127.0.0.1:-1 \
		KFBRIDGE_NATS_EMBEDDED_SYNC="$SYNC" \
		KFBRIDGE_NATS_EMBEDDED_STORE_DIR="$4" \
		KFBRIDGE_APPS_0_APPID=wxkfbridgedemo01 \
		KFBRIDGE_APPS_0_TOKEN=kfbridgedemotoken \
		KFBRIDGE_APPS_0_ENCODING_AES_KEY=kfbridgeDemoEncodingAESKey0123456789abcdefg \
		"$1" >"$5" 2>&1 &
}
