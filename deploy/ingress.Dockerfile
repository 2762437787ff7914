# kfbridge ingress: WeChat's pushes on :8080 (/wx/<appid>, /healthz) into
# JetStream; the admin listener on :8082 (/healthz, /readyz, /metrics) is
# for monitoring only: publish it to the host's loopback or the monitoring
# network, never to the Internet. Configure it with KFBRIDGE_… variables
# or --config. Build context: the staged bin/ directory (make bin).
FROM scratch
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY kfhealth ingress /usr/local/bin/
ENV KFBRIDGE_INGRESS_LISTEN=0.0.0.0:8080 KFBRIDGE_INGRESS_ADMIN_LISTEN=0.0.0.0:8082
EXPOSE 8080 8082
USER 65534:65534
HEALTHCHECK --interval=5s --timeout=3s --start-period=30s --retries=3 \
  CMD ["/usr/local/bin/kfhealth", "http://127.0.0.1:8082/readyz"]
ENTRYPOINT ["/usr/local/bin/ingress"]
