# kfbridge: static binaries and the docker compose stack, with no registry.
#
#   make up      build ./bin, then run NATS + ingress + egress (Ctrl-C stops)
#   make demo    the same plus the simulated WeChat API and the echo bot
#   make cluster three NATS nodes, two ingress, three egress (DEMO=1: and wxsim, echo bot)
#   make down    stop and remove the stack's containers (add V=1 for its data)
#   make bin     only build the static binaries and stage the build context
#   make secrets write .env with random NATS passwords, unless it exists
#
# The stacks are secured: NATS requires users (deploy/nats/accounts.conf),
# whose passwords docker-compose.yml takes from .env; up, demo and cluster
# run `make secrets` first. TLS=/dir adds docker-compose.tls.yml (cluster:
# docker-compose.cluster.tls.yml) with the certificate in /dir (README, "A
# secured compose stack").
#
# ./bin is the images' build context: the static binaries (CGO_ENABLED=0),
# nats-server at the version go.mod pins, the host's CA certificates, the
# Dockerfiles of deploy/ and the NATS configuration.

GO      ?= go
BIN     ?= bin
COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)
CA_CERTS ?= $(firstword $(wildcard /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt /etc/ssl/cert.pem))
UP_FLAGS ?=
TLS ?=
ENV_FILE ?= .env
# The passwords of deploy/nats/accounts.conf (and the cluster's routes).
SECRETS = KFB_NATS_BRIDGE_PASSWORD KFB_NATS_OPS_PASSWORD KFB_NATS_SYS_PASSWORD \
	KFB_NATS_ECHOBOT_PASSWORD KFB_NATS_ROUTE_PASSWORD
TLS_FILES = $(if $(TLS),-f docker-compose.tls.yml)
TLS_ENV = $(if $(TLS),KFB_NATS_TLS_DIR=$(abspath $(TLS)))

PACKAGES = ./cmd/ingress ./cmd/egress ./cmd/kfbridge ./cmd/wxsim ./cmd/kfhealth \
	./examples/echobot/cmd/echobot github.com/nats-io/nats-server/v2

.PHONY: bin up demo cluster down secrets test

bin:
	@test -n "$(CA_CERTS)" || { echo "no CA certificate bundle found; set CA_CERTS=/path/to/ca-certificates.crt"; exit 1; }
	mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w' -o $(BIN)/ $(PACKAGES)
	cp $(CA_CERTS) $(BIN)/ca-certificates.crt
	cp deploy/*.Dockerfile deploy/nats/*.conf $(BIN)/
	mkdir -p $(BIN)/nats-data

# Random passwords: a letter, then 32 hex digits (nats-server reads them as
# configuration values, README). An existing file is kept.
secrets:
	@test -e $(ENV_FILE) || { umask 077; \
	  echo "# NATS passwords of kfbridge's compose stacks (make secrets). Keep this file private." > $(ENV_FILE); \
	  for v in $(SECRETS); do echo "$$v=p$$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')" >> $(ENV_FILE); done; \
	  echo "wrote $(ENV_FILE) with new random NATS passwords"; }

up: bin secrets
	KFB_BIN=$(BIN) $(TLS_ENV) $(COMPOSE) -f docker-compose.yml $(TLS_FILES) up --build $(UP_FLAGS)

demo: bin secrets
	KFB_BIN=$(BIN) $(TLS_ENV) KFB_API_BASE=http://wxsim:9100 $(COMPOSE) -f docker-compose.yml $(TLS_FILES) --profile demo up --build $(UP_FLAGS)

cluster: bin secrets
	KFB_BIN=$(BIN) $(if $(DEMO),KFB_API_BASE=http://wxsim:9100) $(TLS_ENV) $(COMPOSE) -p kfbridge-cluster -f docker-compose.cluster.yml $(if $(TLS),-f docker-compose.cluster.tls.yml) $(if $(DEMO),--profile demo) up --build $(UP_FLAGS)

down: secrets
	$(COMPOSE) --profile demo down $(if $(V),--volumes)
	$(COMPOSE) -p kfbridge-cluster -f docker-compose.cluster.yml --profile demo down $(if $(V),--volumes)

test:
	$(GO) test -race ./...
