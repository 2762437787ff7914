# kfbridge: static binaries and the docker compose stack, with no registry.
#
#   make up      build ./bin, then run NATS + ingress + egress (Ctrl-C stops)
#   make demo    the same plus the simulated WeChat API and the echo bot
#   make down    stop and remove the stack's containers (add V=1 for its data)
#   make bin     only build the static binaries and stage the build context
#
# ./bin is the images' build context: the static binaries (CGO_ENABLED=0),
# nats-server at the version go.mod pins, the host's CA certificates, the
# Dockerfiles of deploy/ and the NATS configuration.

GO      ?= go
BIN     ?= bin
COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)
CA_CERTS ?= $(firstword $(wildcard /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt /etc/ssl/cert.pem))
UP_FLAGS ?=

PACKAGES = ./cmd/ingress ./cmd/egress ./cmd/kfbridge ./cmd/wxsim ./cmd/kfhealth \
	./examples/echobot/cmd/echobot github.com/nats-io/nats-server/v2

.PHONY: bin up demo down test

bin:
	@test -n "$(CA_CERTS)" || { echo "no CA certificate bundle found; set CA_CERTS=/path/to/ca-certificates.crt"; exit 1; }
	mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w' -o $(BIN)/ $(PACKAGES)
	cp $(CA_CERTS) $(BIN)/ca-certificates.crt
	cp deploy/*.Dockerfile deploy/nats/*.conf $(BIN)/

up: bin
	KFB_BIN=$(BIN) $(COMPOSE) up --build $(UP_FLAGS)

demo: bin
	KFB_BIN=$(BIN) KFB_API_BASE=http://wxsim:9100 $(COMPOSE) --profile demo up --build $(UP_FLAGS)

down:
	$(COMPOSE) --profile demo down $(if $(V),--volumes)

test:
	$(GO) test -race ./...
