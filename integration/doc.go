// Package integration holds kfbridge's end-to-end tests: the real binaries
// in the images the repository builds (deploy/, docker-compose.yml), real
// NATS servers, and wxsim as WeChat. It has no code of its own; everything
// is in its tests, which `go test -race ./...` runs with the rest.
//
// # Usage
//
//	go test -race ./integration/                      # with the rest: go test -race ./...
//	go test -v -run TestClusterFailover ./integration/ # one test, with its figures
//
// The tests need a Docker daemon but no registry: nothing is pulled. The
// first test to run builds the static binaries (CGO_ENABLED=0 go build, also
// nats-server at the version go.mod pins) into a temporary directory, stages
// them with the Dockerfiles of deploy/ and the host's CA certificates, and
// builds FROM scratch images with testcontainers-go (FromDockerfile, kept for
// the whole run under a per-run tag and removed at its end). testcontainers'
// reaper is an image too, so TESTCONTAINERS_RYUK_DISABLED=true is set, and
// every test removes its own containers and networks. No test uses host port
// access (it pulls an sshd image): the tests reach the containers through
// their published ports, and the containers reach each other by network
// alias. (When /.dockerenv exists testcontainers assumes a sibling container
// and uses the Docker network's gateway; the suite checks that address with
// a probe container and falls back to 127.0.0.1, unless
// TESTCONTAINERS_HOST_OVERRIDE is set.) Without a Docker daemon the tests
// skip, or fail when KFBRIDGE_REQUIRE_DOCKER=1 (CI).
//
// The tests:
//
//   - TestRoundTrip: pushes in every format, mode and kind through the
//     ingress, a test bot answering on NATS, the egress, the simulated
//     WeChat API, results.
//   - TestNATSOutageAtIngress: NATS stopped and started again while WeChat
//     retries (about three tries, 5 s apart).
//   - TestEgressReplicaLoss: three egress replicas, one killed while it holds
//     unacknowledged commands.
//   - TestClusterFailover: a three-node JetStream cluster with R3 streams;
//     the node leading the streams is killed under load and restarted.
//   - TestComposeStack: the committed docker-compose.yml, demo profile,
//     brought up with the installed Compose CLI, and its round trip with
//     the echo bot's account; what secures it: no root process, no client
//     without a password, a bot account that cannot read the token bucket,
//     another bot's consumer, or create one; ports on loopback only.
//   - TestComposeTLS: the same with docker-compose.tls.yml and a throwaway
//     certificate: TLS required, the round trip over it.
//   - TestComposeCluster: docker-compose.cluster.yml (three secured NATS
//     nodes, two ingress, three egress) and a round trip through each
//     ingress; TestComposeClusterTLS with docker-compose.cluster.tls.yml.
//   - TestComposeRefusesWithoutPasswords: every compose file, with `config`
//     (no daemon needed), refuses while a NATS password is unset.
//
// # Concurrency
//
// The tests run one after the other (none calls t.Parallel): the timing
// assertions — WeChat's 5 s, leader elections, AckWait — need the machine's
// cores. Every wait is bounded by a count and a deadline.
//
// # Errors
//
// A test that fails logs the tail of its containers' logs.
package integration
