# NATS with JetStream, built from the nats-server version go.mod pins (no
# registry needed), running as nobody (65534) with its store in /data,
# which belongs to nobody (a new named volume there takes that ownership).
# Build context: the staged bin/ directory (make bin), where nats-data is an
# empty directory.
#
# /etc/nats/secure.conf, the default, runs one node with kfbridge's accounts
# (accounts.conf: every password from the environment, see the file);
# /etc/nats/secure-cluster.conf one node of a secured three-node cluster
# (docker-compose.cluster.yml). nats.conf and cluster.conf are the same
# without authentication, for the integration tests only.
FROM scratch
COPY nats-server /usr/local/bin/nats-server
COPY kfhealth /usr/local/bin/kfhealth
COPY nats.conf cluster.conf secure.conf secure-cluster.conf accounts.conf /etc/nats/
COPY --chown=65534:65534 nats-data /data
USER 65534:65534
EXPOSE 4222 6222 8222
HEALTHCHECK --interval=5s --timeout=3s --start-period=20s --retries=3 \
  CMD ["/usr/local/bin/kfhealth", "http://127.0.0.1:8222/healthz"]
ENTRYPOINT ["/usr/local/bin/nats-server"]
CMD ["--config", "/etc/nats/secure.conf"]
