# kfbridge ingress: WeChat's pushes on :8080 (/wx/<appid>; /healthz,
# /readyz, /metrics) into JetStream. Configure it with KFBRIDGE_…
# variables or --config. Build context: the staged bin/ directory (make bin).
FROM scratch
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY kfhealth ingress /usr/local/bin/
ENV KFBRIDGE_INGRESS_LISTEN=0.0.0.0:8080
EXPOSE 8080
USER 65534:65534
HEALTHCHECK --interval=5s --timeout=3s --start-period=30s --retries=3 \
  CMD ["/usr/local/bin/kfhealth", "http://127.0.0.1:8080/readyz"]
ENTRYPOINT ["/usr/local/bin/ingress"]
