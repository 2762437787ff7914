# kfbridge egress: bots' commands from JetStream to WeChat's API, results
# back; /healthz, /readyz and /metrics on :8081. Run as many replicas as
# needed against one NATS. Configure it with KFBRIDGE_… variables or
# --config. Build context: the staged bin/ directory (make bin).
FROM scratch
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY kfhealth egress /usr/local/bin/
ENV KFBRIDGE_EGRESS_LISTEN=0.0.0.0:8081
EXPOSE 8081
USER 65534:65534
HEALTHCHECK --interval=5s --timeout=3s --start-period=60s --retries=3 \
  CMD ["/usr/local/bin/kfhealth", "http://127.0.0.1:8081/readyz"]
ENTRYPOINT ["/usr/local/bin/egress"]
