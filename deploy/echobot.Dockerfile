# The example echo bot (examples/echobot): answers every user through
# kfbridge, speaking only NATS. Build context: the staged bin/ directory
# (make bin).
FROM scratch
COPY echobot /usr/local/bin/echobot
USER 65534:65534
ENTRYPOINT ["/usr/local/bin/echobot"]
CMD ["--nats", "nats://nats:4222"]
