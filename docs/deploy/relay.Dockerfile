# A p2pstack relay image (docs/deploy.md). Build from the repository root:
#   docker build -f docs/deploy/relay.Dockerfile -t p2pstack-relay .
FROM python:3.11-slim

COPY . /src
RUN pip install --no-cache-dir /src && rm -rf /src \
    && useradd --system --uid 10001 --home-dir /var/lib/p2pstack --create-home p2pstack \
    && chmod 0700 /var/lib/p2pstack
COPY docs/deploy/relay.toml /etc/p2pstack/relay.toml

USER p2pstack
VOLUME ["/var/lib/p2pstack"]
EXPOSE 4001/tcp
STOPSIGNAL SIGTERM

# Liveness: ping the relay itself through its own listener (its peer id comes from its key).
HEALTHCHECK --interval=30s --timeout=10s --start-period=10s --retries=3 \
    CMD p2pstack ping "/ip4/127.0.0.1/tcp/4001/p2p/$(p2pstack id --key /var/lib/p2pstack/relay.key)" --count 1 --timeout 5 --json || exit 1

ENTRYPOINT ["p2pstack"]
CMD ["relay", "--config", "/etc/p2pstack/relay.toml", "--key", "/var/lib/p2pstack/relay.key"]
