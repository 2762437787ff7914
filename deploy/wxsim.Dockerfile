# wxsim: the simulated WeChat API (serve, the default, on :9100) and the
# push and load commands. Build context: the staged bin/ directory
# (make bin).
FROM scratch
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY kfhealth wxsim /usr/local/bin/
EXPOSE 9100
USER 65534:65534
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/kfhealth", "http://127.0.0.1:9100/sim/clock"]
ENTRYPOINT ["/usr/local/bin/wxsim"]
CMD ["serve", "--listen", "0.0.0.0:9100"]
