# NATS with JetStream, built from the nats-server version go.mod pins (no
# registry needed). Build context: the staged bin/ directory (make bin).
# /etc/nats/nats.conf runs one node; /etc/nats/cluster.conf one node of a
# three-node JetStream cluster (NATS_NAME names it, peers nats-1..nats-3).
FROM scratch
COPY nats-server /usr/local/bin/nats-server
COPY kfhealth /usr/local/bin/kfhealth
COPY nats.conf cluster.conf /etc/nats/
EXPOSE 4222 6222 8222
HEALTHCHECK --interval=5s --timeout=3s --start-period=20s --retries=3 \
  CMD ["/usr/local/bin/kfhealth", "http://127.0.0.1:8222/healthz"]
ENTRYPOINT ["/usr/local/bin/nats-server"]
CMD ["--config", "/etc/nats/nats.conf"]
